"""scikit-learn's bundled 8x8 handwritten digits: the data set that is always available offline."""

from __future__ import annotations

import numpy as np

from ._core import Dataset

# Pixel intensities in sklearn's digits are counts of "on" pixels in a 4x4 block: 0..16.
_MAX_INTENSITY = 16.0


def load_digits() -> Dataset:
    """The 1,797 8x8 digit images of :func:`sklearn.datasets.load_digits`, scaled to [0, 1].

    Returns
    -------
    Dataset
        ``X`` float64 of shape (1797, 64) (the original 0..16 values divided by 16), ``y`` the
        digit labels 0..9 as int64, ``image_shape=(8, 8)``, ``domain="unit"``.
    """
    from sklearn.datasets import load_digits as _sk_load_digits

    raw = _sk_load_digits()
    X = np.asarray(raw.data, dtype=np.float64) / _MAX_INTENSITY
    y = np.asarray(raw.target, dtype=np.int64)
    return Dataset(X=X, y=y, name="digits", image_shape=(8, 8), domain="unit")
