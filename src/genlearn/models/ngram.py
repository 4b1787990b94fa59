"""Smoothed n-gram model over integer symbols: the baseline for sequence models.

    log p(x_1 .. x_T) = sum_t log p(x_t | x_{t-n+1} .. x_{t-1})

with the context before a sequence's first symbol filled with a begin-of-sequence mark (BOS)
and no end-of-sequence symbol (the length is given). Interpolated Kneser-Ney (Chen & Goodman
1998, "An empirical study of smoothing techniques for language modeling", section 3) with one
absolute discount D:

    p(w | h) = max(c(h w) - D, 0) / c(h .)  +  D N1+(h .) / c(h .) * p(w | h')

where h' is h without its oldest symbol, c is the raw count at the highest order and the
continuation count N1+(. h w) (distinct symbols seen before h w) below it, N1+(h .) is the
number of distinct symbols seen after h, and the recursion ends in the uniform distribution
1/V, so every symbol keeps a non-zero probability. Interpolated Witten-Bell replaces the
discount by p(w | h) = (c(h w) + N1+(h .) p(w | h')) / (c(h .) + N1+(h .)); add-k uses the
full-order counts only, p(w | h) = (c(h w) + k) / (c(h .) + k V). A history never seen falls
through to the lower order (add-k: to the uniform distribution).

The start of a sequence is one context however long the model's order: a history that begins
with two BOS marks carries no more than its suffix with one, so it passes straight through to
it, and an n-gram whose history begins with BOS keeps its raw count at the lower orders of
Kneser-Ney (its left extension is always BOS, so a continuation count would be 1). This is the
convention of SRILM and KenLM with a single ``<s>``.

``log_prob`` is exact under the smoothed n-gram model: the sum of the log conditional
probabilities above, in nats, per sequence.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch

from .._utils import check_choice, check_float, check_int, check_n
from ..base import GenerativeModel
from ..registry import register

log = logging.getLogger(__name__)

SMOOTHINGS = ("kneser-ney", "witten-bell", "add-k")


# -- data: sequences of integer symbols -------------------------------------------------------
def _where(pos: int, lengths: np.ndarray, name: str) -> str:
    """Name the sequence and offset of flat position ``pos`` (for error messages)."""
    if len(lengths) == 1:
        return f"{name} at position {pos}"
    seq = int(np.searchsorted(np.cumsum(lengths), pos, side="right"))
    start = int(lengths[:seq].sum())
    return f"{name} (sequence {seq}, position {pos - start})"


def _int_symbols(arr: np.ndarray, name: str) -> np.ndarray:
    """``arr`` as int64; floats must hold integral values."""
    if arr.dtype == np.bool_ or np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.int64, copy=False)
    if np.issubdtype(arr.dtype, np.floating):
        if np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)) and (
                arr.size == 0 or np.abs(arr).max() < 2.0**62):
            return arr.astype(np.int64)
        bad = arr[~(np.isfinite(arr) & (arr == np.round(arr)))]
        example = f" (e.g. {bad[0]!r})" if bad.size else ""
        raise ValueError(f"{name}: symbols must be integers; got non-integral values{example}")
    raise ValueError(f"{name}: symbols must be integers; got an array of dtype {arr.dtype}")


def _as_flat(X, lengths=None, name: str = "X", *,
             n_symbols: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Validate sequences; return all symbols concatenated (N,) int64 and the lengths (S,)."""
    if X is None:
        raise ValueError(f"{name} is None; expected a list of 1-D integer sequences")
    if lengths is not None:
        try:
            arr = np.asarray(X)
        except ValueError as exc:
            raise ValueError(f"with lengths, {name} must be one concatenated 1-D array of "
                             f"symbols; it could not be read as one: {exc}") from None
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim != 1:
            raise ValueError(f"with lengths, {name} must be one concatenated 1-D array of "
                             f"symbols (or an (n, 1) column); got shape {arr.shape}")
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
                             "sequence needs at least one symbol")
        if int(lens.sum()) != arr.size:
            raise ValueError(f"lengths sum to {int(lens.sum())} but {name} has {arr.size} "
                             "symbols")
        flat = _int_symbols(arr, name)
    else:
        if isinstance(X, (list, tuple)):
            if len(X) == 0:
                raise ValueError(f"{name} is empty: it holds no sequences")
            # a flat list of numbers is one sequence (as hmmlearn reads a 1-D X)
            seqs = [X] if np.ndim(X[0]) == 0 else list(X)
        else:
            arr = np.asarray(X)
            if arr.ndim == 1 and arr.dtype == object:
                seqs = list(arr)
            elif arr.ndim == 1 or (arr.ndim == 2 and arr.shape[1] == 1):
                seqs = [arr.reshape(-1)]
            else:
                raise ValueError(f"{name} must be a list of 1-D sequences, or one 1-D array (one "
                                 f"sequence, or several with lengths=); got shape {arr.shape}")
        parts = []
        for i, s in enumerate(seqs):
            try:
                a = np.asarray(s)
            except ValueError as exc:
                raise ValueError(f"{name}: sequence {i} could not be read as an array: "
                                 f"{exc}") from None
            if a.ndim == 2 and a.shape[1] == 1:
                a = a[:, 0]
            if a.ndim != 1:
                raise ValueError(f"{name}: sequence {i} must be 1-D; got shape {a.shape}")
            if a.size == 0:
                raise ValueError(f"{name}: sequence {i} has length 0; every sequence needs at "
                                 "least one symbol")
            if a.dtype.kind not in "biuf":
                raise ValueError(f"{name}: symbols must be integers; sequence {i} has dtype "
                                 f"{a.dtype}")
            parts.append(a)
        lens = np.array([p.size for p in parts], dtype=np.int64)
        flat = _int_symbols(np.concatenate(parts), name)
    if flat.min() < 0:
        pos = int(np.argmin(flat))
        raise ValueError(f"{_where(pos, lens, name)} has the negative symbol {flat[pos]}; "
                         "symbols must be integers >= 0")
    if n_symbols is not None and flat.max() >= n_symbols:
        pos = int(np.argmax(flat))
        raise ValueError(f"{_where(pos, lens, name)} has the symbol {flat[pos]}, outside the "
                         f"vocabulary of {n_symbols} symbols (0..{n_symbols - 1})")
    return flat, lens


