import math

import numpy as np
import torch
from scipy import stats
from scipy.special import logsumexp

from genlearn.ops import (
    bernoulli_log_prob,
    gaussian_log_prob,
    importance_weighted_log_prob,
    kl_normal_std,
    log_mean_exp,
    standard_normal_log_prob,
)

rng = np.random.default_rng(0)


def test_bernoulli_log_prob_matches_scipy():
    x = rng.integers(0, 2, size=(5, 7)).astype(np.float64)
    logits = rng.normal(size=(5, 7)) * 3
    p = 1 / (1 + np.exp(-logits))
    expected = stats.bernoulli.logpmf(x, p).sum(-1)
    got = bernoulli_log_prob(torch.tensor(x), torch.tensor(logits)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_bernoulli_log_prob_extreme_logits_are_finite():
    x = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    out = bernoulli_log_prob(x, torch.tensor([[-800.0, 800.0]], dtype=torch.float64))
    assert torch.isfinite(out).all() and float(out) < -1500


def test_gaussian_log_prob_matches_scipy():
    x, m, lv = rng.normal(size=(3, 4, 6))
    expected = stats.norm.logpdf(x, m, np.exp(0.5 * lv)).sum(-1)
    got = gaussian_log_prob(torch.tensor(x), torch.tensor(m), torch.tensor(lv)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    np.testing.assert_allclose(standard_normal_log_prob(torch.tensor(x)).numpy(),
                               stats.norm.logpdf(x).sum(-1), rtol=1e-10)


def test_kl_matches_torch_distributions():
    m, lv = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    q = torch.distributions.Normal(m, torch.exp(0.5 * lv))
    p = torch.distributions.Normal(torch.zeros_like(m), torch.ones_like(m))
    expected = torch.distributions.kl_divergence(q, p).sum(-1)
    torch.testing.assert_close(kl_normal_std(m, lv), expected)


def test_log_mean_exp_stable_and_all_neg_inf():
    a = torch.tensor([[1000.0, 1000.0], [-math.inf, -math.inf]], dtype=torch.float64)
    out = log_mean_exp(a, dim=1)
    assert out[0] == 1000.0 and out[1] == -math.inf


def test_importance_weighted_combines_chunks_exactly():
    """Chunked running log-sum-exp equals one log-mean-exp over all k weights."""
    table = rng.normal(size=(23, 10)) * 5  # k=23 weights for 10 rows
    cursor = {"i": 0}

    def log_weights(rows, m):
        i = cursor["i"]
        cursor["i"] = (i + m) % 23
        return torch.tensor(table[i:i + m][:, rows.numpy()])

    got = importance_weighted_log_prob(log_weights, 10, 23, batch_size=10, chunk=7).numpy()
    np.testing.assert_allclose(got, logsumexp(table, axis=0) - np.log(23), rtol=1e-12)
