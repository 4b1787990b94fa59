"""The base of the sequence models (HMM, n-gram, autoregressive networks) and their one parser.

A sequence model scores and draws whole sequences: ``log_prob(X)`` is one number per sequence
(nats), ``bits_per_symbol(X)`` = -sum log2 p(x) / (number of symbols), and
``sample(n, length, *, seed=None, prompt=None, temperature=1.0)`` returns a list of ``n``
arrays (autoregressive models add ``top_k``/``top_p`` and read ``length`` as the longest).

The input contract (:func:`parse_sequences`), the same for every sequence model
--------------------------------------------------------------------------------
Two kinds of sequence: ``"categorical"`` (symbols: integers 0..V-1, one per step) and
``"continuous"`` (a (T, D) float array per sequence, one feature vector per step).

``X`` may be

* a list (or tuple, or 1-D object array, or pandas Series of arrays) of sequences, each a 1-D
  int array (categorical; an (T, 1) column is accepted) or a (T, D) float array (continuous;
  a 1-D array is (T, 1)). A list whose items are numbers is *one* sequence.
* one array: categorical (T,) or (T, 1) is one sequence, (n, T) is n sequences of length T;
  continuous (T, D) (or (T,)) is one sequence, (n, T, D) is n sequences.
* hmmlearn's concatenated form: one array with ``lengths`` (positive integers summing to its
  number of rows) -- categorical (N,) or (N, 1), continuous (N, D).
* a pandas Series (numbers: one sequence; lists/arrays: one sequence each) or DataFrame (one
  sequence: continuous, its columns are the features; categorical, only a single column);
  pandas categories and strings are refused with the remapping to use.

Refused with a one-line ``ValueError`` naming the sequence (and position): None, no sequence,
a sequence of length 0, non-numeric values, NaN or infinity, non-integral or negative symbols,
a symbol outside ``n_symbols`` when the vocabulary is known, sequences with different numbers
of features, lengths that do not add up.

A vocabulary is inferred as 1 + the largest symbol only when that is plausible:
:func:`vocabulary_size` refuses ids above ``max(1024, 16 x distinct symbols)`` (a model with
V symbols allocates (states, V) or (n, V) arrays, so ``[0, 1, 10**9]`` would allocate gigabytes);
remap with ``np.unique(x, return_inverse=True)`` or pass ``n_symbols`` explicitly.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from dataclasses import dataclass, field

import numpy as np

from .base import GenerativeModel
from .distributed import own_part

KINDS = ("categorical", "continuous")
REMAP_HINT = "remap them to 0..V-1 first: vocab, ids = np.unique(x, return_inverse=True)"


@dataclass
class Sequences:
    """Parsed sequences.

    ``seqs``: the sequences (1-D int64 or (T, D) float64 arrays); ``lengths``: (S,) int64;
    ``single``: the input was one array, alone or with ``lengths`` (hmmlearn's form: per-step
    results such as state paths come back concatenated for it).
    """

    seqs: list
    lengths: np.ndarray
    single: bool = False
    _flat: np.ndarray | None = field(default=None, repr=False)

    @property
    def flat(self) -> np.ndarray:
        """Every step concatenated: (N,) symbols or (N, D) features."""
        if self._flat is None:
            self._flat = np.concatenate(self.seqs)
        return self._flat

    @property
    def n_symbols_total(self) -> int:
        return int(self.lengths.sum())

    def __len__(self) -> int:
        return len(self.seqs)


def _where(pos: int, lengths: np.ndarray, name: str) -> str:
    """Name the sequence and offset of flat position ``pos`` (for error messages)."""
    if len(lengths) == 1:
        return f"{name} at position {pos}"
    seq = int(np.searchsorted(np.cumsum(lengths), pos, side="right"))
    return f"{name} (sequence {seq}, position {pos - int(lengths[:seq].sum())})"


def _from_pandas(X, kind: str, name: str):
    """A pandas Series/DataFrame as what the rules below read; None if X is not pandas."""
    mod = type(X).__module__
    if not mod.startswith("pandas"):
        return None
    import pandas as pd

    if isinstance(X, pd.DataFrame):
        if any(isinstance(d, pd.CategoricalDtype) for d in X.dtypes):
            raise ValueError(f"{name}: a DataFrame with categorical columns; pass the codes "
                             "(df[col].cat.codes.to_numpy())")
        if kind == "categorical" and X.shape[1] != 1:
            raise ValueError(f"{name}: a DataFrame with {X.shape[1]} columns is not one sequence "
                             "of symbols; pass df[column].to_numpy() (one sequence) or a list of "
                             "1-D arrays")
        if not all(pd.api.types.is_numeric_dtype(d) for d in X.dtypes):
            raise ValueError(f"{name}: DataFrame columns must be numeric; got dtypes "
                             f"{sorted({str(d) for d in X.dtypes})} ({REMAP_HINT})")
        return X.to_numpy()
    if isinstance(X, pd.Series):
        if isinstance(X.dtype, pd.CategoricalDtype):
            raise ValueError(f"{name}: a categorical Series; pass its codes "
                             "(series.cat.codes.to_numpy())")
        if X.dtype == object:
            items = X.tolist()
            if items and all(np.ndim(v) >= 1 for v in items):
                return items  # a Series of sequences
            raise ValueError(f"{name}: a Series of dtype object that is not a Series of "
                             f"sequences (strings?); {REMAP_HINT}")
        return X.to_numpy()
    raise ValueError(f"{name}: unsupported pandas object {type(X).__name__}; pass a Series, a "
                     "DataFrame, or numpy arrays")


def _symbols(arr: np.ndarray, name: str) -> np.ndarray:
    """``arr`` as int64 symbols; floats must hold integral values."""
    if arr.dtype == np.bool_ or np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.int64, copy=False)
    if np.issubdtype(arr.dtype, np.floating):
        ok = np.isfinite(arr)
        if not ok.all():
            raise ValueError(f"{name} contains NaN or infinite values; symbols must be integers")
        if np.any(arr != np.round(arr)):
            bad = arr[arr != np.round(arr)]
            raise ValueError(f"{name}: symbols must be integers; got non-integral values (e.g. "
                             f"{float(bad[0])!r})")
        if arr.size and np.abs(arr).max() >= 2.0**62:
            raise ValueError(f"{name}: symbol {np.abs(arr).max():g} is too large; {REMAP_HINT}")
        return arr.astype(np.int64)
    raise ValueError(f"{name}: symbols must be integers; got dtype {arr.dtype} ({REMAP_HINT})")


def _to_array(s, name: str, kind: str) -> np.ndarray:
    try:
        a = np.asarray(s)
    except (ValueError, TypeError) as exc:  # ragged nested lists and the like
        raise ValueError(f"{name} could not be read as an array: {exc}") from None
    if a.dtype.kind not in "biuf":
        what = "symbols must be integers" if kind == "categorical" else "values must be numbers"
        raise ValueError(f"{name}: {what}; got dtype {a.dtype} ({REMAP_HINT})")
    return a


def _one(a: np.ndarray, kind: str, name: str) -> np.ndarray:
    """One sequence, shaped and typed for its kind."""
    if a.ndim == 0 or a.shape[0] == 0:
        raise ValueError(f"{name} has length 0; every sequence needs at least one step")
    if kind == "categorical":
        if a.ndim == 2 and a.shape[1] == 1:
            a = a[:, 0]
        if a.ndim != 1:
            raise ValueError(f"{name}: a sequence of symbols must be 1-D; got shape {a.shape}")
        return _symbols(a, name)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"{name}: a continuous sequence must be 2-D (length, n_features); got "
                         f"shape {a.shape}")
    a = a.astype(np.float64, copy=False)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


def _split_concatenated(X, lengths, kind: str, name: str) -> tuple[list, np.ndarray, np.ndarray]:
    arr = _to_array(X, f"with lengths, {name}", kind)
    lens = np.asarray(lengths)
    if lens.ndim != 1 or lens.size == 0:
        raise ValueError(f"lengths must be a non-empty 1-D list of sequence lengths; got "
                         f"{lengths!r}")
    if not np.issubdtype(lens.dtype, np.integer):
        if not (np.issubdtype(lens.dtype, np.floating) and np.all(lens == np.round(lens))):
            raise ValueError(f"lengths must be integers; got {lengths!r}")
    lens = lens.astype(np.int64)
    if np.any(lens <= 0):
        i = int(np.flatnonzero(lens <= 0)[0])
        raise ValueError(f"{name}: sequence {i} has length {lens[i]} (lengths[{i}]); every "
                         "sequence needs at least one step")
    if arr.ndim == 0 or int(lens.sum()) != arr.shape[0]:
        unit = "symbols" if kind == "categorical" else "rows"
        raise ValueError(f"lengths sum to {int(lens.sum())} but {name} has "
                         f"{arr.shape[0] if arr.ndim else 0} {unit}")
    flat = _one(arr, kind, name)
    return np.split(flat, np.cumsum(lens)[:-1]), lens, flat


def _items(X, kind: str, name: str) -> tuple[list, bool]:
    """The sequences of ``X`` (not yet validated) and whether X was one bare array."""
    if isinstance(X, (str, bytes)):
        raise ValueError(f"{name} is a string; tokenize it and map tokens to integer ids "
                         f"({REMAP_HINT})")
    if isinstance(X, (list, tuple)):
        if len(X) == 0:
            raise ValueError(f"{name} is empty: it holds no sequences")
        if np.ndim(X[0]) == 0:  # a flat list of numbers is one sequence
            return [X], True
        return list(X), False
    if not hasattr(X, "__len__") and not hasattr(X, "__array__"):
        raise ValueError(f"{name} must be a list of sequences (arrays), or one array with "
                         f"lengths; got {type(X).__name__}")
    arr = _to_array(X, name, kind) if not (isinstance(X, np.ndarray) and X.dtype == object) else X
    if arr.dtype == object:
        if arr.ndim != 1:
            raise ValueError(f"{name}: an object array of sequences must be 1-D")
        if arr.size == 0:
            raise ValueError(f"{name} is empty: it holds no sequences")
        return list(arr), False
    if arr.size == 0:
        raise ValueError(f"{name} is empty: it holds no sequences")
    one = arr.ndim == 1 or (arr.ndim == 2 and (kind == "continuous" or arr.shape[1] == 1))
    if one:
        return [arr], True
    if arr.ndim == 2 or (arr.ndim == 3 and kind == "continuous"):
        return list(arr), False  # rows are sequences of equal length
    raise ValueError(f"{name} has shape {arr.shape}; expected a list of sequences, one "
                     f"{'(T,)' if kind == 'categorical' else '(T, D)'} sequence, or hmmlearn's "
                     "concatenated array with lengths")


def parse_sequences(X, lengths=None, *, kind: str = "categorical", n_symbols: int | None = None,
                    n_features: int | None = None, name: str = "X") -> Sequences:
    """Validate sequences as the module docstring says; the one parser of every sequence model.

    ``n_symbols`` (categorical): the known vocabulary; a symbol >= it is refused.
    ``n_features`` (continuous): the known feature count; a sequence with another is refused.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")
    if X is None:
        raise ValueError(f"{name} is None; expected a list of sequences")
    X, own = own_part(X)  # outside a process group a Sharded part is all the data
    if own:
        raise ValueError(f"{name} is one rank's own part (Sharded): this model trains on the "
                         "same data on every rank; each rank's own part is for the row models "
                         "(VAE, GAN, RBM, DBN) and the HMM and n-gram")
    pandas = _from_pandas(X, kind, name)
    if pandas is not None:
        X = pandas
    if lengths is not None:
        seqs, lens, flat = _split_concatenated(X, lengths, kind, name)
        single = True
    else:
        items, single = _items(X, kind, name)
        seqs = [_one(_to_array(s, f"{name}: sequence {i}", kind), kind,
                     name if single else f"{name}: sequence {i}") for i, s in enumerate(items)]
        lens = np.array([len(s) for s in seqs], dtype=np.int64)
        flat = None
    out = Sequences(seqs, lens, single, flat)
    if kind == "categorical":
        flat = out.flat
        if flat.min() < 0:
            pos = int(np.argmin(flat))
            raise ValueError(f"{_where(pos, lens, name)} has the negative symbol {flat[pos]}; "
                             "symbols must be integers >= 0")
        if n_symbols is not None and flat.max() >= n_symbols:
            pos = int(np.argmax(flat))
            raise ValueError(f"{_where(pos, lens, name)} has the symbol {flat[pos]}, outside "
                             f"the vocabulary of {n_symbols} symbols (0..{n_symbols - 1})")
    else:
        want = n_features if n_features is not None else seqs[0].shape[1]
        for i, s in enumerate(seqs):
            if s.shape[1] != want:
                other = "the model has" if n_features is not None else "sequence 0 has"
                raise ValueError(f"{name}: sequence {i} has {s.shape[1]} features, but {other} "
                                 f"{want}")
    return out


