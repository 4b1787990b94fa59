"""Partition functions of energy-based models: exact enumeration and annealed importance sampling.

Exact: log Z = log sum_s exp(g(s)) over every configuration s of one layer, where g is the
log-marginal after summing out the other layer analytically. The states are generated in chunks
(bit patterns of consecutive integers, or mixed-radix one-hot codes) and combined with a running
log-sum-exp in float64, so 2^24 states cost memory for one chunk only.

AIS (Neal 2001; Salakhutdinov & Murray 2008): chains start from a tractable base distribution
p_0 and move through intermediate distributions p_k ~ f_k, k = 0..K (f_K the target). The
importance weight of a chain is prod_k f_k(x_{k-1}) / f_{k-1}(x_{k-1}), with x_k drawn by a
transition operator that leaves p_k invariant, and

    Z_K / Z_0 ~= mean(w),   se(log Z_K) ~= std(w) / (mean(w) sqrt(M))   (delta method, M chains).

The estimate of Z is unbiased; its logarithm is biased low (Jensen), so AIS tends to
under-estimate log Z and therefore over-estimate log-likelihoods when too few chains or
temperatures are used.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch


class LogPartition(NamedTuple):
    """log Z, its standard error (0 for exact), and how it was computed."""

    log_z: float
    stderr: float
    method: str  # "exact" or "ais"
    detail: str  # e.g. "2^20 hidden states" or "100 chains, 10000 temperatures"


def binary_states(start: int, stop: int, n_bits: int, *, dtype=torch.float64,
                  device=None) -> torch.Tensor:
    """Rows ``start..stop-1`` of the table of all 2^n_bits binary vectors: (stop-start, n_bits)."""
    codes = torch.arange(start, stop, device=device, dtype=torch.int64)
    bits = torch.bitwise_left_shift(torch.ones(n_bits, dtype=torch.int64, device=device),
                                    torch.arange(n_bits, device=device))
    return (torch.bitwise_and(codes[:, None], bits) != 0).to(dtype)


def one_hot_states(start: int, stop: int, sizes: tuple[int, ...], *, dtype=torch.float64,
                   device=None) -> torch.Tensor:
    """Rows ``start..stop-1`` of all prod(sizes) concatenations of one-hot groups (mixed radix)."""
    codes = torch.arange(start, stop, device=device, dtype=torch.int64)
    parts = []
    for k in sizes:
        parts.append(torch.nn.functional.one_hot(codes % k, k).to(dtype))
        codes = codes // k
    return torch.cat(parts, dim=1)


def logsumexp_over_states(log_f: Callable[[torch.Tensor], torch.Tensor],
                          states: Callable[[int, int], torch.Tensor], n_states: int,
                          chunk: int = 1 << 15) -> float:
    """log sum_s exp(log_f(s)) over ``n_states`` states produced ``chunk`` at a time."""
    acc = torch.tensor(-math.inf, dtype=torch.float64)
    for start in range(0, n_states, chunk):
        vals = log_f(states(start, min(start + chunk, n_states))).to("cpu", torch.float64)
        acc = torch.logaddexp(acc, torch.logsumexp(vals, dim=0))
    return float(acc)


def ais_betas(n_betas: int, dtype=torch.float64) -> torch.Tensor:
    """Inverse temperatures 0 = b_0 < ... < b_K = 1, denser near 1.

    The proportions of Salakhutdinov & Murray (2008): 500 steps on [0, 0.5], 4,000 on
    [0.5, 0.9] and 10,000 on [0.9, 1] of their 14,500, scaled to ``n_betas`` in total.
    """
    if n_betas < 3:
        return torch.linspace(0.0, 1.0, max(n_betas, 2), dtype=dtype)
    n1 = max(1, round(n_betas * 500 / 14500))
    n2 = max(1, round(n_betas * 4000 / 14500))
    n3 = max(1, n_betas - n1 - n2)
    return torch.cat([torch.linspace(0.0, 0.5, n1 + 1, dtype=dtype)[:-1],
                      torch.linspace(0.5, 0.9, n2 + 1, dtype=dtype)[:-1],
                      torch.linspace(0.9, 1.0, n3 + 1, dtype=dtype)])


def log_mean_exp_with_stderr(log_w: torch.Tensor) -> tuple[float, float]:
    """log(mean(w)) and the delta-method standard error of that log, from log weights (M,)."""
    log_w = log_w.to(torch.float64).flatten()
    m = log_w.numel()
    top = log_w.max()
    if not torch.isfinite(top):
        return float(top), math.inf
    w = torch.exp(log_w - top)
    mean = w.mean()
    se = float(w.std(unbiased=True) / (mean * math.sqrt(m))) if m > 1 else math.inf
    return float(torch.log(mean) + top), se


def annealed_importance_sampling(
    *,
    init: Callable[[int], torch.Tensor],
    advance: Callable[[torch.Tensor, float, float], tuple[torch.Tensor, torch.Tensor]],
    log_z0: float,
    n_chains: int,
    betas: torch.Tensor,
) -> tuple[float, float, torch.Tensor]:
    """log Z_1 by AIS from a base with known ``log_z0``; returns (log Z, stderr, log weights).

    ``init(M)`` draws M exact samples of p_0. ``advance(x, beta_prev, beta)`` returns
    ``log f_beta(x) - log f_beta_prev(x)`` (shape (M,)) and a new state drawn by one Markov
    step that leaves p_beta invariant (one call, so a model can share the work between the
    two, e.g. the hidden pre-activations of an RBM).
    """
    x = init(n_chains)
    log_w = torch.zeros(n_chains, dtype=torch.float64, device=x.device)
    for k in range(1, len(betas)):
        delta, x = advance(x, float(betas[k - 1]), float(betas[k]))
        log_w += delta.to(torch.float64)
    est, se = log_mean_exp_with_stderr(log_w)
    return log_z0 + est, se, log_w.cpu()
