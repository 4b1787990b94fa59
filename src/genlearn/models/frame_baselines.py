"""Baselines for piano-roll frames: independent keys, and an HMM over the chords.

``KeyBernoulli``: every frame independent, every key an independent Bernoulli,
p(v) = prod_i p_i^v_i (1 - p_i)^(1 - v_i), p_i the smoothed share of training frames with key i
on. Exact; the scale against which a sequence model's per-step figure means anything.

``ChordHMM``: an HMM (:class:`genlearn.HMM`, categorical emissions, Baum-Welch) over chord
symbols -- a frame's set of sounding keys. Chords seen at least ``min_count`` times in training
get a symbol; the rest share one symbol OTHER, and a frame mapped to OTHER is spread over every
chord outside the vocabulary by the independent-key model q:

    p(v | z) = e_z[c(v)]                              if v is in the vocabulary
             = e_z[OTHER] q(v) / (1 - sum_{c in vocab} q(c))   otherwise

so every possible frame, seen or not, has a proper, exact probability (the chords seen once
stand in for the unseen ones, the Good-Turing idea, so OTHER has mass learned from data).
``log_prob`` is the HMM's forward algorithm (exact).
"""

from __future__ import annotations

import numpy as np

from .._utils import check_float, check_int, check_n
from ..base import GenerativeModel
from ..registry import register
from .hmm import HMM


def _check_rolls(X, n_keys=None, name="X") -> list[np.ndarray]:
    if isinstance(X, np.ndarray) and X.ndim == 2:
        X = [X]
    if not isinstance(X, (list, tuple)) or not X:
        raise ValueError(f"{name} must be a non-empty list of (T, D) 0/1 piano rolls")
    out = []
    for i, r in enumerate(X):
        r = np.asarray(r)
        if r.ndim != 2 or r.shape[0] < 1 or not np.isin(r, (0, 1)).all():
            raise ValueError(f"{name}[{i}] must be a (T, D) 0/1 piano roll with T >= 1")
        if n_keys is not None and r.shape[1] != n_keys:
            raise ValueError(f"{name}[{i}] has {r.shape[1]} keys; expected {n_keys}")
        n_keys = r.shape[1]
        out.append(r.astype(np.uint8))
    return out


def _bernoulli_log(rolls, p) -> list[np.ndarray]:
    lp, lq = np.log(p), np.log1p(-p)
    return [r @ lp + (1 - r) @ lq for r in rolls]


def contract_rolls(n: int = 12, keys: int = 6, seed: int = 0) -> list:
    """Tiny random piano rolls (pieces of 5-8 frames over ``keys`` keys) for the contract suite."""
    rng = np.random.default_rng(seed)
    return [(rng.random((int(rng.integers(5, 9)), keys)) < 0.3).astype(np.float64)
            for _ in range(n)]


class _FrameModel(GenerativeModel):
    input_kind = "sequences"
    conditional = False
    has_likelihood = True
    resumable = False
    epoch_trained = False
    _CONTRACT_PARAMS: dict = {}

    @classmethod
    def _contract_example(cls) -> dict:
        return {"params": dict(cls._CONTRACT_PARAMS), "X": contract_rolls(),
                "sample": {"length": 6}}

    def log_prob(self, X) -> np.ndarray:
        """Exact log-likelihood of each piece (nats), the sum of :meth:`log_prob_steps`."""
        return np.array([s.sum() for s in self.log_prob_steps(X)])

    def nll_per_step(self, X) -> float:
        steps = self.log_prob_steps(X)
        return float(-np.concatenate(steps).sum() / sum(len(s) for s in steps))

    @property
    def data_shape(self):
        n = getattr(self, "n_keys_", None)
        return None if n is None else (None, n)


@register("key_bernoulli")
class KeyBernoulli(_FrameModel):
    """Independent Bernoulli keys, independent frames; ``alpha`` add-alpha smoothing."""

    def __init__(self, alpha=0.5):
        self.alpha = alpha
        self._validate_params()

    def _validate_params(self):
        check_float(self.alpha, "alpha", low=0.0, low_open=True)

    def fit(self, X, y=None):
        rolls = _check_rolls(X)
        frames = np.concatenate(rolls)
        self.n_keys_ = frames.shape[1]
        self.p_ = (frames.sum(0) + self.alpha) / (len(frames) + 2 * self.alpha)
        self.is_fitted_ = True
        return self

    def log_prob_steps(self, X) -> list[np.ndarray]:
        self._check_fitted()
        return _bernoulli_log(_check_rolls(X, self.n_keys_), self.p_)

    def sample(self, n, length=64, *, seed=None, prompt=None):
        self._check_fitted()
        rng = np.random.default_rng(seed)
        return [(rng.random((check_n(length, "length"), self.n_keys_)) < self.p_).astype(np.uint8)
                for _ in range(check_n(n))]

    def _get_state(self):
        import torch

        return {"n_keys_": self.n_keys_}, {"p": torch.from_numpy(self.p_)}

    def _set_state(self, meta, tensors):
        self.n_keys_ = int(meta["n_keys_"])
        self.p_ = tensors["p"].double().numpy()
        self.is_fitted_ = True


