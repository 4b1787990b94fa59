"""Small helpers shared by every model: input checks and device/seed handling."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np


def check_array(X, *, name: str = "X", n_features: int | None = None, domain: str = "real",
                allow_3d: bool = True,
                owner: str = "the model") -> tuple[np.ndarray, tuple[int, ...]]:
    """Validate a data array and flatten it to ``(n, d)`` float64.

    Returns the flat array and the per-example shape (``X.shape[1:]`` before flattening), so a
    model can hand samples back shaped like its training data. ``domain="unit"`` requires
    values in [0, 1] (Bernoulli likelihoods), ``"real"`` only finiteness. Sparse matrices are
    refused with a message saying so; object arrays of numbers (e.g. from pandas) are
    accepted. ``owner`` names the model in the feature-count error (scikit-learn's wording).
    """
    if X is None:
        raise ValueError(f"{name} is None; expected an array of shape (n_samples, n_features)")
    if _is_sparse(X):
        raise TypeError(f"{name} is a sparse matrix; sparse input is not supported: convert it "
                        f"with {name}.toarray() (the models need dense rows)")
    try:
        arr = np.asarray(X)
    except Exception as exc:  # ragged nested lists and the like
        raise ValueError(f"{name} could not be read as an array: {exc}") from None
    if arr.dtype == object:
        try:  # numbers stored as Python objects (pandas, lists of mixed ints and floats)
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:  # float() names what it could not convert
            raise type(exc)(f"{name} must be numeric; {exc}") from None
    if np.iscomplexobj(arr):
        raise ValueError(f"Complex data not supported: {name} must be real-valued")
    if not (np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)):
        raise ValueError(f"{name} must be numeric; got an array of dtype {arr.dtype}")
    if arr.ndim == 1:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got a 1-D array of "
                         f"length {arr.shape[0]} (use X.reshape(-1, 1) for one feature)")
    if arr.ndim == 0 or (arr.ndim > 2 and not allow_3d) or arr.ndim > 4:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has 0 samples")
    shape = tuple(int(s) for s in arr.shape[1:])
    flat = arr.reshape(arr.shape[0], -1).astype(np.float64, copy=False)
    if flat.shape[1] == 0:
        raise ValueError(f"{name} has 0 feature(s) (shape={flat.shape}) while a minimum of 1 is "
                         "required.")
    if not np.all(np.isfinite(flat)):
        bad = int(np.sum(~np.isfinite(flat)))
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s)")
    if n_features is not None and flat.shape[1] != n_features:
        raise ValueError(f"{name} has {flat.shape[1]} features, but {owner} is expecting "
                         f"{n_features} features as input (it was fitted with {n_features})")
    if domain == "unit" and (flat.min() < 0.0 or flat.max() > 1.0):
        raise ValueError(f"{name} has values outside [0, 1] (min {flat.min():g}, max "
                         f"{flat.max():g}); the Bernoulli likelihood needs data in [0, 1]: "
                         "rescale or binarize it, or use likelihood='gaussian'")
    return flat, shape


def _is_sparse(X) -> bool:
    try:
        import scipy.sparse
    except ImportError:  # pragma: no cover - scipy comes with scikit-learn
        return False
    return scipy.sparse.issparse(X)


def resolve_image_shape(data_shape: tuple[int, ...],
                        image_shape=None) -> tuple[int, int] | None:
    """The (H, W) of image data, one rule for every model.

    ``image_shape`` (the hyperparameter) wins when given and must match the feature count;
    otherwise examples of shape (H, W) or (1, H, W) are images, and so are flat examples with
    a square number (>= 16) of features (8x8 digits, 28x28 MNIST); anything else is not.
    """
    n = int(np.prod(data_shape))
    if image_shape is not None:
        shape = (int(image_shape[0]), int(image_shape[1]))
        if shape[0] * shape[1] != n:
            raise ValueError(f"image_shape {shape} does not match {n} features")
        return shape
    if len(data_shape) == 2:
        return (int(data_shape[0]), int(data_shape[1]))
    if len(data_shape) == 3 and data_shape[0] == 1:
        return (int(data_shape[1]), int(data_shape[2]))
    side = math.isqrt(n)
    if len(data_shape) == 1 and side * side == n and side >= 4:
        return (side, side)
    return None


def check_n(n, name: str = "n") -> int:
    """A positive integer sample count."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or int(n) <= 0:
        raise ValueError(f"{name} must be a positive integer; got {n!r}")
    return int(n)


def check_labels(y, n: int, *, classes: np.ndarray | None = None, name: str = "y") -> np.ndarray:
    """Integer class labels of length ``n``; with ``classes``, only those seen in training."""
    arr = np.asarray(y)
    if arr.dtype == object:  # labels stored as Python objects (pandas): numbers only
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"Unknown label type: {name} must hold integer class labels; got "
                             "objects that are not numbers") from None
    if arr.ndim == 0:
        arr = np.full(n, arr)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} must have one label per sample ({n}); got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.bool_)):
        if np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) and np.all(
                arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise ValueError(f"Unknown label type: {name} must hold integer class labels; got "
                             f"dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if classes is not None:
        unknown = np.setdiff1d(np.unique(arr), classes)
        if unknown.size:
            raise ValueError(f"{name} has class(es) {unknown.tolist()} not seen in training "
                             f"(known: {classes.tolist()})")
    return arr


def check_choice(value, name: str, choices: Sequence) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}; got {value!r}")


def check_int(value, name: str, *, low: int | None = None, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer; got {value!r}")
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}; got {value}")


def check_float(value, name: str, *, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number; got {value!r}")
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}; got {value}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}; got {value}")


def check_common(model) -> None:
    """The hyperparameters models share: ``image_shape`` (where it has one), ``seed``,
    ``device`` and ``verbose``; a ``ValueError`` names the field."""
    shape = getattr(model, "image_shape", None)
    if shape is not None and (
            not isinstance(shape, (tuple, list)) or len(shape) != 2
            or any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1
                   for s in shape)):
        raise ValueError(f"image_shape must be (height, width); got {shape!r}")
    check_int(model.seed, "seed", low=0, allow_none=True)
    if model.seed is not None and model.seed >= 2**32:  # torch seeds are 64-bit; ours are scaled
        raise ValueError(f"seed must be below 2**32; got {model.seed}")
    if not isinstance(model.device, str):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'auto'; got {model.device!r}")
    if not isinstance(model.verbose, bool):
        raise ValueError(f"verbose must be True or False; got {model.verbose!r}")


def resolve_device(device: str):
    """``"cpu"``, ``"cuda"`` (error when none), ``"cuda:1"``, or ``"auto"`` (CUDA when present)."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'auto'; got {device!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for but PyTorch sees no CUDA GPU; "
                         "use device='auto' or 'cpu'")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'auto'; got {device!r}")
    return dev


def torch_generator(device, seed):
    """A generator on ``device``: seeded from an int, drawn from another generator, or fresh."""
    import torch

    gen = torch.Generator(device=device)
    if seed is None:
        gen.seed()
    elif isinstance(seed, torch.Generator):
        gen.manual_seed(int(torch.randint(0, 2**62, (1,), generator=seed)))
    else:
        gen.manual_seed(int(seed))
    return gen


def strip_prefix(tensors: dict, prefix: str) -> dict:
    """The entries of a checkpoint's tensor dict whose names start with ``prefix``, with the
    prefix removed (``"g."`` -> the generator's own ``state_dict`` names)."""
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
