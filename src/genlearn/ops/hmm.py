"""Hidden Markov model recursions, batched over padded sequences.

Every function takes emission log-probabilities ``log_b`` of shape (N, T, K) for N sequences
padded to length T over K states, and ``lengths`` (N,). Positions at or past a sequence's length
are ignored. The scaled forward-backward (Rabiner 1989) runs in probability space with one
normaliser per step and a per-step max-shift of the emissions, so nothing underflows however
long the sequence, and costs one batched (N, K) @ (K, K) product per step; Viterbi runs in log
space. Both are exact, in the dtype given (float64 by default in the models).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass
class Posteriors:
    """What the E-step of Baum-Welch needs, for a batch of sequences."""

    log_likelihood: torch.Tensor  # (N,) log p(x_n)
    gamma: torch.Tensor  # (N, T, K) posterior state marginals (zero past the end)
    xi_sum: torch.Tensor  # (K, K) expected transition counts, summed over sequences and time


def valid_mask(lengths: torch.Tensor, T: int) -> torch.Tensor:
    """(N, T) bool: True where t < length."""
    return torch.arange(T, device=lengths.device)[None, :] < lengths[:, None]


def _scaled_forward(start, trans, b, valid):
    """alpha_t normalised to sum 1 and the log normalisers log c_t (0 past the end)."""
    N, T, K = b.shape
    alpha = torch.empty_like(b)
    log_c = torch.zeros(N, T, dtype=b.dtype, device=b.device)
    a = start[None, :] * b[:, 0]
    for t in range(T):
        if t > 0:
            a = (alpha[:, t - 1] @ trans) * b[:, t]
        c = a.sum(-1, keepdim=True)
        a = a / c
        if t > 0:  # past the end: carry the last alpha, normaliser 1
            keep = valid[:, t, None]
            a = torch.where(keep, a, alpha[:, t - 1])
            c = torch.where(keep, c, torch.ones_like(c))
        alpha[:, t] = a
        log_c[:, t] = torch.log(c[:, 0])
    return alpha, log_c


def forward_backward(log_start: torch.Tensor, log_trans: torch.Tensor, log_b: torch.Tensor,
                     lengths: torch.Tensor) -> Posteriors:
    """Exact posteriors and log-likelihoods by the scaled forward-backward algorithm.

    ``log_start`` (K,), ``log_trans`` (K, K) and ``log_b`` (N, T, K) are log-probabilities;
    ``-inf`` entries (forbidden transitions, impossible emissions) are allowed. A sequence that
    has probability zero under the model gets log-likelihood ``-inf`` and zero posteriors.
    """
    N, T, K = log_b.shape
    valid = valid_mask(lengths, T)
    # max-shift per step: the largest emission probability at each (n, t) becomes 1
    shift = torch.amax(log_b, dim=-1, keepdim=True)
    shift = torch.where(torch.isfinite(shift), shift, torch.zeros_like(shift))
    shift = torch.where(valid[..., None], shift, torch.zeros_like(shift))
    b = torch.exp(log_b - shift)
    b = torch.where(valid[..., None], b, torch.ones_like(b))
    start, trans = torch.exp(log_start), torch.exp(log_trans)
    alpha, log_c = _scaled_forward(start, trans, b, valid)
    log_lik = (log_c + shift[..., 0]).masked_fill(~valid, 0.0).sum(-1)
    impossible = ~torch.isfinite(log_lik)
    if impossible.any():  # 0/0 in the normalisers: leave those sequences out of the statistics
        alpha = torch.nan_to_num(alpha, nan=0.0)
        log_lik = torch.where(impossible, torch.full_like(log_lik, -math.inf), log_lik)

    # backward pass: beta_t = trans @ (b_{t+1} * beta_{t+1}) / c_{t+1}, 1 at and past the end
    beta = torch.ones_like(b)
    c = torch.exp(log_c)
    for t in range(T - 2, -1, -1):
        nxt = (b[:, t + 1] * beta[:, t + 1] / c[:, t + 1, None]) @ trans.T
        beta[:, t] = torch.where(valid[:, t + 1, None], nxt, beta[:, t])
    beta = torch.nan_to_num(beta, nan=0.0, posinf=0.0)
    gamma = (alpha * beta).masked_fill(~valid[..., None], 0.0)
    gamma = gamma.masked_fill(impossible[:, None, None], 0.0)

    # expected transitions: sum_t alpha_t[i] A[i, j] b_{t+1}[j] beta_{t+1}[j] / c_{t+1}
    if T > 1:
        pair_ok = (valid[:, 1:] & ~impossible[:, None])[..., None]
        right = (b[:, 1:] * beta[:, 1:] / c[:, 1:, None]).masked_fill(~pair_ok, 0.0)
        left = alpha[:, :-1].masked_fill(~pair_ok, 0.0)
        xi_sum = trans * (left.reshape(-1, K).T @ right.reshape(-1, K))
    else:
        xi_sum = torch.zeros(K, K, dtype=b.dtype, device=b.device)
    return Posteriors(log_lik, gamma, xi_sum)


def forward_log_likelihood(log_start: torch.Tensor, log_trans: torch.Tensor,
                           log_b: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """log p(x_n) for each sequence by the scaled forward pass alone (no posteriors)."""
    N, T, K = log_b.shape
    valid = valid_mask(lengths, T)
    shift = torch.amax(log_b, dim=-1, keepdim=True)
    shift = torch.where(torch.isfinite(shift) & valid[..., None], shift, torch.zeros_like(shift))
    b = torch.where(valid[..., None], torch.exp(log_b - shift), torch.ones_like(log_b))
    _, log_c = _scaled_forward(torch.exp(log_start), torch.exp(log_trans), b, valid)
    log_lik = (log_c + shift[..., 0]).masked_fill(~valid, 0.0).sum(-1)
    return torch.nan_to_num(log_lik, nan=-math.inf)


def viterbi(log_start: torch.Tensor, log_trans: torch.Tensor, log_b: torch.Tensor,
            lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Most probable state path per sequence, in log space.

    Returns (log p(x, path) of shape (N,), paths (N, T) int64, -1 past each sequence's end).
    """
    N, T, K = log_b.shape
    valid = valid_mask(lengths, T)
    delta = log_start[None, :] + log_b[:, 0]
    back = torch.zeros(N, T, K, dtype=torch.long, device=log_b.device)
    for t in range(1, T):
        scores = delta[:, :, None] + log_trans[None]  # (N, K_from, K_to)
        best, arg = scores.max(dim=1)
        new = best + log_b[:, t]
        keep = valid[:, t, None]
        delta = torch.where(keep, new, delta)
        back[:, t] = torch.where(keep, arg, torch.arange(K, device=log_b.device)[None, :])
    score, last = delta.max(dim=-1)
    paths = torch.empty(N, T, dtype=torch.long, device=log_b.device)
    state = last
    for t in range(T - 1, -1, -1):
        paths[:, t] = state
        state = back[:, t].gather(1, state[:, None])[:, 0]
    paths = paths.masked_fill(~valid, -1)
    return score, paths
