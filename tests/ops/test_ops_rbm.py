"""ops/rbm.py: state tables, chunked log-sum-exp and AIS against enumeration and closed forms."""

import itertools
import math

import numpy as np
import pytest
import torch

from genlearn.ops.rbm import (
    ais_betas,
    annealed_importance_sampling,
    binary_states,
    log_mean_exp_with_stderr,
    logsumexp_over_states,
    one_hot_states,
)


def test_binary_states_are_every_bit_pattern_in_order():
    table = binary_states(0, 32, 5).numpy()
    expected = np.array([[(i >> b) & 1 for b in range(5)] for i in range(32)], dtype=float)
    np.testing.assert_array_equal(table, expected)
    np.testing.assert_array_equal(binary_states(7, 19, 5).numpy(), expected[7:19])


def test_one_hot_states_are_every_combination_once():
    sizes = (3, 2, 4)
    table = one_hot_states(0, 24, sizes).numpy()
    assert table.shape == (24, 9)
    groups = np.split(table, np.cumsum(sizes)[:-1], axis=1)
    assert all(np.all(g.sum(1) == 1) for g in groups)  # one active unit per group
    codes = {tuple(np.argmax(g, 1)[i] for g in groups) for i in range(24)}
    assert codes == set(itertools.product(range(3), range(2), range(4)))
    np.testing.assert_array_equal(one_hot_states(5, 11, sizes).numpy(), table[5:11])


@pytest.mark.parametrize("chunk", [1, 7, 64, 1000])
def test_chunked_logsumexp_equals_the_direct_one(chunk):
    w = torch.randn(6, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 3

    def log_f(states):
        return states @ w

    n = 2 ** 6
    direct = float(torch.logsumexp(binary_states(0, n, 6) @ w, 0))
    assert logsumexp_over_states(log_f, lambda lo, hi: binary_states(lo, hi, 6), n,
                                 chunk) == pytest.approx(direct, abs=1e-12)
    # and the closed form of independent bits: sum_i softplus(w_i)
    assert direct == pytest.approx(float(torch.nn.functional.softplus(w).sum()), abs=1e-12)


def test_ais_betas_run_from_zero_to_one_and_are_denser_near_one():
    for n in (2, 3, 100, 14500):
        betas = ais_betas(n).numpy()
        assert betas[0] == 0.0 and betas[-1] == 1.0
        assert np.all(np.diff(betas) > 0)
    betas = ais_betas(14500).numpy()
    # Salakhutdinov & Murray's proportions: 500 steps below 0.5, 10,000 above 0.9
    assert abs(np.sum(betas < 0.5) - 500) <= 1 and abs(np.sum(betas >= 0.9) - 10001) <= 1


def test_log_mean_exp_with_stderr_matches_numpy():
    log_w = torch.tensor([0.3, -1.2, 2.0, 0.0, -0.5], dtype=torch.float64)
    w = np.exp(log_w.numpy())
    est, se = log_mean_exp_with_stderr(log_w)
    assert est == pytest.approx(math.log(w.mean()), abs=1e-12)
    assert se == pytest.approx(w.std(ddof=1) / (w.mean() * math.sqrt(5)), rel=1e-12)
    assert log_mean_exp_with_stderr(torch.tensor([-math.inf] * 3)) == (-math.inf, math.inf)


def test_ais_recovers_a_known_partition_function():
    # p_beta(x) ~ exp(beta * theta_x) on K states from the uniform base (log Z0 = log K), with
    # an exact transition (an independent draw from p_beta): log Z1 = logsumexp(theta).
    theta = torch.tensor([0.0, 2.0, -1.0, 3.5, 1.0], dtype=torch.float64)
    K, gen = len(theta), torch.Generator().manual_seed(0)

    def init(m):
        return torch.randint(0, K, (m,), generator=gen)

    def advance(x, beta_prev, beta):
        delta = (beta - beta_prev) * theta[x]
        probs = torch.softmax(beta * theta, 0)
        return delta, torch.multinomial(probs, len(x), replacement=True, generator=gen)

    log_z, se, log_w = annealed_importance_sampling(
        init=init, advance=advance, log_z0=math.log(K), n_chains=2000, betas=ais_betas(200))
    truth = float(torch.logsumexp(theta, 0))
    assert log_w.shape == (2000,) and 0 < se < 0.05
    assert abs(log_z - truth) < 4 * se
    # too few temperatures is still unbiased in Z but noisier: the error bar says so
    _, se_few, _ = annealed_importance_sampling(
        init=init, advance=advance, log_z0=math.log(K), n_chains=2000, betas=ais_betas(3))
    assert se_few > se
