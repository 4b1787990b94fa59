"""Importance-weighted log-likelihood (Burda, Grosse & Salakhutdinov 2015).

    log p(x) ~= log (1/k) sum_i p(x, z_i) / q(z_i | x),   z_i ~ q(z | x)

The estimate is a stochastic lower bound in expectation (Jensen) that tightens as k grows and
is consistent as k -> infinity. Samples are drawn in chunks and combined with a running
log-sum-exp in float64, so k = 5000 costs memory for one chunk only.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch


def importance_weighted_log_prob(
    log_weights: Callable[[torch.Tensor, int], torch.Tensor],
    n_rows: int,
    k: int,
    *,
    batch_size: int,
    chunk: int,
) -> torch.Tensor:
    """Combine log importance weights into per-row estimates.

    ``log_weights(rows, m)`` returns log w of shape (m, len(rows)) for ``m`` fresh samples per
    row (``rows`` is a LongTensor of row indices). Returns a float64 tensor of shape (n_rows,).
    """
    out = torch.empty(n_rows, dtype=torch.float64)
    for start in range(0, n_rows, batch_size):
        rows = torch.arange(start, min(start + batch_size, n_rows))
        acc = torch.full((len(rows),), -math.inf, dtype=torch.float64)
        done = 0
        while done < k:
            m = min(chunk, k - done)
            lw = log_weights(rows, m).to(device="cpu", dtype=torch.float64)  # (m, B)
            acc = torch.logaddexp(acc, torch.logsumexp(lw, dim=0))
            done += m
        out[rows] = acc - math.log(k)
    return out
