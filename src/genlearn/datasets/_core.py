"""The :class:`Dataset` container and the steps every loader shares.

Binarization and the train/test split live here so that every data source (bundled, downloaded,
generated or the user's own files) goes through exactly the same, tested code.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, replace

import numpy as np

DOMAINS = ("binary", "unit", "real")


@dataclass(frozen=True, eq=False)
class Dataset:
    """A data set as flat arrays plus the metadata models need to treat it correctly.

    Parameters
    ----------
    X : numpy.ndarray of shape (n, d)
        Flattened features. float64, except MNIST, which is float32 to halve its memory.
    y : numpy.ndarray of shape (n,) or None
        int64 class labels, or None when the data set has none.
    name : str
        Short name: ``"digits"``, ``"mnist"``, ``"ring"``, or the file or folder name.
    image_shape : tuple of (int, int) or None
        ``(H, W)`` when each row is an image, so ``X[i].reshape(image_shape)`` shows it.
    domain : {"binary", "unit", "real"}
        ``"binary"``: every value in {0, 1}; ``"unit"``: values in [0, 1]; ``"real"``: anything
        finite. Models use it to choose a likelihood (Bernoulli needs binary or unit data).

    Notes
    -----
    Equality and hashing are by identity (``eq=False``): comparing arrays element-wise would make
    ``==`` ambiguous and arrays are not hashable.
    """

    X: np.ndarray
    y: np.ndarray | None
    name: str
    image_shape: tuple[int, int] | None
    domain: str

    def __post_init__(self) -> None:
        X = np.asarray(self.X)
        if X.ndim != 2:
            raise ValueError(f"Dataset {self.name!r}: X must be 2-D (n, d); got shape {X.shape}")
        object.__setattr__(self, "X", X)
        if self.y is not None:
            y = np.asarray(self.y)
            if y.shape != (X.shape[0],):
                raise ValueError(f"Dataset {self.name!r}: y must have shape ({X.shape[0]},) to "
                                 f"match X; got {y.shape}")
            object.__setattr__(self, "y", y.astype(np.int64, copy=False))
        if self.image_shape is not None:
            shape = tuple(int(s) for s in self.image_shape)
            if len(shape) != 2 or shape[0] * shape[1] != X.shape[1]:
                raise ValueError(f"Dataset {self.name!r}: image_shape {self.image_shape} does "
                                 f"not fit {X.shape[1]} features per row")
            object.__setattr__(self, "image_shape", shape)
        if self.domain not in DOMAINS:
            raise ValueError(f"Dataset {self.name!r}: domain must be one of {DOMAINS}; got "
                             f"{self.domain!r}")

    def __len__(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        """Number of features ``d`` per example (pixels for images)."""
        return int(self.X.shape[1])

    def __repr__(self) -> str:
        labels = "no labels" if self.y is None else f"{len(np.unique(self.y))} classes"
        return (f"Dataset(name={self.name!r}, n={len(self)}, n_features={self.n_features}, "
                f"{labels}, image_shape={self.image_shape}, domain={self.domain!r})")


def infer_domain(X: np.ndarray) -> str:
    """``"binary"`` if every value is 0 or 1, ``"unit"`` if all lie in [0, 1], else ``"real"``."""
    if X.size == 0:
        return "real"
    lo, hi = float(X.min()), float(X.max())
    if lo < 0.0 or hi > 1.0:
        return "real"
    return "binary" if bool(np.all((X == 0) | (X == 1))) else "unit"


def take(data: Dataset, index: np.ndarray) -> Dataset:
    """The rows ``index`` of ``data`` as a new Dataset with the same metadata."""
    y = None if data.y is None else data.y[index]
    return replace(data, X=data.X[index], y=y)


def concatenate(first: Dataset, second: Dataset) -> Dataset:
    """``first`` followed by ``second`` (same name, shape and domain as ``first``)."""
    y = None
    if first.y is not None and second.y is not None:
        y = np.concatenate([first.y, second.y])
    # The wider of the two domains describes the union ("binary" < "unit" < "real").
    domain = max(first.domain, second.domain, key=DOMAINS.index)
    return replace(first, X=np.concatenate([first.X, second.X]), y=y, domain=domain)


# -- argument checks ------------------------------------------------------------------------------
def check_seed(seed) -> int:
    """A seed usable by both numpy Generators and scikit-learn (an int in [0, 2**32))."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an integer in [0, 2**32); got {seed!r}")
    return int(seed)


