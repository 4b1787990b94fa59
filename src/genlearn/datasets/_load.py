"""``load``: one entry point for registered data sets and the user's own files.

Registered names map to loaders in ``_SOURCES`` (a read-only dict, no ``if name == ...``
chain); anything else is taken as a path. Every source then goes through the same binarize and
split steps from :mod:`._core`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from ._core import (
    Dataset,
    binarize_dataset,
    check_binarize,
    check_fraction,
    check_seed,
    concatenate,
    split_dataset,
)
from .digits import load_digits
from .files import load_file
from .mnist import load_mnist
from .toy2d import TOY2D_NAMES, toy2d

logger = logging.getLogger(__name__)

DEFAULT_SPLIT = 0.8
DEFAULT_TOY_SAMPLES = 10_000


@dataclass(frozen=True)
class _Source:
    """How to get one registered data set.

    ``loader`` takes the keyword arguments ``seed``, ``n_samples``, ``cache_dir``, ``path`` and
    ``download`` and uses those it needs. It returns a Dataset, or the official
    ``(train, test)`` pair when ``official_split`` is set.
    """

    loader: Callable[..., Dataset | tuple[Dataset, Dataset]]
    official_split: bool = False
    generated: bool = False  # drawn at random: accepts n_samples
    from_files: bool = False  # read from disk: accepts path (and cache_dir, download)


def _digits(**_) -> Dataset:
    return load_digits()


def _mnist(*, cache_dir, path, download, **_) -> tuple[Dataset, Dataset]:
    return load_mnist(path=path, cache_dir=cache_dir, download=download)


def _toy(name: str):
    def loader(*, seed, n_samples, **_) -> Dataset:
        n = DEFAULT_TOY_SAMPLES if n_samples is None else n_samples
        return toy2d(name, n_samples=n, seed=seed)

    return loader


_SOURCES = MappingProxyType({
    "digits": _Source(_digits),
    "mnist": _Source(_mnist, official_split=True, from_files=True),
    **{name: _Source(_toy(name), generated=True) for name in TOY2D_NAMES},
})


def available() -> list[str]:
    """The registered data-set names, sorted (any other string given to :func:`load` is a path)."""
    return sorted(_SOURCES)


def _check_split(split):
    if split is None or split in ("auto", "official"):
        return split
    if isinstance(split, str):
        raise ValueError(f"split must be a training fraction strictly between 0 and 1, None (no "
                         f"split), 'auto' or 'official'; got {split!r}")
    return check_fraction(split)


def _npz_key(name) -> tuple[Path, str | None]:
    """``"data.npz:KEY"`` -> (data.npz, "KEY") when data.npz exists; else (the path, None)."""
    file = Path(name).expanduser()
    if not file.exists() and isinstance(name, str):
        head, sep, key = name.rpartition(":")
        if sep and key and head.lower().endswith(".npz") and Path(head).expanduser().is_file():
            return Path(head).expanduser(), key
    return file, None


def _resolve(name) -> tuple[str, _Source | None, Path | None, str | None]:
    """(display name, registered source or None, path or None, .npz key or None)."""
    if isinstance(name, str):
        key = name.strip().lower()
        if key in _SOURCES:
            return key, _SOURCES[key], None, None
    elif not isinstance(name, os.PathLike):
        raise ValueError(f"name must be a data-set name or a path; got {type(name).__name__}")
    if not str(name).strip():
        raise ValueError(f"the data-set name is empty; use one of {', '.join(available())} or "
                         "a file or folder")
    file, npz_key = _npz_key(name)
    if not file.exists():
        raise ValueError(f"unknown data set {str(name)!r}: it is not one of the known names "
                         f"({', '.join(available())}) and not an existing file or folder either")
    return str(name), None, file, npz_key


def absolute_source(name):
    """``name`` as stored in a checkpoint: a registered name as it is, a path made absolute
    (resolved), so the data can be found again from another working directory."""
    if isinstance(name, str) and name.strip().lower() in _SOURCES:
        return name
    if not isinstance(name, (str, os.PathLike)) or not str(name).strip():
        return name
    file, key = _npz_key(name if isinstance(name, str) else os.fspath(name))
    if not file.exists():
        return str(name)  # load() will say it is unknown
    return str(file.resolve()) + ("" if key is None else f":{key}")


def load(name: str | os.PathLike, *, binarize: bool | str = False, threshold: float = 0.5,
         split: float | str | None = "auto", seed: int = 0, n_samples: int | None = None,
         cache_dir: str | os.PathLike | None = None, path: str | os.PathLike | None = None,
         download: bool = True) -> Dataset | tuple[Dataset, Dataset]:
    """Load a data set, optionally binarized, split into train and test.

    Parameters
    ----------
    name : str or path-like
        A registered name (see :func:`available`: ``"digits"``, ``"mnist"``, ``"ring"``,
        ``"grid"``, ``"moons"``, ``"spirals"``, ``"circles"``), or else a path to a ``.npy``,
        ``.npz`` or ``.csv`` file or a folder of images (see :func:`load_file`); ``"f.npz:KEY"``
        takes the array ``KEY`` of an ``.npz`` file.
    binarize : {False, True, "threshold", "stochastic"}, default False
        ``True``/``"threshold"``: ``x > threshold`` becomes 1.0, else 0.0. ``"stochastic"``:
        each value becomes 1.0 with probability ``x`` (a numpy Generator seeded by ``seed``,
        so the result is fixed for a given seed). Needs values in [0, 1]; sets
        ``domain="binary"``. Applied before the split, so train and test are treated alike.
    threshold : float, default 0.5
        Threshold for ``binarize="threshold"``, on intensities scaled to [0, 1].
    split : float, "auto", "official" or None, default "auto"
        A float in (0, 1) is the training fraction of a random, seeded split (stratified by
        label where every class has at least two members). ``"official"`` is the data set's
        own split (MNIST: 60,000 train, 10,000 test). ``"auto"`` means ``"official"`` where
        there is one and 0.8 otherwise. ``None`` returns the whole data set (MNIST: all 70,000).
    seed : int, default 0
        Seeds the split, stochastic binarization and generated (toy) data.
    n_samples : int, optional
        Total number of points for the generated 2-D sets (default 10,000); an error elsewhere.
    cache_dir, path, download
        MNIST only: see :func:`load_mnist`.

    Returns
    -------
    (Dataset, Dataset) or Dataset
        ``(train, test)``, or one Dataset when ``split=None``.

    Raises
    ------
    ValueError
        Unknown name that is not a file either, an invalid argument (the message names it), or
        unreadable data.
    DatasetNotAvailableError
        (a FileNotFoundError) MNIST is neither on disk nor downloadable.
    """
    mode = check_binarize(binarize, threshold)
    seed = check_seed(seed)
    split = _check_split(split)
    label, source, file, npz_key = _resolve(name)
    official = source is not None and source.official_split
    if split == "official" and not official:
        raise ValueError(f"split='official': {label!r} has no official train/test split; use a "
                         f"training fraction such as {DEFAULT_SPLIT}, or None")
    if n_samples is not None and (source is None or not source.generated):
        generated = ", ".join(n for n, s in _SOURCES.items() if s.generated)
        raise ValueError(f"n_samples applies only to the generated data sets ({generated}); "
                         f"not to {label!r}")
    if path is not None and (source is None or not source.from_files):
        readers = ", ".join(repr(n) for n, s in _SOURCES.items() if s.from_files)
        raise ValueError(f"path= applies only to {readers}; to load your own file pass it as "
                         f"the name, e.g. load({str(path)!r})")

    if source is None:
        loaded = load_file(file, key=npz_key)
    else:
        loaded = source.loader(seed=seed, n_samples=n_samples, cache_dir=cache_dir, path=path,
                               download=download)
    rng = np.random.default_rng(seed) if mode == "stochastic" else None

    def prepare(data: Dataset) -> Dataset:
        return data if mode is None else binarize_dataset(data, mode, threshold, rng)

    if official and split in ("auto", "official"):
        train, test = loaded
        # Binarize train then test from one Generator: the same as binarizing them together.
        return prepare(train), prepare(test)
    data = prepare(concatenate(*loaded) if official else loaded)
    if split is None:
        return data
    fraction = DEFAULT_SPLIT if split == "auto" else split
    return split_dataset(data, fraction, seed)
