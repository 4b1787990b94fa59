"""The picture writers: read each PNG back and check what it shows (tile count, colours,
panels), and that data of the wrong shape is refused without leaving a file behind."""

import numpy as np
import pytest
from matplotlib.image import imread
from scipy import ndimage

from genlearn import viz
from genlearn.datasets import toy2d_modes, toy2d_std

TAB_BLUE = np.array([0.122, 0.467, 0.706])


def _rgb(path):
    img = imread(path)  # (H, W, 4) floats in [0, 1] for a PNG
    assert img.ndim == 3 and img.shape[2] in (3, 4)
    return img[..., :3]


def _share_near(rgb, colour, tol=0.12):
    """Share of pixels within ``tol`` (per channel) of ``colour``."""
    return float(np.mean(np.all(np.abs(rgb - colour) < tol, axis=-1)))


def _bluish(rgb):
    return rgb[..., 2] - rgb[..., 0] > 0.2  # samples: tab:blue, half transparent on white


def _reddish(rgb):
    return rgb[..., 0] - np.maximum(rgb[..., 1], rgb[..., 2]) > 0.25  # mode circles: tab:red


# -- image grids -------------------------------------------------------------------------------
def test_image_grid_places_every_image_in_its_tile():
    rng = np.random.default_rng(0)
    images = rng.random((10, 3, 5))
    grid = viz.image_grid(images, pad=1, fill=0.15)
    # ceil(sqrt(10)) = 4 columns, 3 rows of (3 + 1) x (5 + 1) cells, less the last pad
    assert grid.shape == (3 * 4 - 1, 4 * 6 - 1)
    for i in range(10):
        r, c = divmod(i, 4)
        np.testing.assert_array_equal(grid[4 * r: 4 * r + 3, 6 * c: 6 * c + 5], images[i])
    mask = np.ones(grid.shape, bool)
    for i in range(10):
        r, c = divmod(i, 4)
        mask[4 * r: 4 * r + 3, 6 * c: 6 * c + 5] = False
    assert np.all(grid[mask] == 0.15)  # gaps and the two empty cells


@pytest.mark.parametrize("n", [1, 7, 16])
def test_image_grid_png_shows_one_dark_tile_per_image(tmp_path, n):
    ink = np.ones((n, 6, 6))  # 1 = full ink: black under gray_r, on light-grey gaps
    rgb = _rgb(viz.save_image_grid(ink, tmp_path / "g.png"))
    dark = rgb.mean(axis=-1) < 0.5
    _, tiles = ndimage.label(dark)
    assert tiles == n
    blank = _rgb(viz.save_image_grid(np.zeros((n, 6, 6)), tmp_path / "b.png"))
    assert blank.mean() > rgb.mean() + 0.3  # empty paper is white, ink is dark


def test_image_grid_png_takes_ncols(tmp_path):
    ink = np.ones((20, 6, 6))
    dark = _rgb(viz.save_image_grid(ink, tmp_path / "g.png", ncols=10)).mean(axis=-1) < 0.5
    labels, tiles = ndimage.label(dark)
    assert tiles == 20
    rows = {round(sl[0].start / dark.shape[0], 1) for sl in ndimage.find_objects(labels)}
    assert len(rows) == 2  # two rows of ten, where the default would be five rows of four


def test_image_grid_png_follows_the_image_content(tmp_path):
    half = np.zeros((4, 8, 8))
    half[:, :, :4] = 1.0  # left half inked
    rgb = _rgb(viz.save_image_grid(half, tmp_path / "h.png")).mean(axis=-1)
    _, tiles = ndimage.label(rgb < 0.5)
    assert tiles == 4
    rows, cols = np.nonzero(rgb < 0.5)
    # each dark blob is half a tile: taller than wide
    assert (rows.max() - rows.min()) > (cols.max() - cols.min()) / 2


def test_real_valued_images_are_rescaled_not_clipped(tmp_path):
    ramp = np.linspace(-5, 5, 64).reshape(1, 8, 8)
    grey = _rgb(viz.save_image_grid(ramp, tmp_path / "r.png")).mean(axis=-1)
    levels = np.unique(np.round(grey, 2))
    assert levels.size > 20  # a ramp of greys, not two clipped levels


# -- scatter plots -----------------------------------------------------------------------------
def test_scatter_draws_samples_circles_and_reference(tmp_path):
    rng = np.random.default_rng(0)
    modes = toy2d_modes("ring")
    pts = modes[rng.integers(8, size=500)] + 0.02 * rng.standard_normal((500, 2))
    with_all = _rgb(viz.save_scatter(pts, tmp_path / "s.png", title="ring", modes=modes,
                                     radius=3 * toy2d_std("ring"), reference=pts[::-1]))
    plain = _rgb(viz.save_scatter(pts, tmp_path / "p.png"))
    _, circles = ndimage.label(ndimage.binary_dilation(_reddish(with_all), iterations=2))
    assert circles == 8  # one circle per mode of the ring
    assert not _reddish(plain).any()
    assert _bluish(plain).mean() > 0.001  # the samples
    grey = np.all(np.abs(with_all - 0.6) < 0.15, axis=-1) & ~_bluish(with_all)
    assert grey.sum() > np.all(np.abs(plain - 0.6) < 0.15, axis=-1).sum()  # the data, light


def test_scatter_points_land_where_they_are(tmp_path):
    left = np.column_stack([np.full(200, -1.0), np.linspace(-1, 1, 200)])
    right = np.column_stack([np.full(200, 1.0), np.linspace(-1, 1, 200)])
    a = _rgb(viz.save_scatter(np.vstack([left, right]), tmp_path / "a.png"))
    cols = np.nonzero(_bluish(a).any(axis=0))[0]
    # two vertical lines of points: two separate runs of blue columns
    runs = 1 + int(np.sum(np.diff(cols) > 1))
    assert runs == 2


# -- training curves ---------------------------------------------------------------------------
def test_training_curve_has_one_panel_per_metric(tmp_path):
    history = [{"epoch": e, "loss": 1.0 / e, "elbo": -1.0 / e, "kl": 0.1 * e, "time": 0.1}
               for e in range(1, 11)]
    one = _rgb(viz.save_training_curve(history, tmp_path / "1.png", keys=["kl"]))
    auto = _rgb(viz.save_training_curve(history, tmp_path / "a.png"))  # elbo, kl: loss skipped
    three = _rgb(viz.save_training_curve(history, tmp_path / "3.png",
                                         keys=["loss", "elbo", "kl"]))
    assert 1.6 < auto.shape[1] / one.shape[1] < 2.4
    assert 2.4 < three.shape[1] / one.shape[1] < 3.6
    assert _share_near(one, TAB_BLUE, tol=0.2) > 0.0005  # the curve itself


def test_bad_shapes_are_refused_and_write_nothing(tmp_path):
    with pytest.raises(ValueError, match=r"\(n, 2\) points; got shape \(5, 3\)"):
        viz.save_scatter(np.zeros((5, 3)), tmp_path / "a.png")
    with pytest.raises(ValueError, match=r"\(n, H, W\) images"):
        viz.save_image_grid(np.zeros((5, 7)), tmp_path / "b.png")
    with pytest.raises(ValueError, match="history is empty"):
        viz.save_training_curve([], tmp_path / "c.png")
    assert list(tmp_path.iterdir()) == []
