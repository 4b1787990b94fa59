"""Hidden Markov model trained by Baum-Welch EM, batched over sequences, on CPU or GPU.

    p(x_1..T, z_1..T) = startprob[z_1] prod_t transmat[z_{t-1}, z_t] prod_t p(x_t | z_t)

``log_prob`` is exact: the forward algorithm (scaled, float64 by default). The E-step runs the
scaled forward-backward of :mod:`genlearn.ops.hmm` over many padded sequences at once (sorted by
length and cut into batches of at most ``chunk_size`` time steps, so memory is bounded by the
chunk, not the data) and adds up sufficient statistics; the M-step turns those into parameters.
Learned parameters carry hmmlearn's names (``startprob_``, ``transmat_``, ``emissionprob_``,
``means_``, ``covars_``, ``weights_``, ``lambdas_``), can be set by hand before ``fit``, and
``update`` / ``initialize`` say which ones EM changes and which ones it initialises (a zero in
``transmat_`` stays zero, so a left-right topology stays left-right).

States that receive no posterior mass keep their previous parameters instead of turning into
0/0 = NaN (the most common complaint of hmmlearn's users); ``floor`` adds a small pseudo-count
to every transition and emission count so no probability reaches exactly zero.

Input goes through :func:`genlearn.sequences.parse_sequences`, the parser every sequence model
shares. Under ``torch.distributed`` the E-step is split over the ranks (:mod:`.hmm_em`).
"""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np
import torch

from .. import distributed
from .._utils import check_choice, check_common, check_float, check_int, check_n, resolve_device
from ..ops.hmm import (
    Workspace,
    cpu_threads,
    filtered_states,
    forward_backward,
    forward_log_likelihood,
    padded_batches,
    viterbi,
)
from ..registry import register
from ..sequences import SequenceModel
from .hmm_em import ConvergenceWarning, data_sizes, draw_tempered, e_step, run_em
from .hmm_emissions import EMISSIONS, draw_rows
from .hmm_params import check_chain

__all__ = ["HMM", "ConvergenceWarning"]

log = logging.getLogger(__name__)

CHAIN_PARAMS = ("startprob", "transmat")


