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

import numpy as np
import torch

from .. import distributed
from .._utils import check_choice, check_float, check_int, check_n
from ..registry import register
from ..sequences import SequenceModel, parse_sequences, vocabulary_size

log = logging.getLogger(__name__)

SMOOTHINGS = ("kneser-ney", "witten-bell", "add-k")


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


def _weighted_unique(keys: np.ndarray, weight: np.ndarray | None):
    """Sorted distinct keys and their counts (int64), each key counting ``weight`` (or 1)."""
    if weight is None:
        keys, counts = np.unique(keys, return_counts=True)
        return keys, counts.astype(np.int64)
    keys, inverse = np.unique(keys, return_inverse=True)
    counts = np.bincount(inverse.reshape(-1), weights=weight, minlength=keys.size)
    return keys, np.rint(counts).astype(np.int64)  # sums of integers, exact below 2**53


def _merged_grams(parsed, width: int, V: int, own: bool = False):
    """Under torch.distributed: every rank passes the same data and counts the n-grams of its
    shard of the sequences (or, ``own``, of the part it alone holds), and the distinct
    (history, symbol) rows and their counts of all ranks are merged, so each rank holds the
    counts of the whole data.

    Returns ``back`` (G, width), the symbols (G,) and their counts (G,) float64.
    """
    if own:
        mine = parsed.seqs
    else:
        distributed.check_same(distributed.fingerprint(parsed.flat, parsed.lengths), "X")
        mine = distributed.shard(parsed.seqs)
    flat, lens = np.concatenate(mine), np.array([len(s) for s in mine], dtype=np.int64)
    rows = np.column_stack([_contexts(flat, lens, width, bos=V)[0], flat])  # (n, width + 1)
    rows, counts = np.unique(rows, axis=0, return_counts=True)
    rows = np.concatenate(distributed.all_gather_array(rows))
    counts = np.concatenate(distributed.all_gather_array(counts))
    rows, inverse = np.unique(rows, axis=0, return_inverse=True)
    counts = np.bincount(inverse.reshape(-1), weights=counts, minlength=len(rows))
    return rows[:, :width], rows[:, width], counts


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
class NGram(SequenceModel):
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
        Vocabulary size V; None means 1 + the largest symbol seen by ``fit`` (refused when
        implausibly large: see :func:`genlearn.sequences.vocabulary_size`).
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
        array with ``lengths``, as hmmlearn takes it). Returns ``self``.

        Across processes every rank passes the same data and counts its shard, or passes only
        its own part as ``genlearn.distributed.Sharded(part)``; either way the counts of all
        ranks are merged and every rank holds the model of all the data."""
        self._validate_params()
        X, own = distributed.own_part(X)
        parsed = self._parse(X, lengths, fitting=True)
        flat, lens = parsed.flat, parsed.lengths
        V = vocabulary_size(flat, self.n_symbols)
        if own:
            V = distributed.max_int(V)
        B, N = V + 1, int(self.order)
        if (flat.size + 1) * B >= 2**62:
            raise ValueError(f"{flat.size} symbols over a vocabulary of {V} overflow the int64 "
                             "n-gram keys; fit on less data")
        if distributed.is_distributed():
            back, symbols, weight = _merged_grams(parsed, N - 1, V, own)
        else:
            (back, _), symbols, weight = _contexts(flat, lens, N - 1, bos=V), flat, None
        # Histories get ids level by level: the history of length j is (oldest symbol, history
        # of length j-1), so its key is (id of the shorter one) * B + oldest symbol, and its id
        # is the rank of that key. Keys stay below (number of histories) * B: no overflow.
        hist = np.zeros(symbols.size, dtype=np.int64)  # id of the empty history
        self.hist_keys_ = [np.zeros(1, dtype=np.int64)]
        self.ngram_keys_, self.ngram_counts_ = [], []
        for j in range(N):
            if j > 0:
                keys, hist = np.unique(hist * B + back[:, j - 1], return_inverse=True)
                self.hist_keys_.append(keys)
                hist = hist.reshape(-1)
            keys, counts = _weighted_unique(hist * B + symbols, weight)
            self.ngram_keys_.append(keys)
            self.ngram_counts_.append(counts)
        self.order_, self.smoothing_ = N, self.smoothing
        self.discount_, self.k_ = float(self.discount), float(self.k)
        self.n_symbols_ = V
        self.n_symbols_seen_ = int(np.unique(symbols).size)  # no (V,) array: V may be huge
        self.n_sequences_, self.n_train_symbols_ = len(lens), int(flat.size)
        if own:  # totals over the ranks' parts
            self.n_sequences_, self.n_train_symbols_ = (int(v) for v in distributed.all_reduce_sum(
                torch.tensor([len(lens), flat.size], dtype=torch.int64)))
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
        gib = ids.shape[0] * V * 8 / 2**30
        if gib > 4:  # refuse rather than meet the OOM killer (an explicit huge n_symbols)
            raise ValueError(f"{ids.shape[0]} next-symbol distributions over {V} symbols need "
                             f"{gib:.0f} GiB; ask for fewer at a time or use fewer symbols")
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
            arr = parse_sequences([arr], name=name, n_symbols=self.n_symbols_).flat
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
        parsed = self._parse(X, lengths)
        flat, lens = parsed.flat, parsed.lengths
        back, seq_of = _contexts(flat, lens, self.order_ - 1, bos=self.n_symbols_)
        p = self._position_probs(self._history_ids(back), flat)
        return np.bincount(seq_of, weights=np.log(p), minlength=lens.size), int(flat.size)

    def log_prob(self, X, lengths=None) -> np.ndarray:
        """Per-sequence log-likelihood in nats, exact under the smoothed n-gram model.

        ``X`` as in :meth:`fit`. log p(x) = sum_t log p(x_t | previous order-1 symbols), the
        context before the first symbol being the start of the sequence. Returns (n_sequences,).
        """
        return self._log_prob_flat(X, lengths)[0]

    def _log_prob_and_steps(self, X, lengths=None):  # bits_per_symbol and evaluate use it
        return self._log_prob_flat(X, lengths)

    def log_prob_estimator(self) -> str:
        return f"exact (smoothed {self.order_}-gram, {self.smoothing_})"

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
