"""Data augmentation for small labelled image sets (tables: :mod:`genlearn.tabular`)."""

from . import deform
from .images import (
                     ImageAugmenter,
                     pixel_shifts,
                     same_class_interpolations,
                     same_class_morphs,
                     same_class_pairs,
)

__all__ = ["ImageAugmenter", "deform", "pixel_shifts", "same_class_interpolations",
           "same_class_morphs", "same_class_pairs"]