def as_sequences(X, lengths=None, name: str = "X", *,
                 n_symbols: int | None = None) -> list[np.ndarray]:
    """Integer sequences as a list of 1-D int64 arrays, validated.

    ``X`` is a list of 1-D sequences of different lengths, or, as hmmlearn takes it, one
    concatenated 1-D array (or ``(n, 1)`` column) with ``lengths`` summing to its size (without
    ``lengths`` a 1-D array is one sequence). Floats with integral values are accepted. Raises
    ``ValueError`` for non-integral or negative symbols, no sequence, a sequence of length 0,
    lengths that do not add up, or, with ``n_symbols``, a symbol outside 0..n_symbols-1.
    """
    flat, lens = _as_flat(X, lengths, name, n_symbols=n_symbols)
    return np.split(flat, np.cumsum(lens)[:-1])


def _contexts(flat: np.ndarray, lens: np.ndarray, width: int,
              bos: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``width`` symbols before each position, BOS-padded at sequence starts.

    Returns ``back`` (N, width) with ``back[:, j-1]`` the j-th previous symbol, and the index
    of each position's sequence (N,).
    """
    seq_of = np.repeat(np.arange(len(lens)), lens)
    pos = np.arange(flat.size) + width * (seq_of + 1)  # positions in the padded stream
    padded = np.full(flat.size + width * len(lens), bos, dtype=np.int64)
    padded[pos] = flat
    back = np.empty((flat.size, width), dtype=np.int64)
    for j in range(1, width + 1):
        back[:, j - 1] = padded[pos - j]
    return back, seq_of


def _lookup(keys: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Index of each query in the sorted unique ``keys``, or -1 where absent."""
    if keys.size == 0:
        return np.full(query.shape, -1, dtype=np.int64)
    idx = np.searchsorted(keys, query)
    np.minimum(idx, keys.size - 1, out=idx)
    return np.where(keys[idx] == query, idx, -1)


class _Level:
    """What the smoothing needs at one history length j (derived from the raw counts)."""

    def __init__(self, keys, counts, total, types, passthrough):
        self.keys = keys  # (G,) sorted n-gram keys: history id * (V + 1) + symbol
        self.counts = counts  # (G,) float64 counts the smoothing uses (raw or continuation)
        self.total = total  # (H,) per history: sum of counts, c(h .)
        self.types = types  # (H,) per history: distinct next symbols, N1+(h .)
        self.passthrough = passthrough  # (H,) bool: history starts with two BOS marks


@register("ngram")
class NGram(GenerativeModel):
    """Smoothed n-gram model over the integer symbols 0..n_symbols-1.

    Parameters
    ----------
    order : int
        n: each symbol is predicted from the ``order - 1`` symbols before it (1 = unigram).
    smoothing : {"kneser-ney", "witten-bell", "add-k"}
        Interpolated Kneser-Ney with one absolute ``discount`` (Chen & Goodman 1998),
        interpolated Witten-Bell, or additive smoothing with ``k`` on the full-order counts.
    discount : float
        Kneser-Ney's absolute discount D, in (0, 1).
    k : float
        Add-k's pseudo-count, > 0 (1 is Laplace smoothing).
    n_symbols : int or None
        Vocabulary size V; None means 1 + the largest symbol seen by ``fit``.
    seed : int or None
        Accepted for the common contract; fitting is deterministic counting and ``sample``
        takes its own ``seed``.
    verbose : bool
        Log a one-line summary after fitting.

    Attributes
    ----------
    n_symbols_ : int
        Vocabulary size V used by the model.
    n_symbols_seen_ : int
        Distinct symbols in the training data.
    n_sequences_, n_train_symbols_ : int
        Training sequences and symbols.
    hist_keys_, ngram_keys_, ngram_counts_ : list of int64 arrays, one per history length
        The count tables: sorted history keys (id of the history one shorter * (V + 1) + its
        oldest symbol; the position of a key is the history's id), sorted n-gram keys (history
        id * (V + 1) + next symbol) and the raw n-gram counts.
    """

    trains_on_rows = False  # it learns from symbol sequences (genlearn text train --model ngram)
    input_kind = "sequences"
    conditional = False
    has_likelihood = True
    resumable = False
    epoch_trained = False

    def __init__(self, order=5, smoothing="kneser-ney", discount=0.75, k=1.0, n_symbols=None,
                 seed=0, verbose=True):
        self.order = order
        self.smoothing = smoothing
        self.discount = discount
        self.k = k
        self.n_symbols = n_symbols
        self.seed = seed
        self.verbose = verbose
        self._validate_params()

    def _validate_params(self) -> None:
        check_int(self.order, "order", low=1)
        check_choice(self.smoothing, "smoothing", SMOOTHINGS)
        check_float(self.discount, "discount", low=0.0, high=1.0, low_open=True, high_open=True)
        check_float(self.k, "k", low=0.0, low_open=True)
        check_int(self.n_symbols, "n_symbols", low=1, allow_none=True)
        check_int(self.seed, "seed", low=0, allow_none=True)
        if not isinstance(self.verbose, bool):
            raise ValueError(f"verbose must be True or False; got {self.verbose!r}")

    # -- fitting: count every n-gram once -----------------------------------------------------
    def fit(self, X, lengths=None):
        """Count the n-grams of ``X`` (a list of 1-D integer sequences, or one concatenated
        array with ``lengths``, as hmmlearn takes it). Returns ``self``."""
        self._validate_params()
        flat, lens = _as_flat(X, lengths, "X")
        if self.n_symbols is not None and flat.max() >= self.n_symbols:
            pos = int(np.argmax(flat))
            raise ValueError(f"{_where(pos, lens, 'X')} has the symbol {flat[pos]}, but "
                             f"n_symbols={self.n_symbols} (symbols 0..{self.n_symbols - 1})")
        V = int(flat.max()) + 1 if self.n_symbols is None else int(self.n_symbols)
        B, N = V + 1, int(self.order)
        if (flat.size + 1) * B >= 2**62:
            raise ValueError(f"{flat.size} symbols over a vocabulary of {V} overflow the int64 "
                             "n-gram keys; fit on less data")
        back, _ = _contexts(flat, lens, N - 1, bos=V)
        # Histories get ids level by level: the history of length j is (oldest symbol, history
        # of length j-1), so its key is (id of the shorter one) * B + oldest symbol, and its id
        # is the rank of that key. Keys stay below (number of histories) * B: no overflow.
        hist = np.zeros(flat.size, dtype=np.int64)  # id of the empty history
        self.hist_keys_ = [np.zeros(1, dtype=np.int64)]
        self.ngram_keys_, self.ngram_counts_ = [], []
        for j in range(N):
            if j > 0:
                keys, hist = np.unique(hist * B + back[:, j - 1], return_inverse=True)
                self.hist_keys_.append(keys)
                hist = hist.reshape(-1)
            keys, counts = np.unique(hist * B + flat, return_counts=True)
            self.ngram_keys_.append(keys)
            self.ngram_counts_.append(counts.astype(np.int64))
        self.order_, self.smoothing_ = N, self.smoothing
        self.discount_, self.k_ = float(self.discount), float(self.k)
        self.n_symbols_ = V
        self.n_symbols_seen_ = int(np.count_nonzero(np.bincount(flat, minlength=V)))
        self.n_sequences_ = len(lens)
        self.n_train_symbols_ = int(flat.size)
        self.data_shape_ = None
        self.history_ = []
        self._prepare()
        self.is_fitted_ = True
        if self.verbose:
            log.info("fitted a %d-gram %s model on %d symbols in %d sequences (V=%d, %d distinct "
                     "%d-grams)", N, self.smoothing_, flat.size, len(lens), V,
                     len(self.ngram_keys_[-1]), N)
        return self

    def _prepare(self) -> None:
        """Derive what the smoothing needs (continuation counts, totals) from the raw counts."""
        V, N = self.n_symbols_, self.order_
        B = V + 1
        kn = self.smoothing_ == "kneser-ney"
        self._levels = []
        for j in range(N):
            keys, raw = self.ngram_keys_[j], self.ngram_counts_[j]
            hkeys = self.hist_keys_[j]
            hist = keys // B
            counts = raw.astype(np.float64)
            if kn and j < N - 1:
                # N1+(. h w): each distinct (v h w) one level up adds one to its (h w)
                up = self.ngram_keys_[j + 1]
                lower = (self.hist_keys_[j + 1][up // B] // B) * B + up % B
                cont = np.bincount(np.searchsorted(keys, lower), minlength=keys.size)
                # a history that begins with BOS is always preceded by BOS: keep raw counts
                bos_start = (hkeys % B == V) if j > 0 else np.zeros(1, dtype=bool)
                counts = np.where(bos_start[hist], raw, cont).astype(np.float64)
            total = np.bincount(hist, weights=counts, minlength=hkeys.size)
            types = np.bincount(hist, minlength=hkeys.size).astype(np.float64)
            passthrough = np.zeros(hkeys.size, dtype=bool)
            if j >= 2:
                passthrough = (hkeys % B == V) & (self.hist_keys_[j - 1][hkeys // B] % B == V)
            self._levels.append(_Level(keys, counts, total, types, passthrough))

    # -- the conditional distributions --------------------------------------------------------
    def _history_ids(self, back: np.ndarray) -> np.ndarray:
        """(M, order-1) previous symbols -> (M, order) ids of the histories of length 0..order-1
        in the training tables; -1 where a history was never seen."""
        B = self.n_symbols_ + 1
        ids = np.zeros((back.shape[0], self.order_), dtype=np.int64)
        for j in range(1, self.order_):
            prev = ids[:, j - 1]
            cur = _lookup(self.hist_keys_[j], prev * B + back[:, j - 1])
            cur[prev < 0] = -1
            ids[:, j] = cur
        return ids

    def _mix(self, j: int, h: np.ndarray, counts: np.ndarray, lower: np.ndarray) -> np.ndarray:
        """p_j(w | h) from the counts c(h w) and p_{j-1}(w | h'); (r,) or (r, V) arrays."""
        lvl = self._levels[j]
        total, types = lvl.total[h], lvl.types[h]
        if counts.ndim == 2:
            total, types = total[:, None], types[:, None]
        if self.smoothing_ == "kneser-ney":
            D = self.discount_
            new = (np.maximum(counts - D, 0.0) + D * types * lower) / total
        else:  # Witten-Bell
            new = (counts + types * lower) / (total + types)
        through = lvl.passthrough[h]
        if through.any():
            new[through] = lower[through]
        return new

    def _position_probs(self, ids: np.ndarray, w: np.ndarray) -> np.ndarray:
        """p(w_m | history m) for each row: ids (M, order), w (M,) -> (M,)."""
        V, B = self.n_symbols_, self.n_symbols_ + 1
        if self.smoothing_ == "add-k":
            lvl, h = self._levels[-1], ids[:, -1]
            seen = h >= 0
            idx = _lookup(lvl.keys, np.where(seen, h, 0) * B + w)
            counts = np.where(seen & (idx >= 0), lvl.counts[idx], 0.0)
            total = np.where(seen, lvl.total[np.where(seen, h, 0)], 0.0)
            return (counts + self.k_) / (total + self.k_ * V)
        p = np.full(w.shape[0], 1.0 / V)
        for j, lvl in enumerate(self._levels):
            rows = np.flatnonzero(ids[:, j] >= 0)
            if rows.size == 0:  # no longer history can be known either
                break
            h = ids[rows, j]
            idx = _lookup(lvl.keys, h * B + w[rows])
            counts = np.where(idx >= 0, lvl.counts[idx], 0.0)
            p[rows] = self._mix(j, h, counts, p[rows])
        return p

    def _dense_counts(self, j: int, h: np.ndarray) -> np.ndarray:
        """(r,) history ids -> (r, V) counts c(h w) of every next symbol w."""
        lvl, B = self._levels[j], self.n_symbols_ + 1
        out = np.zeros((h.size, self.n_symbols_))
        # the n-grams of history h are the contiguous keys h*B .. h*B + V - 1
        lo = np.searchsorted(lvl.keys, h * B)
        hi = np.searchsorted(lvl.keys, (h + 1) * B)
        n = hi - lo
        rows = np.repeat(np.arange(h.size), n)
        idx = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n) + np.repeat(lo, n)
        out[rows, lvl.keys[idx] % B] = lvl.counts[idx]
        return out

    def _distributions(self, ids: np.ndarray) -> np.ndarray:
        """(M, order) history ids -> (M, V) conditional distributions p(. | history)."""
        V = self.n_symbols_
        P = np.full((ids.shape[0], V), 1.0 / V)
        levels = [self.order_ - 1] if self.smoothing_ == "add-k" else range(self.order_)
        for j in levels:
            rows = np.flatnonzero(ids[:, j] >= 0)
            if rows.size == 0:
                break
            h = ids[rows, j]
            counts = self._dense_counts(j, h)
            if self.smoothing_ == "add-k":
                P[rows] = (counts + self.k_) / (self._levels[j].total[h][:, None] + self.k_ * V)
            else:
                P[rows] = self._mix(j, h, counts, P[rows])
        return P

    def _check_context(self, context, name: str) -> np.ndarray:
        """A context (list of symbols, possibly empty) -> its last order-1 symbols, newest first."""
        arr = np.asarray(() if context is None else context)
        if arr.ndim != 1:
            raise ValueError(f"{name} must be a 1-D list of symbols; got shape {arr.shape}")
        if arr.size:
            arr, _ = _as_flat(arr, None, name, n_symbols=self.n_symbols_)
        else:
            arr = np.zeros(0, dtype=np.int64)
        back = np.full(self.order_ - 1, self.n_symbols_, dtype=np.int64)  # BOS padding
        tail = arr[::-1][: self.order_ - 1]
        back[: tail.size] = tail
        return back

    def next_log_proba(self, context=()) -> np.ndarray:
        """log p(. | context): the distribution of the next symbol, (n_symbols,) in nats.

        ``context`` is a list of symbols; only its last ``order - 1`` count, and a shorter one
        is the start of a sequence (``[]`` gives the distribution of a first symbol).
        """
        self._check_fitted()
        back = self._check_context(context, "context")[None, :]
        return np.log(self._distributions(self._history_ids(back))[0])

    # -- the contract -------------------------------------------------------------------------
    def _log_prob_flat(self, X, lengths) -> tuple[np.ndarray, int]:
        self._check_fitted()
        flat, lens = _as_flat(X, lengths, "X", n_symbols=self.n_symbols_)
        back, seq_of = _contexts(flat, lens, self.order_ - 1, bos=self.n_symbols_)
        p = self._position_probs(self._history_ids(back), flat)
        return np.bincount(seq_of, weights=np.log(p), minlength=lens.size), int(flat.size)

    def log_prob(self, X, lengths=None) -> np.ndarray:
        """Per-sequence log-likelihood in nats, exact under the smoothed n-gram model.

        ``X`` as in :meth:`fit`. log p(x) = sum_t log p(x_t | previous order-1 symbols), the
        context before the first symbol being the start of the sequence. Returns (n_sequences,).
        """
        return self._log_prob_flat(X, lengths)[0]

    def score(self, X, lengths=None) -> float:
        """Mean :meth:`log_prob` per sequence (nats; higher is better)."""
        return float(np.mean(self.log_prob(X, lengths)))

    def bits_per_symbol(self, X, lengths=None) -> float:
        """-(total log-likelihood) / (total symbols) / ln 2: the cross-entropy in bits."""
        lp, total = self._log_prob_flat(X, lengths)
        return float(-lp.sum() / total / math.log(2.0))

    def log_prob_estimator(self) -> str:
        return f"exact (smoothed {self.order_}-gram, {self.smoothing_})"

    def evaluate(self, X, lengths=None) -> dict:
        """Held-out mean log-likelihood per sequence and bits per symbol."""
        lp, total = self._log_prob_flat(X, lengths)
        return {"log_likelihood": float(np.mean(lp)), "estimator": self.log_prob_estimator(),
                "n": int(lp.size), "bits_per_symbol": float(-lp.sum() / total / math.log(2.0))}

    def sample(self, n, length, *, seed=None, prompt=None, temperature=1.0) -> list[np.ndarray]:
        """Draw ``n`` sequences of ``length`` new symbols each, one symbol at a time.

        Each continues after ``prompt`` (a list of symbols used as context, not returned; none
        means the start of a sequence). ``temperature`` T draws from p^(1/T) renormalised: below
        1 sharper, above 1 flatter. ``seed`` makes the draws repeatable.
        """
        self._check_fitted()
        n, length = check_n(n), check_n(length, "length")
        check_float(temperature, "temperature", low=0.0, low_open=True)
        rng = np.random.default_rng(seed)
        back = np.repeat(self._check_context(prompt, "prompt")[None, :], n, axis=0)  # (n, W)
        out = np.empty((n, length), dtype=np.int64)
        for t in range(length):
            P = self._distributions(self._history_ids(back))  # (n, V)
            if temperature != 1.0:
                logits = np.log(P) / temperature
                P = np.exp(logits - logits.max(axis=1, keepdims=True))
            cdf = np.cumsum(P, axis=1)
            u = (1.0 - rng.random(n)) * cdf[:, -1]  # in (0, total]: never a zero-probability symbol
            x = np.minimum((cdf < u[:, None]).sum(axis=1), self.n_symbols_ - 1)
            out[:, t] = x
            if back.shape[1]:
                back[:, 1:] = back[:, :-1].copy()
                back[:, 0] = x
        return list(out)

    # -- checkpoints --------------------------------------------------------------------------
    def _get_state(self):
        meta = {
            "order_": self.order_,
            "smoothing_": self.smoothing_,
            "discount_": self.discount_,
            "k_": self.k_,
            "n_symbols_": self.n_symbols_,
            "n_symbols_seen_": self.n_symbols_seen_,
            "n_sequences_": self.n_sequences_,
            "n_train_symbols_": self.n_train_symbols_,
            "history_": self.history_,
        }
        tensors = {}
        for j in range(self.order_):
            tensors[f"hist_keys.{j}"] = torch.from_numpy(self.hist_keys_[j])
            tensors[f"ngram_keys.{j}"] = torch.from_numpy(self.ngram_keys_[j])
            tensors[f"ngram_counts.{j}"] = torch.from_numpy(self.ngram_counts_[j])
        return meta, tensors

    def _set_state(self, meta, tensors) -> None:
        self.order_ = int(meta["order_"])
        self.smoothing_ = str(meta["smoothing_"])
        check_choice(self.smoothing_, "smoothing_", SMOOTHINGS)
        self.discount_, self.k_ = float(meta["discount_"]), float(meta["k_"])
        self.n_symbols_ = int(meta["n_symbols_"])
        self.n_symbols_seen_ = int(meta["n_symbols_seen_"])
        self.n_sequences_ = int(meta["n_sequences_"])
        self.n_train_symbols_ = int(meta["n_train_symbols_"])
        self.history_ = list(meta["history_"])
        self.data_shape_ = None

        def table(name):
            arr = tensors[name].numpy().astype(np.int64)
            if arr.ndim != 1:
                raise ValueError(f"{name} must be 1-D; got shape {tuple(arr.shape)}")
            return arr

        self.hist_keys_ = [table(f"hist_keys.{j}") for j in range(self.order_)]
        self.ngram_keys_ = [table(f"ngram_keys.{j}") for j in range(self.order_)]
        self.ngram_counts_ = [table(f"ngram_counts.{j}") for j in range(self.order_)]
        for j in range(self.order_):
            if self.ngram_keys_[j].shape != self.ngram_counts_[j].shape:
                raise ValueError(f"ngram_keys.{j} and ngram_counts.{j} differ in length")
        self._prepare()
        self.is_fitted_ = True
