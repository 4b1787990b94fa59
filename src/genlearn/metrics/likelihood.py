"""Held-out log-likelihood of any genlearn model, with its estimator named.

Each family computes ``log_prob`` its own way and says how in ``log_prob_estimator()``: exact
(HMM forward algorithm, small RBM), annealed importance sampling (RBM), importance-weighted
with k samples (VAE), smoothed counts (n-gram). Families without a likelihood (GAN) raise
``TypeError`` from ``log_prob``; this module reports them as having none instead of failing.
"""

from __future__ import annotations

import math

import numpy as np


def log_likelihood(model, X, **kwargs) -> dict:
    """Mean held-out log-likelihood (nats per example) and its estimator.

    Returns ``{"log_likelihood": mean, "log_likelihood_se": standard error of the mean over
    examples, "estimator": model.log_prob_estimator(), "n": rows}``; for a model without a
    likelihood, ``log_likelihood`` and ``log_likelihood_se`` are None and ``estimator`` says
    "none". ``kwargs`` go to ``log_prob`` (e.g. ``k=`` for the VAE).
    """
    if not type(model).has_likelihood:  # the capability, declared on the class
        estimator = model.log_prob_estimator()
        if not estimator.lower().startswith("none"):
            estimator = "none (the family defines no likelihood)"
        return {"log_likelihood": None, "log_likelihood_se": None, "estimator": estimator,
                "n": len(X)}
    lp = np.asarray(model.log_prob(X, **kwargs), dtype=np.float64)
    n = lp.shape[0]
    se = float(lp.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    return {"log_likelihood": float(lp.mean()), "log_likelihood_se": se,
            "estimator": model.log_prob_estimator(), "n": int(n)}
