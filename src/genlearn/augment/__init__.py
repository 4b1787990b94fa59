"""Data augmentation for small labelled image sets (tables: :mod:`genlearn.tabular`)."""

from .images import ImageAugmenter, pixel_shifts, same_class_interpolations

__all__ = ["ImageAugmenter", "pixel_shifts", "same_class_interpolations"]
