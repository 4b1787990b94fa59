"""Data augmentation for small labelled image sets (tables: :mod:`genlearn.tabular`)."""

from . import classic, deform
from .classic import Affine, Elastic, Rotate, Thickness, transformed_copies
from .images import (
                     ImageAugmenter,
                     pixel_shifts,
                     same_class_interpolations,
                     same_class_morphs,
                     same_class_pairs,
)

__all__ = ["Affine", "Elastic", "ImageAugmenter", "Rotate", "Thickness", "classic", "deform",
           "pixel_shifts", "same_class_interpolations", "same_class_morphs", "same_class_pairs",
           "transformed_copies"]