def check_binarize(binarize, threshold) -> str | None:
    """Normalise ``binarize`` to None, ``"threshold"`` or ``"stochastic"``."""
    if binarize is None or binarize is False:
        mode = None
    elif binarize is True or binarize == "threshold":
        mode = "threshold"
    elif binarize == "stochastic":
        mode = "stochastic"
    else:
        raise ValueError("binarize must be False, True (same as 'threshold') or 'stochastic'; "
                         f"got {binarize!r}")
    if mode == "threshold" and (isinstance(threshold, bool)
                                or not isinstance(threshold, numbers.Real)
                                or not 0.0 <= float(threshold) <= 1.0):
        raise ValueError(f"threshold must be a number in [0, 1] (it applies to intensities "
                         f"scaled to [0, 1]); got {threshold!r}")
    return mode


def check_fraction(split) -> float:
    """A training fraction strictly between 0 and 1."""
    if isinstance(split, bool) or not isinstance(split, numbers.Real) or not 0.0 < split < 1.0:
        raise ValueError("split must be a training fraction strictly between 0 and 1, None (no "
                         f"split), 'auto' or 'official'; got {split!r}")
    return float(split)


# -- shared transforms ----------------------------------------------------------------------------
def binarize_dataset(data: Dataset, mode: str, threshold: float,
                     rng: np.random.Generator) -> Dataset:
    """Binarize ``data.X`` (values must lie in [0, 1]) and mark the result ``"binary"``.

    ``"threshold"`` maps ``x > threshold`` to 1; ``"stochastic"`` draws ``Bernoulli(x)`` from
    ``rng`` (the same Generator for train and test, so both come from one seeded stream).
    """
    X = data.X
    if X.size and (float(X.min()) < 0.0 or float(X.max()) > 1.0):
        raise ValueError(f"cannot binarize {data.name!r}: its values lie in [{X.min():g}, "
                         f"{X.max():g}], not [0, 1]; binarization treats values as intensities "
                         "or probabilities, so use binarize=False for real-valued data")
    if mode == "threshold":
        out = (X > threshold).astype(X.dtype)
    else:
        # u < p with u ~ U[0, 1) is 1 with probability exactly p (p = 0 never, p = 1 always).
        out = (rng.random(X.shape, dtype=X.dtype) < X).astype(X.dtype)
    return replace(data, X=out, domain="binary")


def split_dataset(data: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """Random train/test split, stratified by ``y`` where every class can appear on both sides.

    Uses :func:`sklearn.model_selection.train_test_split`, so the training set has
    ``floor(fraction * n)`` rows (1,437 of the 1,797 digits at 0.8).
    """
    from sklearn.model_selection import train_test_split

    n = len(data)
    n_train = int(np.floor(fraction * n))
    n_test = n - n_train
    if n_train < 1 or n_test < 1:
        raise ValueError(f"split={fraction} leaves {n_train} training and {n_test} test "
                         f"examples of the {n} in {data.name!r}; choose a split that keeps at "
                         "least one on each side, or split=None for no split")
    stratify = None
    if data.y is not None:
        _, counts = np.unique(data.y, return_counts=True)
        # Stratification needs >= 2 members per class and room for every class on each side.
        if counts.min() >= 2 and len(counts) <= min(n_train, n_test):
            stratify = data.y
    train_idx, test_idx = train_test_split(np.arange(n), train_size=fraction,
                                           random_state=seed, shuffle=True, stratify=stratify)
    return take(data, train_idx), take(data, test_idx)