def vocabulary_size(flat: np.ndarray, n_symbols: int | None = None, *, name: str = "X") -> int:
    """The vocabulary V for fitting: ``n_symbols`` if given (every symbol must be below it),
    else 1 + the largest symbol when that is plausible (<= max(1024, 16 x distinct symbols))."""
    top = int(flat.max())
    if n_symbols is not None:
        if top >= n_symbols:
            raise ValueError(f"{name} has the symbol {top}, but n_symbols={n_symbols} (symbols "
                             f"0..{n_symbols - 1})")
        return int(n_symbols)
    distinct = int(np.unique(flat).size)
    bound = max(1024, 16 * distinct)
    if top + 1 > bound:
        raise ValueError(f"{name} has the symbol {top} but only {distinct} distinct symbols: a "
                         f"vocabulary of {top + 1} would be mostly unused and its tables huge; "
                         f"{REMAP_HINT}, or pass n_symbols explicitly")
    return top + 1


class SequenceModel(GenerativeModel):
    """Base of the models that learn from sequences (``input_kind = "sequences"``).

    A subclass says which kind of sequence it reads (:meth:`_sequence_kind`), implements
    ``fit(X, lengths=None)``, ``log_prob(X, lengths=None)`` (per sequence, nats) and
    ``sample``; ``score``, ``bits_per_symbol`` and ``evaluate`` come from here.
    """

    input_kind = "sequences"  # the other capabilities each subclass declares (genlearn.base)

    def _sequence_kind(self) -> str:
        """"categorical" or "continuous"; categorical unless a subclass says otherwise."""
        return "categorical"

    def _parse(self, X, lengths=None, *, name: str = "X", fitting: bool = False) -> Sequences:
        """:func:`parse_sequences` with what the model knows (vocabulary, feature count)."""
        if fitting:  # fit learns the vocabulary / feature count from the data
            return parse_sequences(X, lengths, kind=self._sequence_kind(), name=name)
        return parse_sequences(X, lengths, kind=self._sequence_kind(), name=name,
                               n_symbols=getattr(self, "n_symbols_", None),
                               n_features=getattr(self, "n_features_", None))

    @abstractmethod
    def log_prob(self, X, lengths=None) -> np.ndarray:
        """Per-sequence log-likelihood in nats, (n_sequences,)."""

    @abstractmethod
    def sample(self, n, length, *, seed=None, prompt=None, temperature=1.0) -> list:
        """``n`` sequences of ``length`` steps, continuing ``prompt`` (not returned) if given;
        ``temperature`` T draws each symbol from p^(1/T) renormalised."""

    def score(self, X, lengths=None) -> float:
        """Mean :meth:`log_prob` per sequence (nats; higher is better)."""
        return float(np.mean(self.log_prob(X, lengths)))

    def _log_prob_and_steps(self, X, lengths=None) -> tuple[np.ndarray, int]:
        parsed = self._parse(X, lengths)
        return self.log_prob(parsed.seqs), parsed.n_symbols_total

    def bits_per_symbol(self, X, lengths=None) -> float:
        """-(sum of log2 p(x) over the sequences) / (number of symbols): cross-entropy in bits
        (for continuous sequences a differential entropy per step)."""
        lp, steps = self._log_prob_and_steps(X, lengths)
        return float(-np.sum(lp) / steps / math.log(2.0))

    def evaluate(self, X, lengths=None) -> dict:
        """Held-out mean log-likelihood per sequence and bits per symbol."""
        lp, steps = self._log_prob_and_steps(X, lengths)
        return {"log_likelihood": float(np.mean(lp)), "estimator": self.log_prob_estimator(),
                "n": int(lp.size), "bits_per_symbol": float(-np.sum(lp) / steps / math.log(2.0))}