@register("chord_hmm")
class ChordHMM(_FrameModel):
    """HMM over chord symbols with an OTHER symbol spread by independent keys (see module)."""

    _CONTRACT_PARAMS = {"n_states": 2, "n_iter": 3, "min_count": 1}

    def __init__(self, n_states=16, min_count=2, n_iter=100, floor=1e-3, seed=0,
                 verbose=False):
        self.n_states, self.min_count, self.n_iter = n_states, min_count, n_iter
        self.floor, self.seed, self.verbose = floor, seed, verbose
        self._validate_params()

    def _validate_params(self):
        check_int(self.n_states, "n_states", low=1)
        check_int(self.min_count, "min_count", low=1)
        check_int(self.n_iter, "n_iter", low=1)
        check_float(self.floor, "floor", low=0.0)

    def _symbols(self, rolls) -> list[np.ndarray]:
        index = {c: i + 1 for i, c in enumerate(self.chords_)}
        return [np.array([index.get(f.tobytes(), 0) for f in r], dtype=np.int64) for r in rolls]

    def fit(self, X, y=None):
        rolls = _check_rolls(X)
        frames = np.concatenate(rolls)
        self.n_keys_ = frames.shape[1]
        self.p_ = (frames.sum(0) + 0.5) / (len(frames) + 1.0)
        chords, counts = np.unique(frames, axis=0, return_counts=True)
        keep = chords[counts >= self.min_count]
        self.chords_ = [c.astype(np.uint8).tobytes() for c in keep]
        self._set_other_mass()
        self.hmm_ = HMM(n_states=self.n_states, emission="categorical",
                        n_symbols=len(self.chords_) + 1, n_iter=self.n_iter, floor=self.floor,
                        seed=self.seed, device="cpu", verbose=self.verbose)
        self.hmm_.fit(self._symbols(rolls))
        self.is_fitted_ = True
        return self

    def _set_other_mass(self):
        vocab = np.array([np.frombuffer(c, np.uint8) for c in self.chords_]).reshape(
            -1, self.n_keys_)
        q_vocab = np.exp(_bernoulli_log([vocab], self.p_)[0]).sum() if len(vocab) else 0.0
        self.log_other_norm_ = float(np.log1p(-min(q_vocab, 1 - 1e-12)))

    def log_prob_steps(self, X) -> list[np.ndarray]:
        """log p(v_t | v_<t): differences of the HMM's exact prefix log-likelihoods, plus
        log q(v) / (1 - q(vocabulary)) for frames outside the vocabulary."""
        self._check_fitted()
        rolls = _check_rolls(X, self.n_keys_)
        syms = self._symbols(rolls)
        prefixes = [s[:t] for s in syms for t in range(1, len(s) + 1)]
        ll = self.hmm_.log_prob(prefixes)
        out, k = [], 0
        q = _bernoulli_log(rolls, self.p_)
        for s, qs in zip(syms, q, strict=False):
            cum = ll[k:k + len(s)]
            k += len(s)
            steps = np.diff(np.concatenate([[0.0], cum]))
            out.append(steps + np.where(s == 0, qs - self.log_other_norm_, 0.0))
        return out

    def sample(self, n, length=64, *, seed=None, prompt=None):
        """Chords from the HMM (filtered on ``prompt`` if given); OTHER draws independent keys
        until the frame falls outside the vocabulary (rejection, exact)."""
        self._check_fitted()
        rng = np.random.default_rng(seed)
        p = None if prompt is None else self._symbols(_check_rolls([prompt], self.n_keys_))[0]
        seqs = self.hmm_.sample(check_n(n), check_n(length, "length"), seed=seed, prompt=p)
        vocab = set(self.chords_)
        out = []
        for s in seqs:
            roll = np.zeros((len(s), self.n_keys_), dtype=np.uint8)
            for t, sym in enumerate(np.asarray(s).ravel()):
                if sym > 0:
                    roll[t] = np.frombuffer(self.chords_[sym - 1], np.uint8)
                    continue
                for _ in range(10000):
                    f = (rng.random(self.n_keys_) < self.p_).astype(np.uint8)
                    if f.tobytes() not in vocab:
                        break
                roll[t] = f
            out.append(roll)
        return out

    def _get_state(self):
        import torch

        meta, tensors = self.hmm_._get_state()
        chords = np.array([np.frombuffer(c, np.uint8) for c in self.chords_]).reshape(
            -1, self.n_keys_)
        tensors = {f"hmm.{k}": v for k, v in tensors.items()}
        tensors.update(p=torch.from_numpy(self.p_), chords=torch.from_numpy(chords))
        return {"n_keys_": self.n_keys_, "hmm": meta,
                "hmm_params": self.hmm_.get_params()}, tensors

    def _set_state(self, meta, tensors):
        from .._utils import strip_prefix

        self.n_keys_ = int(meta["n_keys_"])
        self.p_ = tensors["p"].double().numpy()
        self.chords_ = [c.astype(np.uint8).tobytes() for c in tensors["chords"].numpy()]
        self._set_other_mass()
        self.hmm_ = HMM(**meta["hmm_params"])
        self.hmm_._set_state(meta["hmm"], strip_prefix(tensors, "hmm."))
        self.is_fitted_ = True
