"""Baum-Welch EM for the HMM: the E-step's sufficient statistics, the M-step and the loop.

The E-step returns statistics that add up: over batches of sequences (so memory is bounded by a
batch) and over processes. When a ``torch.distributed`` process group is initialised, each
process runs the E-step on its shard of the sequences (:func:`genlearn.distributed.shard`), the
statistics and the log-likelihood are summed with ``all_reduce``, and every process then takes
the same M-step from the same sums -- so every rank holds the same parameters, equal to the
one-process fit up to the rounding of the sums' order (pomegranate's summarize/from_summaries).
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch
from tqdm.auto import tqdm

from .. import distributed
from ..ops.hmm import forward_backward_blocks, forward_log_likelihood, padded_batches
from ..sequences import vocabulary_size
from .hmm_emissions import _normalise_rows, draw_rows

log = logging.getLogger(__name__)


class ConvergenceWarning(UserWarning):
    """EM stopped at ``n_iter`` before the log-likelihood gain fell under ``tol``."""


def data_sizes(model, seqs, which, own: bool) -> None:
    """Set ``n_symbols_`` (categorical: the vocabulary, the largest over the ranks when each
    holds its own part) or ``n_features_`` (equal on every rank) for a fit."""
    if model.emission != "categorical":
        model.n_features_ = seqs[0].shape[1]
        if own:
            distributed.check_same(model.n_features_, "the number of features")
        return
    known = model.__dict__.get("n_symbols_")  # set by hand, or by an earlier fit
    if known is None and "emissionprob" not in which and hasattr(model, "emissionprob_"):
        known = np.shape(model.emissionprob_)[-1]
    model.n_symbols_ = vocabulary_size(np.concatenate(seqs), known or model.n_symbols)
    if own:
        model.n_symbols_ = distributed.max_int(model.n_symbols_)
    gib = model.n_states * model.n_symbols_ * 8 / 2**30  # one float64 (K, S) table
    if gib > 4:  # EM holds several: refuse before allocating, not after the OOM killer
        raise ValueError(f"n_states={model.n_states} x {model.n_symbols_} symbols need "
                         f"{gib:.0f} GiB per emission table; use fewer symbols (remap ids with "
                         "np.unique(x, return_inverse=True)) or fewer states")


def e_step(model, seqs, *, with_stats: bool = True):
    """Sufficient statistics (numpy, float64) and the total log-likelihood of ``seqs``,
    summed over the processes of an initialised process group (each passes its shard)."""
    K = model.n_states
    em = model._emission()
    D = getattr(model, "n_features_", 1)
    z = dict(dtype=model.dtype_, device=model.device_)
    stats = {"start": torch.zeros(K, **z), "trans": torch.zeros(K, K, **z),
             **em.new_stats(K, D, model.device_)}
    log_start, log_trans = model._log_chain()
    ws = getattr(model, "_workspace", None)  # set while fit runs
    total = torch.zeros((), dtype=torch.float64, device=model.device_)
    for _, x, lengths, block in padded_batches(seqs, model._chunk_steps(), **z):
        if not with_stats:
            ll = forward_log_likelihood(log_start, log_trans,
                                        lambda s, e, x=x: em.scaled_b(x[s:e]), lengths, block)
            total += ll.double().sum()
            continue

        def add(s, e, gamma, x=x):  # gamma (e-s, N, K), zero past each end
            if s == 0:
                stats["start"] += gamma[0].sum(0)
            xs = x[s:e]
            em.accumulate(stats, xs.reshape(-1, *xs.shape[2:]), gamma.reshape(-1, K))

        ll, xi = forward_backward_blocks(log_start, log_trans,
                                         lambda s, e, x=x: em.scaled_b(x[s:e], ws), lengths,
                                         x.shape[0], block, add, ws)
        total += ll.double().sum()
        stats["trans"] += xi
    stats["log_likelihood"] = total
    if distributed.is_distributed():
        stats = distributed.all_reduce_sum(stats)
    total = float(stats.pop("log_likelihood"))
    return {k: v.double().cpu().numpy() for k, v in stats.items()}, total


def m_step(model, stats) -> None:
    """New parameters from the summed statistics (MAP with the model's priors)."""
    upd = model._names(model.update, "update")
    if "startprob" in upd:
        counts = np.maximum(model.startprob_prior - 1.0 + stats["start"], 0.0)
        counts = np.where(model.startprob_ == 0, 0.0, counts)  # forbidden starts stay so
        s = counts.sum()
        model.startprob_ = counts / s if s > 0 else model.startprob_
    if "transmat" in upd:
        counts = np.maximum(model.transmat_prior - 1.0 + stats["trans"], 0.0)
        counts = np.where(model.transmat_ == 0, 0.0, counts + model.floor)
        model.transmat_ = _normalise_rows(counts, model.transmat_)
    em = model._emission()
    em_upd = tuple(n for n in upd if n in em.param_names)
    if em_upd:
        em.m_step(stats, model.floor, em_upd)


def run_em(model, seqs, restart: int):
    """EM iterations until the gain falls under ``tol`` or ``n_iter``: (history, converged)."""
    history: list[dict] = []
    converged = False
    desc = f"HMM EM (restart {restart + 1})" if model.n_init > 1 else "HMM EM"
    quiet = not model.verbose or distributed.rank() != 0
    bar = tqdm(total=model.n_iter, desc=desc, disable=quiet, leave=False)
    prev = -math.inf
    try:
        for it in range(model.n_iter):
            stats, ll = e_step(model, seqs)
            if not math.isfinite(ll):
                raise ValueError(f"the data have probability zero under the current "
                                 f"parameters at EM iteration {it + 1}: an emission or "
                                 "transition that the data need is exactly 0 (use floor>0)")
            m_step(model, stats)
            history.append({"iteration": it + 1, "log_likelihood": ll})
            bar.update(1)
            bar.set_postfix(log_likelihood=f"{ll:.6g}", refresh=False)
            if ll < prev - 1e-8 * abs(prev):
                log.warning("EM log-likelihood decreased at iteration %d: %.10g -> %.10g",
                            it + 1, prev, ll)
            if ll - prev < model.tol:
                converged = True
                break
            prev = ll
    finally:
        bar.close()
    return history, converged


def draw_tempered(p0, transmat, emissionprob, n, length, temperature, rng) -> list[np.ndarray]:
    """Categorical draws from p(x_t | x_<t)^(1/T) renormalised, the filter updated with each
    symbol drawn: ``n`` sequences of ``length`` from the state distribution ``p0`` (K,)."""
    A, E = np.asarray(transmat), np.asarray(emissionprob)  # (K, K), (K, S)
    f = np.tile(p0, (n, 1))  # p(z_t | symbols so far), one row per draw
    out = np.empty((n, length), dtype=np.int64)
    for t in range(length):
        P = f @ E  # (n, S) predictive distribution of the next symbol
        with np.errstate(divide="ignore"):
            logits = np.log(P) / temperature
        P = np.exp(logits - logits.max(1, keepdims=True))
        x = draw_rows(P, rng)
        out[:, t] = x
        post = f * E[:, x].T
        f = (post / post.sum(1, keepdims=True)) @ A
    return list(out)
