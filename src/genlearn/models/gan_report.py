"""What a GAN reports about itself: sample-based metrics and per-epoch pictures.

A GAN defines no likelihood, so it is judged by its samples: the Fréchet distance and
precision / recall / density / coverage (k = 5) against held-out rows, in their standardised
columns (``genlearn.metrics``), and pictures of samples after every epoch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._utils import check_array


def sample_metrics(model, X, y=None, *, seed=0) -> dict:
    """Fréchet distance and PRDC of ``len(X)`` samples against the held-out rows ``X``."""
    from ..metrics import StandardizedFeatures, frechet_distance, prdc

    model._check_fitted()
    flat, _ = check_array(X, n_features=model.n_features_in_, owner=type(model).__name__)
    n = flat.shape[0]
    fake = model.sample(n, y=y, seed=seed).reshape(n, -1)
    space = StandardizedFeatures(flat)
    real_f, fake_f = space(flat), space(fake)
    out = {"estimator": model.log_prob_estimator(), "n": int(n),
           "features": space.describe(), "frechet_distance": frechet_distance(real_f, fake_f)}
    if n > 5:
        out.update(prdc(real_f, fake_f, k=5))
    return out


def write_snapshot(model, folder, epoch: int) -> None:
    """A grid of 64 samples (images) or a scatter plot of 1,000 (2-D data) after ``epoch``."""
    from .. import viz

    path = Path(folder) / f"epoch_{epoch:04d}.png"
    n = 64 if model.image_shape_ is not None else 1000
    y = None if model.classes_ is None else np.resize(model.classes_, n)
    if model.image_shape_ is not None:
        viz.save_image_grid(model.sample(n, y=y, seed=0), path, image_shape=model.image_shape_,
                            title=f"epoch {epoch}")
    else:
        viz.save_scatter(model.sample(n, y=y, seed=0), path, title=f"epoch {epoch}")
