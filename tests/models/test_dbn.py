"""The DBN's variational bound against brute-force enumeration, sampling, checkpoints."""

import itertools

import numpy as np
import pytest
import torch

import genlearn as gl


def set_weights(rbm, W, b, c):
    D, H = W.shape
    theta = torch.zeros(D + 1, H + 1)
    theta[:D, :H], theta[:D, H], theta[D, :H] = (torch.as_tensor(a) for a in (W, b, c))
    rbm._set_theta(theta)
    rbm._log_z_cache = {}


@pytest.fixture(scope="module")
def tiny_dbn():
    rng = np.random.default_rng(0)
    X = (rng.random((40, 5)) < 0.5).astype(float)
    dbn = gl.DBN(layers=(4, 3), epochs=1, batch_size=10, verbose=False, device="cpu").fit(X)
    for rbm, (D, H) in zip(dbn.rbms_, [(5, 4), (4, 3)], strict=True):
        set_weights(rbm, rng.normal(size=(D, H)), 0.5 * rng.normal(size=D),
                    0.5 * rng.normal(size=H))
    return dbn


def enumerate_bits(n):
    return np.array(list(itertools.product([0, 1], repeat=n)), dtype=float)


def exact_terms(dbn, v):
    """log p(v) and the exact variational bound, by summing over every h1."""
    bottom, top = dbn.rbms_
    W, b, c, _ = (t.numpy() if t is not None else None for t in bottom._params())
    h1 = enumerate_bits(4)
    log_top = top.log_prob(h1)  # exact marginal of the top RBM's visible layer
    act = b + h1 @ W.T  # (16, 5)
    log_p_v_given_h = (v[:, None, :] * act - np.logaddexp(0, act)).sum(-1)  # (n, 16)
    log_px = np.logaddexp.reduce(log_p_v_given_h + log_top, axis=1)
    logits = c + v @ W  # (n, 4)
    log_q = (h1[None] * logits[:, None] - np.logaddexp(0, logits)[:, None]).sum(-1)  # (n, 16)
    bound = (np.exp(log_q) * (log_p_v_given_h + log_top - log_q)).sum(1)
    return log_px, bound


def test_lower_bound_matches_enumeration_and_stays_below_log_likelihood(tiny_dbn):
    v = enumerate_bits(5)
    log_px, bound = exact_terms(tiny_dbn, v)
    assert np.exp(log_px).sum() == pytest.approx(1.0)  # the generative model is normalised
    estimate = tiny_dbn.lower_bound(v, n_samples=4000, seed=0)
    np.testing.assert_allclose(estimate, bound, atol=0.1)
    assert estimate.mean() == pytest.approx(bound.mean(), abs=0.02)
    assert np.all(bound <= log_px + 1e-9)
    assert (log_px - bound).mean() > 0.05  # the bound is not tight here: the test can tell


def test_one_layer_dbn_bound_is_the_rbm_log_likelihood(binary_digits):
    X = binary_digits[0][:200]
    dbn = gl.DBN(layers=(6,), epochs=2, verbose=False, device="cpu").fit(X)
    np.testing.assert_allclose(dbn.lower_bound(X, n_samples=1), dbn.rbms_[0].log_prob(X))


def test_sampling_is_a_top_down_pass(tiny_dbn):
    draws = tiny_dbn.sample(3000, burn_in=50, gibbs_steps=3, seed=0)
    assert draws.shape == (3000, 5) and set(np.unique(draws)) <= {0.0, 1.0}
    log_px, _ = exact_terms(tiny_dbn, enumerate_bits(5))
    codes = draws.astype(int) @ (2 ** np.arange(4, -1, -1))
    freq = np.bincount(codes, minlength=32) / len(codes)
    assert 0.5 * np.abs(freq - np.exp(log_px)).sum() < 0.06
    means = tiny_dbn.sample(4, seed=0, mean=True)
    assert np.all((means > 0) & (means < 1))


def test_log_prob_is_refused_and_evaluate_names_the_bound(tiny_dbn):
    with pytest.raises(TypeError, match="lower_bound"):
        tiny_dbn.log_prob(enumerate_bits(5))
    out = tiny_dbn.evaluate(enumerate_bits(5))
    assert "lower_bound" in out and "log_likelihood" not in out
    assert out["estimator"].startswith("variational lower bound")


def test_save_load_round_trip(tmp_path, binary_digits):
    X = binary_digits[0][:200]
    dbn = gl.DBN(layers=(8, 4), epochs=2, verbose=False, device="cpu", seed=1).fit(X)
    assert [h["layer"] for h in dbn.history_] == [0, 0, 1, 1]
    dbn.save(tmp_path / "dbn")
    loaded = gl.load(tmp_path / "dbn")
    np.testing.assert_array_equal(loaded.lower_bound(X[:20]), dbn.lower_bound(X[:20]))
    np.testing.assert_array_equal(loaded.sample(5, seed=2), dbn.sample(5, seed=2))
    with pytest.raises(ValueError, match="layers"):
        gl.DBN(layers=())


def test_cli_trains_and_evaluates_a_dbn(tmp_path, capsys):
    from genlearn.cli import main

    out = tmp_path / "dbn"
    assert main(["train", "dbn", "--data", "digits", "--binarize", "--epochs", "1",
                 "--layers", "8,4", "--ais-betas", "50", "--out", str(out), "-q"]) == 0
    assert main(["evaluate", str(out), "--json"]) == 0
    assert '"lower_bound"' in capsys.readouterr().out
    assert gl.load(out).layers == (8, 4)
