"""The picture writers: they write real PNG files, and refuse data of the wrong shape
without leaving a file behind."""

import numpy as np
import pytest

from genlearn import viz
from genlearn.datasets import toy2d_modes, toy2d_std

PNG = b"\x89PNG\r\n\x1a\n"


def test_scatter_with_modes_and_reference_is_a_png(tmp_path):
    rng = np.random.default_rng(0)
    modes = toy2d_modes("ring")
    pts = modes[rng.integers(8, size=500)] + 0.02 * rng.standard_normal((500, 2))
    path = viz.save_scatter(pts, tmp_path / "s.png", title="ring", modes=modes,
                            radius=3 * toy2d_std("ring"), reference=pts[::-1])
    assert path.read_bytes()[:8] == PNG


def test_bad_shapes_are_refused_and_write_nothing(tmp_path):
    with pytest.raises(ValueError, match=r"\(n, 2\) points; got shape \(5, 3\)"):
        viz.save_scatter(np.zeros((5, 3)), tmp_path / "a.png")
    with pytest.raises(ValueError, match=r"\(n, H, W\) images"):
        viz.save_image_grid(np.zeros((5, 7)), tmp_path / "b.png")
    assert list(tmp_path.iterdir()) == []


def test_image_grid_is_a_png(tmp_path):
    images = np.random.default_rng(0).random((10, 8, 8))
    assert viz.save_image_grid(images, tmp_path / "g.png").read_bytes()[:8] == PNG
