"""Shared mathematics: written once, imported by every family that needs it."""

from .distributions import (
    bernoulli_log_prob,
    gaussian_log_prob,
    kl_normal_std,
    log_mean_exp,
    reparameterize,
    standard_normal_log_prob,
)
from .importance import importance_weighted_log_prob

__all__ = [
    "bernoulli_log_prob",
    "gaussian_log_prob",
    "importance_weighted_log_prob",
    "kl_normal_std",
    "log_mean_exp",
    "reparameterize",
    "standard_normal_log_prob",
]
