"""Log densities and the reparameterisation trick, summed over the last dimension.

Everything works with logits and log-variances (``softplus`` / ``logsumexp`` forms), never a
``sigmoid`` followed by a clamp, so no value silently turns into NaN.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LOG_2PI = math.log(2.0 * math.pi)


def bernoulli_log_prob(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """log Bernoulli(x | sigmoid(logits)), summed over the last dim; x may be in [0, 1]."""
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)


def gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """log N(x | mean, diag(exp(log_var))), summed over the last dim."""
    return -0.5 * (LOG_2PI + log_var + (x - mean) ** 2 * torch.exp(-log_var)).sum(-1)


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    """log N(z | 0, I), summed over the last dim."""
    return -0.5 * (LOG_2PI + z**2).sum(-1)


def kl_normal_std(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL( N(mean, diag(exp(log_var))) || N(0, I) ) in closed form, summed over the last dim."""
    return 0.5 * (torch.exp(log_var) + mean**2 - 1.0 - log_var).sum(-1)


def reparameterize(mean: torch.Tensor, log_var: torch.Tensor, n: int | None = None,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """z = mean + std * eps with eps ~ N(0, I); with ``n``, shape (n, *mean.shape)."""
    shape = mean.shape if n is None else (n, *mean.shape)
    eps = torch.randn(shape, dtype=mean.dtype, device=mean.device, generator=generator)
    return mean + torch.exp(0.5 * log_var) * eps


def log_mean_exp(a: torch.Tensor, dim: int) -> torch.Tensor:
    """log(mean(exp(a), dim)) computed stably; all -inf gives -inf, not NaN."""
    return torch.logsumexp(a, dim=dim) - math.log(a.shape[dim])