@register("hmm")
class HMM(SequenceModel):
    """Hidden Markov model with categorical, Gaussian, Gaussian-mixture or Poisson emissions.

    Parameters
    ----------
    n_states : int
        Number of hidden states K.
    emission : {"categorical", "gaussian", "gmm", "poisson"}
    covariance_type : {"diag", "full", "spherical", "tied"}
        Gaussian and GMM emissions only.
    n_mix : int
        GMM emissions: Gaussian components per state (``weights_`` (K, n_mix)).
    n_symbols : int or None
        Categorical only: vocabulary size (default 1 + the largest symbol in the data, refused
        when implausibly large: see :func:`genlearn.sequences.vocabulary_size`).
    n_iter, tol : int, float
        EM stops after ``n_iter`` iterations or when the log-likelihood gains less than ``tol``.
    n_init : int
        Random restarts; the one with the best final log-likelihood is kept.
    init : {"kmeans", "random"}
        How Gaussian means are initialised.
    update, initialize : tuple of str
        Parameters EM updates, and parameters ``fit`` initialises (the others must be set by
        hand before ``fit``): "startprob", "transmat" and the emission's ("emissionprob";
        "means", "covars"; "lambdas"). "all" means every one.
    floor : float
        Pseudo-count added to transition and emission counts in each M-step (0: none).
    min_covar, means_prior, means_weight, covars_prior, covars_weight
        Gaussian: as in hmmlearn (MAP M-step; ``min_covar`` is added at initialisation and is
        the floor of every variance and covariance eigenvalue after each M-step, so collinear
        features keep a positive-definite covariance; a floor that does not bind changes
        nothing). GMM: ``min_covar`` is added to every component's variances.
    startprob_prior, transmat_prior, emissionprob_prior : float
        Dirichlet priors (1 = maximum likelihood), as in hmmlearn.
    chunk_size : int or None
        Largest number of (padded) time steps the recursions hold at once; a longer sequence
        is processed in time blocks (checkpointed forward-backward), so memory is bounded by
        the chunk, not the data. None: about 2**25 / n_states steps (256 MB per float64
        (steps, states) array).
    dtype : {"float64", "float32"}
    seed, device, verbose

    A model whose parameters are all set by hand (``startprob_``, ``transmat_`` and the
    emission's) can be scored, decoded and sampled without ``fit``, as in hmmlearn; they are
    validated first.
    """

    input_kind = "sequences"
    conditional = False
    has_likelihood = True
    resumable = False
    epoch_trained = False

    def __init__(self, n_states=4, emission="categorical", covariance_type="diag",
                 n_symbols=None, n_mix=1, n_iter=100, tol=1e-4, n_init=1, init="kmeans",
                 update="all", initialize="all", floor=0.0, min_covar=1e-3, means_prior=0.0,
                 means_weight=0.0, covars_prior=1e-2, covars_weight=1.0, startprob_prior=1.0,
                 transmat_prior=1.0, emissionprob_prior=1.0, chunk_size=None, dtype="float64",
                 seed=0, device="auto", verbose=True):
        self.n_states = n_states
        self.emission = emission
        self.covariance_type = covariance_type
        self.n_symbols = n_symbols
        self.n_mix = n_mix
        self.n_iter = n_iter
        self.tol = tol
        self.n_init = n_init
        self.init = init
        self.update = update
        self.initialize = initialize
        self.floor = floor
        self.min_covar = min_covar
        self.means_prior = means_prior
        self.means_weight = means_weight
        self.covars_prior = covars_prior
        self.covars_weight = covars_weight
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.emissionprob_prior = emissionprob_prior
        self.chunk_size = chunk_size
        self.dtype = dtype
        self.seed = seed
        self.device = device
        self.verbose = verbose
        self._validate_params()

    # -- hyperparameters ------------------------------------------------------------------
    def _param_names(self) -> tuple[str, ...]:
        return CHAIN_PARAMS + EMISSIONS[self.emission].param_names

    def _names(self, value, field: str) -> tuple[str, ...]:
        known = self._param_names()
        if value == "all":
            return known
        if isinstance(value, str):
            value = (value,)
        value = tuple(value)
        for v in value:
            if v not in known:
                raise ValueError(f"{field}: unknown parameter {v!r} for {self.emission} "
                                 f"emissions; choose from {list(known)} or 'all'")
        return value

    def _validate_params(self) -> None:
        check_int(self.n_states, "n_states", low=1)
        check_choice(self.emission, "emission", tuple(EMISSIONS))
        check_choice(self.covariance_type, "covariance_type", ("diag", "full", "spherical", "tied"))
        check_int(self.n_symbols, "n_symbols", low=1, allow_none=True)
        check_int(self.n_mix, "n_mix", low=1)
        check_int(self.n_iter, "n_iter", low=0)
        if isinstance(self.tol, bool) or not isinstance(self.tol, (int, float)) or math.isnan(
                self.tol) or self.tol == math.inf:
            raise ValueError(f"tol must be a number (-inf runs all n_iter); got {self.tol!r}")
        check_int(self.n_init, "n_init", low=1)
        check_choice(self.init, "init", ("kmeans", "random"))
        self._names(self.update, "update")
        self._names(self.initialize, "initialize")
        check_float(self.floor, "floor", low=0.0)
        check_float(self.min_covar, "min_covar", low=0.0)
        check_float(self.means_weight, "means_weight", low=0.0)
        check_float(self.covars_prior, "covars_prior", low=0.0)
        check_float(self.covars_weight, "covars_weight", low=0.0)
        for name in ("startprob_prior", "transmat_prior", "emissionprob_prior"):
            check_float(getattr(self, name), name, low=0.0)
        check_int(self.chunk_size, "chunk_size", low=1, allow_none=True)
        check_choice(self.dtype, "dtype", ("float64", "float32"))
        check_common(self)  # image_shape, seed, device, verbose

    # -- data -----------------------------------------------------------------------------
    def _sequence_kind(self) -> str:
        return "categorical" if self.emission == "categorical" else "continuous"

    def _sequences(self, X, lengths=None, *, fitting=False):
        """The parsed sequences (:func:`genlearn.sequences.parse_sequences`)."""
        parsed = self._parse(X, lengths, fitting=fitting)
        if self.emission == "poisson":
            flat = parsed.flat
            if np.any(flat < 0) or np.any(flat != np.round(flat)):
                raise ValueError("X: Poisson emissions need non-negative integer counts")
        if fitting and parsed.n_symbols_total < self.n_states:
            raise ValueError(f"{parsed.n_symbols_total} observations are fewer than n_states="
                             f"{self.n_states}: too many states for the data")
        return parsed

    def _chunk_steps(self) -> int:
        """Time steps per E-step batch: ``chunk_size``, or about 2**25 cells / n_states."""
        if self.chunk_size is not None:
            return int(self.chunk_size)
        return max(1, (1 << 25) // self.n_states)

    def _batches(self, seqs):
        return padded_batches(seqs, self._chunk_steps(), device=self.device_, dtype=self.dtype_)

    def _threads(self, seqs) -> int | None:
        """Torch CPU threads for the recursions: 1 unless a step's product is large.

        A step multiplies (N, K) by (K, K); below ~16M multiply-adds per step, one thread beats
        several (see :func:`genlearn.ops.hmm.cpu_threads`). None leaves torch's setting.
        """
        if self.device_.type != "cpu":
            return None
        return 1 if len(seqs) * self.n_states**2 < 2**24 else None

    # -- parameters -----------------------------------------------------------------------
    def _emission(self):
        return EMISSIONS[self.emission](self)

    def _log_chain(self):
        z = dict(dtype=self.dtype_, device=self.device_)
        with np.errstate(divide="ignore"):
            return (torch.as_tensor(np.log(self.startprob_), **z),
                    torch.as_tensor(np.log(self.transmat_), **z))

    def _check_params(self) -> None:
        """Validate the chain and the emission's parameters (fitted or set by hand)."""
        check_chain(self.startprob_, self.transmat_, self.n_states)
        self._emission().check(self.n_states)

    def _ready(self) -> None:
        """Before a query: a fitted model, or one whose parameters are all set by hand (as
        hmmlearn allows; it is then validated and usable without fit)."""
        if not getattr(self, "is_fitted_", False):
            missing = [n + "_" for n in self._param_names() if not hasattr(self, n + "_")]
            if missing:
                super()._check_fitted()  # NotFittedError
            self._validate_params()
            name, size = self._emission().data_size()
            if name not in self.__dict__:
                setattr(self, name, int(size))
            self.history_, self.converged_, self.n_iter_ = [], False, 0
        self.device_ = getattr(self, "device_", None) or resolve_device(self.device)
        self.dtype_ = getattr(torch, self.dtype)
        self._check_params()
        self.is_fitted_ = True

    def _check_fitted(self) -> None:  # saving counts a complete hand-set model as fitted too
        self._ready()

    def _init_params(self, seqs, rng, which) -> None:
        K = self.n_states
        if "startprob" in which:
            self.startprob_ = np.full(K, 1.0 / K)
        if "transmat" in which:
            self.transmat_ = np.full((K, K), 1.0 / K)
        data = np.concatenate(seqs)
        self._emission().init(data, K, rng, which)
        for name in self._param_names():
            if not hasattr(self, name + "_"):
                raise ValueError(f"{name}_ is neither set by hand nor in initialize="
                                 f"{self.initialize!r}: set it before fit or let fit initialise "
                                 "it")

    def fit(self, X, lengths=None):
        """Baum-Welch EM on a list of sequences (or hmmlearn's ``X, lengths``). Returns self.

        Inside an initialised ``torch.distributed`` process group every rank passes the same
        data; each runs the E-step on its shard and the statistics are summed across ranks
        (:mod:`genlearn.models.hmm_em`), so every rank ends with the one-process parameters.
        Data too big for one process: each rank passes only its own part,
        ``fit(genlearn.distributed.Sharded(part))``; the vocabulary is then the largest over
        the ranks and the initial parameters are rank 0's (drawn from its part), and EM runs
        on all the parts together.
        """
        self._validate_params()
        self.device_ = resolve_device(self.device)
        self.dtype_ = getattr(torch, self.dtype)
        X, own = distributed.own_part(X)
        parsed = self._sequences(X, lengths, fitting=True)
        seqs = parsed.seqs
        which = self._names(self.initialize, "initialize")
        data_sizes(self, seqs, which, own)  # n_symbols_ or n_features_
        user = {n: getattr(self, n + "_") for n in self._param_names()
                if n not in which and hasattr(self, n + "_")}
        seed = self.seed if self.seed is not None else int(np.random.SeedSequence().entropy % 2**31)
        mine = seqs
        if distributed.is_distributed():  # same data and seed everywhere, E-step on a shard
            if not own:  # (own: each rank's part is its shard)
                distributed.check_same(distributed.fingerprint(parsed.flat, parsed.lengths), "X")
                mine = distributed.shard(seqs)
            seed = int(distributed.all_reduce_sum(torch.tensor(seed * (distributed.rank() == 0))))
        self._workspace = Workspace()  # work arrays kept across EM iterations, freed below
        try:
            with cpu_threads(self._threads(mine)):
                best = None
                for restart in range(self.n_init):
                    rng = np.random.default_rng([seed, restart])
                    for name, value in user.items():
                        setattr(self, name + "_", np.array(value, dtype=np.float64))
                    self._init_params(seqs, rng, which)
                    if own:  # rank 0's start, from its part, everywhere
                        for name, value in distributed.broadcast_arrays(
                                {n: getattr(self, n + "_") for n in self._param_names()}).items():
                            setattr(self, name + "_", value)
                    self._check_params()
                    history, converged = run_em(self, mine, restart)
                    score = history[-1]["log_likelihood"] if history else e_step(
                        self, mine, with_stats=False)[1]
                    if best is None or score > best[0]:
                        best = (score, {n: np.array(getattr(self, n + "_")) for n in
                                        self._param_names()}, history, converged)
        finally:
            del self._workspace
        _, params, self.history_, self.converged_ = best
        for name, value in params.items():
            setattr(self, name + "_", value)
        self.n_iter_ = len(self.history_)
        self.is_fitted_ = True
        if not self.converged_ and self.n_iter > 0:
            warnings.warn(f"EM did not converge in n_iter={self.n_iter} iterations (last gain "
                          f"above tol={self.tol}); raise n_iter", ConvergenceWarning,
                          stacklevel=2)
        return self

    # -- inference ------------------------------------------------------------------------
    def _query(self, X, lengths):
        """The parsed sequences of a query and an iterator over their padded batches, each as
        (indices, x, lengths, block, (log_start, log_trans, emission)), under the thread policy
        (restored when the iterator ends)."""
        self._ready()
        parsed = self._sequences(X, lengths)

        def batches():
            chain, em = self._log_chain(), self._emission()
            with cpu_threads(self._threads(parsed.seqs)):
                for idx, x, lens, block in self._batches(parsed.seqs):
                    yield idx, x, lens, block, (*chain, em)

        return parsed, batches()

    def log_prob(self, X, lengths=None) -> np.ndarray:
        """Exact log-likelihood log p(x) of each sequence (nats): the forward algorithm."""
        parsed, batches = self._query(X, lengths)
        out = np.empty(len(parsed))
        for idx, x, lens, block, (log_start, log_trans, em) in batches:
            ll = forward_log_likelihood(log_start, log_trans,
                                        lambda s, e, x=x, em=em: em.scaled_b(x[s:e]), lens,
                                        block)
            out[idx] = ll.double().cpu().numpy()
        return out

    def total_log_prob(self, X, lengths=None) -> float:
        """log p of all the sequences together: the sum of :meth:`log_prob`. This is hmmlearn's
        ``score``; genlearn's :meth:`score` is the mean per sequence."""
        return float(self.log_prob(X, lengths).sum())

    @property
    def monitor_(self):
        """EM's record as hmmlearn names it: ``history``, ``converged``, ``iter``."""
        from types import SimpleNamespace

        self._check_fitted()
        return SimpleNamespace(history=[r["log_likelihood"] for r in self.history_],
                               converged=self.converged_, iter=self.n_iter_)

    def predict_proba(self, X, lengths=None):
        """Posterior state marginals p(z_t = k | x), one (T_n, K) array per sequence."""
        parsed, batches = self._query(X, lengths)
        out: list = [None] * len(parsed)
        for idx, x, lens, _, (log_start, log_trans, em) in batches:
            gamma = forward_backward(log_start, log_trans, em.log_b(x), lens)[1]
            gamma = gamma.double().cpu().numpy()
            for r, j in enumerate(idx):
                out[j] = gamma[: len(parsed.seqs[j]), r]
        return np.concatenate(out) if parsed.single else out

    def decode(self, X, lengths=None):
        """Viterbi: (log p(x, best path) per sequence, best state path per sequence)."""
        parsed, batches = self._query(X, lengths)
        scores, paths = np.empty(len(parsed)), [None] * len(parsed)
        for idx, x, lens, _, (log_start, log_trans, em) in batches:
            s, p = viterbi(log_start, log_trans, em.log_b(x), lens)
            s, p = s.double().cpu().numpy(), p.cpu().numpy()
            for r, j in enumerate(idx):
                scores[j], paths[j] = s[r], p[: len(parsed.seqs[j]), r]
        if parsed.single:
            return float(scores.sum()), np.concatenate(paths)
        return scores, paths

    def predict(self, X, lengths=None):
        """The Viterbi state path (concatenated when X is one array)."""
        return self.decode(X, lengths)[1]

    def sample(self, n, length=100, *, seed=None, return_states=False, prompt=None,
               temperature=1.0):
        """``n`` new sequences of ``length`` steps (and their hidden states).

        Ancestral sampling: z_1 ~ startprob_, z_t ~ transmat_[z_{t-1}], x_t ~ p(x | z_t).
        ``prompt`` (an observed sequence, not returned) conditions the draws: the state
        distribution after it, p(z_T | prompt), comes from forward filtering and moves one step
        through ``transmat_``. ``temperature`` T (categorical emissions) draws each symbol from
        p(x_t | x_<t, prompt)^(1/T) renormalised and updates the filter with the symbol drawn:
        below 1 sharper, above 1 flatter; at 1 the same distribution as ancestral sampling.
        """
        self._ready()
        n, length = check_n(n), check_n(length, "length")
        check_float(temperature, "temperature", low=0.0, low_open=True)
        if temperature != 1.0 and self.emission != "categorical":
            raise ValueError("temperature applies to categorical emissions only")
        if temperature != 1.0 and return_states:
            raise ValueError("return_states needs temperature=1 (tempered draws follow the "
                             "symbols' predictive distribution, not a state path)")
        rng = np.random.default_rng(seed)
        em = self._emission()
        A = np.asarray(self.transmat_, dtype=np.float64)
        p0 = np.asarray(self.startprob_, dtype=np.float64)
        if prompt is not None:
            p0 = self._filter(prompt) @ A
        if temperature != 1.0:
            return draw_tempered(p0, A, self.emissionprob_, n, length, temperature, rng)
        z = np.empty((n, length), dtype=np.int64)
        z[:, 0] = draw_rows(np.broadcast_to(p0, (n, len(p0))), rng)
        for t in range(1, length):
            z[:, t] = draw_rows(A[z[:, t - 1]], rng)
        x = em.draw(z.reshape(-1), rng)
        x = x.reshape(n, length, *x.shape[1:])
        seqs, states = list(x), list(z)
        return (seqs, states) if return_states else seqs

    def _filter(self, prompt) -> np.ndarray:
        """p(z_T = k | prompt) by the forward pass: (K,)."""
        seq = self._parse([prompt], name="prompt").seqs[0]
        x = torch.as_tensor(seq, device=self.device_)
        x = x[:, None] if self.emission == "categorical" else x[:, None, :].to(self.dtype_)
        log_start, log_trans = self._log_chain()
        f = filtered_states(log_start, log_trans, self._emission().log_b(x))[0]
        f = f.double().cpu().numpy()
        if not np.all(np.isfinite(f)):
            raise ValueError("the prompt has probability zero under this model (it needs an "
                             "emission or transition that is exactly 0)")
        return f

    def n_parameters(self) -> int:
        """Free parameters (for BIC/AIC): start, transitions and emissions."""
        self._ready()
        K = self.n_states
        return (K - 1) + K * (K - 1) + self._emission().n_free(K)

    def bic(self, X, lengths=None) -> float:
        """Bayesian information criterion (lower is better)."""
        seqs = self._sequences(X, lengths).seqs
        n_obs = sum(len(s) for s in seqs)
        return -2 * self.total_log_prob(seqs) + self.n_parameters() * math.log(n_obs)

    def aic(self, X, lengths=None) -> float:
        """Akaike information criterion (lower is better)."""
        return -2 * self.total_log_prob(X, lengths) + 2 * self.n_parameters()

    def log_prob_estimator(self) -> str:
        return "exact (forward algorithm)"

    # -- checkpoints ----------------------------------------------------------------------
    def _get_state(self):
        meta = {"history_": self.history_, "converged_": self.converged_,
                "n_iter_": self.n_iter_}
        for attr in ("n_symbols_", "n_features_"):
            if hasattr(self, attr):
                meta[attr] = getattr(self, attr)
        tensors = {n: torch.as_tensor(np.asarray(getattr(self, n + "_"), dtype=np.float64))
                   for n in self._param_names()}
        return meta, tensors

    def _set_state(self, meta, tensors) -> None:
        self.device_ = resolve_device(self.device)
        self.dtype_ = getattr(torch, self.dtype)
        for attr in ("n_symbols_", "n_features_"):
            if attr in meta:
                setattr(self, attr, int(meta[attr]))
        self.history_ = list(meta["history_"])
        self.converged_ = bool(meta["converged_"])
        self.n_iter_ = int(meta["n_iter_"])
        for n in self._param_names():
            setattr(self, n + "_", tensors[n].double().numpy())
        self._check_params()
        self.is_fitted_ = True

    @property
    def data_shape(self):
        return (self.n_features_,) if hasattr(self, "n_features_") else None

