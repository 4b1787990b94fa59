"""Pictures: grids of generated images and training curves, written atomically as PNG."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .io import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)  # no screen needed
    import matplotlib.pyplot as plt

    return plt


def _save_figure(fig, path) -> Path:
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=100, bbox_inches="tight", format="png")
    finally:
        _pyplot().close(fig)
    return Path(path)


def image_grid(images: np.ndarray, ncols: int | None = None, pad: int = 1,
               fill: float = 0.15) -> np.ndarray:
    """Tile (n, H, W) images into one (rows*(H+pad)-pad, cols*(W+pad)-pad) array.

    The gaps get ``fill`` (light grey under the ``gray_r`` map, where 0 is white paper).
    """
    images = np.asarray(images, dtype=np.float64)
    n, h, w = images.shape
    ncols = ncols or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    grid = np.full((nrows * (h + pad) - pad, ncols * (w + pad) - pad), fill)
    for i, img in enumerate(images):
        r, c = divmod(i, ncols)
        grid[r * (h + pad): r * (h + pad) + h, c * (w + pad): c * (w + pad) + w] = img
    return grid


def save_image_grid(images, path, image_shape: tuple[int, int] | None = None,
                    ncols: int | None = None, title: str | None = None) -> Path:
    """Write a PNG grid of images (white background, dark strokes as in the data)."""
    images = np.asarray(images, dtype=np.float64)
    if image_shape is not None:
        images = images.reshape(images.shape[0], *image_shape)
    if images.ndim != 3:
        raise ValueError(f"an image grid needs (n, H, W) images; got shape {images.shape}")
    lo, hi = float(images.min()), float(images.max())
    if lo < 0.0 or hi > 1.0:  # real-valued data: show the range that is there
        images = (images - lo) / (hi - lo if hi > lo else 1.0)
    grid = image_grid(images, ncols)
    plt = _pyplot()
    scale = max(2.0, min(10.0, grid.shape[1] / 12))
    fig, ax = plt.subplots(figsize=(scale, scale * grid.shape[0] / grid.shape[1]))
    ax.imshow(grid, cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return _save_figure(fig, path)


def save_scatter(points, path, title: str | None = None, modes=None,
                 radius: float | None = None, reference=None) -> Path:
    """Write a PNG scatter plot of 2-D points (e.g. samples of the ring or grid mixture).

    ``modes`` (K, 2) and ``radius``: circles of that radius around the known centres (the
    mode-coverage "high quality" radius, 3 std); ``reference``: real points drawn lightly
    underneath, for comparison.
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"a scatter plot needs (n, 2) points; got shape {pts.shape}")
    fig, ax = _pyplot().subplots(figsize=(4.5, 4.5))
    draw_scatter(ax, pts, modes=modes, radius=radius, reference=reference)
    if title:
        ax.set_title(title, fontsize=9)
    return _save_figure(fig, path)


def draw_scatter(ax, points, modes=None, radius: float | None = None, reference=None) -> None:
    """Draw :func:`save_scatter`'s picture on a matplotlib axis (for figures of several)."""
    from matplotlib.patches import Circle

    pts = np.asarray(points, dtype=np.float64)
    if reference is not None:
        ref = np.asarray(reference, dtype=np.float64)
        ax.scatter(ref[:, 0], ref[:, 1], s=2, alpha=0.25, color="0.6", label="data")
    ax.scatter(pts[:, 0], pts[:, 1], s=2, alpha=0.5, color="tab:blue", label="samples")
    if modes is not None and radius is not None:
        for c in np.asarray(modes, dtype=np.float64):
            ax.add_patch(Circle(c, radius, fill=False, color="tab:red", lw=0.8))
    ax.set_aspect("equal")
    if reference is not None:
        ax.legend(loc="upper right", fontsize=7, markerscale=4)


def save_training_curve(history: list[dict], path, keys: list[str] | None = None,
                        title: str | None = None) -> Path:
    """Plot per-epoch metrics from ``history_`` (one panel per metric) to a PNG."""
    if not history:
        raise ValueError("the history is empty: nothing to plot")
    skip = {"epoch", "time"}
    if any(k in history[0] for k in ("elbo", "iwae_bound")):
        skip.add("loss")  # the loss is minus the bound: one panel is enough
    keys = keys or [k for k in history[0] if k not in skip]
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3), squeeze=False)
    epochs = [r["epoch"] for r in history]
    for ax, key in zip(axes[0], keys, strict=True):
        ax.plot(epochs, [r.get(key, float("nan")) for r in history], lw=1.2)
        ax.set_xlabel("epoch")
        ax.set_title(key, fontsize=10)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return _save_figure(fig, path)
