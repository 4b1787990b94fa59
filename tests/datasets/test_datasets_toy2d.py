"""genlearn.datasets.toy2d: the 2-D mixtures used to measure GAN mode coverage, and friends."""

import itertools

import numpy as np
import pytest
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from genlearn.datasets import TOY2D_NAMES, load, toy2d, toy2d_modes, toy2d_std


def test_ring_modes_and_std():
    centres = toy2d_modes("ring")
    assert centres.shape == (8, 2)
    np.testing.assert_allclose(np.linalg.norm(centres, axis=1), 2.0)
    angles = np.sort(np.mod(np.arctan2(centres[:, 1], centres[:, 0]), 2 * np.pi))
    np.testing.assert_allclose(np.diff(angles), 2 * np.pi / 8)
    assert toy2d_std("ring") == 0.02


def test_grid_modes_and_std():
    centres = toy2d_modes("grid")
    assert centres.shape == (25, 2)
    expected = set(itertools.product([-4.0, -2.0, 0.0, 2.0, 4.0], repeat=2))
    assert {tuple(c) for c in centres.tolist()} == expected
    assert toy2d_std("grid") == 0.05


@pytest.mark.parametrize("name", ["moons", "spirals", "circles", "bogus"])
def test_modes_only_for_mixtures(name):
    with pytest.raises(ValueError, match="ring"):
        toy2d_modes(name)
    with pytest.raises(ValueError, match="ring"):
        toy2d_std(name)


@pytest.mark.parametrize("name, k, std", [("ring", 8, 0.02), ("grid", 25, 0.05)])
def test_mixture_samples_cluster_around_their_modes(name, k, std):
    data = toy2d(name, n_samples=10_000, seed=0)
    assert data.X.shape == (10_000, 2) and data.X.dtype == np.float64
    assert data.y.dtype == np.int64 and data.domain == "real" and data.image_shape is None
    centres = toy2d_modes(name)
    offsets = data.X - centres[data.y]
    # Every point lies within 5 std of the centre of the mode it was drawn from ...
    assert np.linalg.norm(offsets, axis=1).max() < 5 * std
    # ... which is also its nearest centre, and the spread matches the advertised std.
    nearest = np.argmin(((data.X[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(nearest, data.y)
    np.testing.assert_allclose(offsets.std(axis=0), std, rtol=0.05)
    np.testing.assert_allclose(offsets.mean(axis=0), 0.0, atol=std / 10)
    # Every mode is used, about equally often.
    counts = np.bincount(data.y, minlength=k)
    assert counts.min() > 0.8 * 10_000 / k


@pytest.mark.parametrize("name", ["moons", "spirals", "circles"])
def test_two_class_shapes_are_structured(name):
    data = toy2d(name, n_samples=2000, seed=0)
    assert data.X.shape == (2000, 2) and np.isfinite(data.X).all()
    assert set(data.y.tolist()) == {0, 1} and data.domain == "real"
    # The two classes are separate curves, not overlapping blobs: nearest neighbours tell them
    # apart almost perfectly (shuffled labels would give about 50%).
    accuracy = cross_val_score(KNeighborsClassifier(5), data.X, data.y, cv=3).mean()
    assert accuracy > 0.95


def test_spiral_arms_are_point_symmetric():
    data = toy2d("spirals", n_samples=20_000, seed=0)
    radius = np.linalg.norm(data.X, axis=1)
    assert 2.5 < radius.max() < 4.0
    # The second arm is the first turned by 180 degrees: matching radial profiles.
    r0, r1 = np.sort(radius[data.y == 0]), np.sort(radius[data.y == 1])
    q = np.linspace(0.05, 0.95, 10)
    np.testing.assert_allclose(np.quantile(r0, q), np.quantile(r1, q), atol=0.1)


@pytest.mark.parametrize("name", TOY2D_NAMES)
def test_seeded(name):
    a, b, c = toy2d(name, 500, seed=1), toy2d(name, 500, seed=1), toy2d(name, 500, seed=2)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.X, c.X)


@pytest.mark.parametrize("n", [0, -5, 2.5, True])
def test_invalid_n_samples(n):
    with pytest.raises(ValueError, match="n_samples"):
        toy2d("ring", n_samples=n)


def test_unknown_toy_name():
    with pytest.raises(ValueError, match="ring"):
        toy2d("swissroll")


def test_through_load():
    train, test = load("ring", n_samples=1000, seed=0)  # split="auto": 0.8
    assert (len(train), len(test)) == (800, 200) and train.name == "ring"
    full = load("grid", split=None, n_samples=500, seed=3)
    np.testing.assert_array_equal(full.X, toy2d("grid", 500, seed=3).X)
    assert len(load("moons", split=None)) == 10_000  # the default n_samples
