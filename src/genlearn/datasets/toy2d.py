"""Generated 2-D data sets for mode-coverage experiments (GANs) and quick visual checks.

``"ring"`` and ``"grid"`` are the Gaussian mixtures used by VEEGAN (Srivastava et al., 2017) and
PacGAN (Lin et al., 2018): 8 modes on a circle of radius 2 with std 0.02, and 25 modes on the
grid {-4, -2, 0, 2, 4}^2 with std 0.05. :func:`toy2d_modes` and :func:`toy2d_std` expose their
centres and spread so mode-coverage metrics use the same numbers as the generator.
"""

from __future__ import annotations

import itertools
import numbers

import numpy as np

from ._core import Dataset, check_seed

_RING_MODES = 8
_RING_RADIUS = 2.0
_GRID_VALUES = (-4.0, -2.0, 0.0, 2.0, 4.0)
_MOONS_NOISE = 0.05
_CIRCLES_NOISE = 0.05
_CIRCLES_FACTOR = 0.5
_SPIRAL_TURNS = 1.5  # each arm winds 1.5 times (540 degrees) around the origin
_SPIRAL_SCALE = 1.0 / 3.0  # brings the outer end to radius ~3, like the other sets
_SPIRAL_NOISE = 0.1


def _ring_centres() -> np.ndarray:
    angles = 2.0 * np.pi * np.arange(_RING_MODES) / _RING_MODES
    return _RING_RADIUS * np.column_stack([np.cos(angles), np.sin(angles)])


def _grid_centres() -> np.ndarray:
    return np.array(list(itertools.product(_GRID_VALUES, _GRID_VALUES)), dtype=np.float64)


# Gaussian-mixture sets: name -> (centres function, per-coordinate std of every mode).
_MIXTURES = {
    "ring": (_ring_centres, 0.02),
    "grid": (_grid_centres, 0.05),
}


def _mixture_entry(name: str):
    try:
        return _MIXTURES[name]
    except KeyError:
        raise ValueError(f"toy2d data set {name!r} has no discrete Gaussian modes; mode centres "
                         f"and std are defined for {' and '.join(map(repr, _MIXTURES))} "
                         "only") from None


def toy2d_modes(name: str) -> np.ndarray:
    """Centres of the Gaussian modes of a mixture data set.

    Parameters
    ----------
    name : {"ring", "grid"}

    Returns
    -------
    numpy.ndarray of shape (K, 2)
        Row ``k`` is the centre of mode ``k``, the label ``y == k`` that :func:`toy2d` gives to
        samples drawn from it. ``K`` is 8 for ``"ring"`` and 25 for ``"grid"`` (row-major over
        x then y).
    """
    centres, _ = _mixture_entry(name)
    return centres()


def toy2d_std(name: str) -> float:
    """Per-coordinate standard deviation of every mode: 0.02 (``"ring"``), 0.05 (``"grid"``)."""
    _, std = _mixture_entry(name)
    return std


def known_modes(data) -> tuple[np.ndarray, float] | None:
    """(centres, std) when ``data`` (a :class:`Dataset`) is a 2-D mixture with known Gaussian
    modes (``"ring"``, ``"grid"``), else None: the input of ``genlearn.metrics.mode_coverage``."""
    if data.name not in TOY2D_NAMES or data.n_features != 2:
        return None
    try:
        return toy2d_modes(data.name), toy2d_std(data.name)
    except ValueError:  # moons, spirals: no Gaussian modes
        return None


def _mixture(name: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = toy2d_modes(name)
    y = rng.integers(len(centres), size=n)
    X = centres[y] + toy2d_std(name) * rng.standard_normal((n, 2))
    return X, y


def _spirals(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(2, size=n)
    # sqrt makes the density along the arm roughly uniform per unit length (arc grows with t).
    t = np.sqrt(rng.random(n)) * (2.0 * np.pi * _SPIRAL_TURNS)
    arm = np.column_stack([-t * np.cos(t), t * np.sin(t)]) * _SPIRAL_SCALE
    sign = np.where(y == 0, 1.0, -1.0)[:, None]  # the second arm is the first turned by 180 deg
    X = sign * arm + _SPIRAL_NOISE * rng.standard_normal((n, 2))
    return X, y


def _moons(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_moons

    return make_moons(n_samples=n, noise=_MOONS_NOISE, random_state=seed)


def _circles(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_circles

    return make_circles(n_samples=n, noise=_CIRCLES_NOISE, factor=_CIRCLES_FACTOR,
                        random_state=seed)


# name -> generator(n, seed) returning (X, y).
_GENERATORS = {
    "ring": lambda n, seed: _mixture("ring", n, seed),
    "grid": lambda n, seed: _mixture("grid", n, seed),
    "moons": _moons,
    "spirals": _spirals,
    "circles": _circles,
}
TOY2D_NAMES = tuple(_GENERATORS)


def toy2d(name: str, n_samples: int = 10_000, seed: int = 0) -> Dataset:
    """Draw a 2-D toy data set.

    Parameters
    ----------
    name : {"ring", "grid", "moons", "spirals", "circles"}
        ``"ring"``: 8 Gaussians (std 0.02) evenly on a circle of radius 2; ``"grid"``: 25
        Gaussians (std 0.05) at {-4, -2, 0, 2, 4}^2; ``"moons"``: scikit-learn's two half
        circles (noise 0.05); ``"spirals"``: two interleaved spiral arms (noise 0.1);
        ``"circles"``: scikit-learn's two concentric circles (factor 0.5, noise 0.05).
    n_samples : int, default 10_000
        Total number of points.
    seed : int, default 0
        Seed for the random draw; the same seed gives the same points.

    Returns
    -------
    Dataset
        ``X`` float64 (n_samples, 2), ``y`` int64 the mode (ring, grid), moon, arm or circle
        index, ``image_shape=None``, ``domain="real"``.
    """
    if name not in _GENERATORS:
        raise ValueError(f"unknown toy2d data set {name!r}; choose one of {', '.join(TOY2D_NAMES)}")
    if (isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral)
            or n_samples < 1):
        raise ValueError(f"n_samples must be a positive integer; got {n_samples!r}")
    X, y = _GENERATORS[name](int(n_samples), check_seed(seed))
    return Dataset(X=np.asarray(X, dtype=np.float64), y=np.asarray(y, dtype=np.int64), name=name,
                   image_shape=None, domain="real")
