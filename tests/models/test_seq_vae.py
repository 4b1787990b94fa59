"""The sequence VAE against p(x) integrated over z by quadrature, and its latent-space methods.

With a one-dimensional z, p(x) = int N(z; 0, 1) p(x | z) dz is computed on a fine grid (the
integrand is smooth), so the IWAE estimate can be checked as what it claims to be: a lower
bound in expectation that tightens as k grows and reaches p(x). The sampler is checked against
the same exact probabilities.
"""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest
import torch

import genlearn as gl
from genlearn.models.seq_vae import Padded


def _data(n=40, v=2, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, v, size=int(rng.integers(1, 4))) for _ in range(n)]


@pytest.fixture(scope="module")
def tiny():
    model = gl.SeqVAE(latent_dim=1, n_embd=4, enc_hidden=6, hidden=8, epochs=3, batch_size=8,
                      seed=0, verbose=False, device="cpu", n_symbols=2)
    return model.fit(_data())


def exact_log_prob(model, seqs, grid=4001, span=9.0) -> np.ndarray:
    """log int N(z; 0, 1) p(x | z) dz on a grid of z in [-span, span] (trapezoid rule)."""
    z = torch.linspace(-span, span, grid)[:, None]
    dz = float(z[1, 0] - z[0, 0])
    out = []
    with torch.no_grad():
        for s in seqs:
            x = Padded.of([np.asarray(s)], "cpu")
            inputs, targets, mask = model._teacher(x)
            lp = model.net_.eval().log_lik(z, inputs.repeat(grid, 1), targets.repeat(grid, 1),
                                           mask.repeat(grid, 1)).double()
            lw = lp - 0.5 * z[:, 0].double() ** 2 - 0.5 * np.log(2 * np.pi)
            lw[[0, -1]] -= np.log(2.0)  # trapezoid end weights
            out.append(float(torch.logsumexp(lw, 0)) + np.log(dz))
    return np.array(out)


def all_sequences(v, max_len):
    return [np.array(s, dtype=np.int64) for n in range(1, max_len + 1)
            for s in itertools.product(range(v), repeat=n)]


def test_iwae_is_a_lower_bound_that_tightens_with_k_and_reaches_p_x(tiny):
    # a deliberately poor q (4x the fitted variance; any q gives a valid bound), so the gap
    # between the bounds is large next to their Monte Carlo error over 200 seeds
    model = copy.deepcopy(tiny)
    with torch.no_grad():
        model.net_.to_log_var.bias += 2.0
    seqs = [np.array([0]), np.array([1, 0]), np.array([1, 1, 0])]
    exact = exact_log_prob(model, seqs)
    means = {k: np.mean([model.log_prob(seqs, k=k, seed=s) for s in range(200)], axis=0)
             for k in (1, 4, 16)}
    # E[IWAE-k] <= log p(x), rising with k (per sequence)
    assert np.all(means[1] < means[4]) and np.all(means[4] < means[16])
    assert np.all(means[16] < exact)
    assert np.all(means[1] < exact - 0.5), "the ELBO gap should be visible with this q"
    np.testing.assert_allclose(model.log_prob(seqs, k=5000, seed=0), exact, atol=0.03)


def test_the_elbo_is_the_k1_bound_in_expectation(tiny):
    seqs = [np.array([0, 1]), np.array([1])]
    elbo = tiny.elbo(seqs, n_samples=4000, seed=1)
    iw1 = np.mean([tiny.log_prob(seqs, k=1, seed=s) for s in range(400)], axis=0)
    np.testing.assert_allclose(elbo, iw1, atol=0.1)
    assert np.all(elbo <= exact_log_prob(tiny, seqs))


def test_p_x_sums_to_one_with_the_mass_of_longer_sequences(tiny):
    short = all_sequences(2, 3)
    mass_short = np.exp(exact_log_prob(tiny, short)).sum()
    # P(length > 3) = P(the first 4 symbols are not EOS), integrated over z the same way
    z = torch.linspace(-9, 9, 4001)[:, None]
    dz = float(z[1, 0] - z[0, 0])
    net = tiny.net_.eval()
    longer = 0.0
    with torch.no_grad():
        for prefix in itertools.product(range(2), repeat=4):
            inputs = torch.tensor([[net.bos, *prefix[:3]]]).repeat(len(z), 1)
            logits, _ = net.decode(z, inputs)
            lp = torch.log_softmax(logits.double(), -1)
            lp = lp.gather(-1, torch.tensor(prefix).repeat(len(z), 1)[..., None])[..., 0].sum(1)
            w = lp - 0.5 * z[:, 0].double() ** 2 - 0.5 * np.log(2 * np.pi)
            longer += float(torch.exp(torch.logsumexp(w, 0))) * dz
    assert mass_short + longer == pytest.approx(1.0, abs=1e-3)


def test_samples_follow_the_exact_probabilities(tiny):
    draws = tiny.sample(20000, max_length=4, seed=0)
    seqs = all_sequences(2, 2)
    p = np.exp(exact_log_prob(tiny, seqs))
    freq = np.array([np.mean([len(d) == len(s) and np.array_equal(d, s) for d in draws])
                     for s in seqs])
    se = np.sqrt(p * (1 - p) / len(draws))
    assert np.all(np.abs(freq - p) < 5 * se + 1e-3), (freq, p)


def test_history_reports_kl_and_the_warm_up_ramp():
    model = gl.SeqVAE(latent_dim=2, n_embd=4, enc_hidden=4, hidden=8, epochs=4, batch_size=10,
                      warmup_epochs=2, beta=0.5, seed=0, verbose=False, device="cpu")
    model.fit(_data())
    w = [r["kl_weight"] for r in model.history_]
    assert all(r["kl"] >= 0 and "elbo" in r and "rec" in r for r in model.history_)
    assert w[0] < w[1] <= 0.5 and w[2] == w[3] == 0.5
    # 4 steps per epoch, the weight rises by beta / 8 per step: epoch 1 averages steps 1..4
    assert w[0] == pytest.approx(0.5 * np.mean([1, 2, 3, 4]) / 8)


def test_free_bits_floor_each_dimension_in_the_loss():
    model = gl.SeqVAE(latent_dim=3, n_embd=4, enc_hidden=4, hidden=8, epochs=1, batch_size=40,
                      free_bits=50.0, seed=0, verbose=False, device="cpu")
    model.fit(_data())
    r = model.history_[0]
    assert r["kl"] < 3 * 50.0
    assert r["loss"] == pytest.approx(-r["rec"] + r["kl_weight"] * 3 * 50.0, rel=1e-5)


def test_a_trained_model_reconstructs_and_interpolates_between_its_ends():
    seqs = [np.array([0, 1, 2, 3, 0]), np.array([3, 3, 2]), np.array([1, 1, 1, 1]),
            np.array([2, 0])]
    model = gl.SeqVAE(latent_dim=2, n_embd=8, enc_hidden=16, hidden=32, epochs=150,
                      batch_size=4, lr=1e-2, beta=0.01, seed=0, verbose=False, device="cpu")
    model.fit(seqs)
    recon = model.decode(model.encode(seqs))
    assert all(np.array_equal(a, b) for a, b in zip(recon, seqs, strict=True))
    path = model.interpolate(seqs[0], seqs[1], steps=5)
    assert len(path) == 5
    assert np.array_equal(path[0], seqs[0]) and np.array_equal(path[-1], seqs[1])


def test_resume_equals_an_uninterrupted_run(tmp_path):
    kw = dict(latent_dim=2, n_embd=4, enc_hidden=4, hidden=8, batch_size=8, word_dropout=0.2,
              warmup_epochs=1.5, seed=3, verbose=False, device="cpu")
    full = gl.SeqVAE(epochs=4, **kw).fit(_data())
    half = gl.SeqVAE(epochs=2, **kw).fit(_data())
    half.save(tmp_path / "m")
    resumed = gl.load(tmp_path / "m").set_params(epochs=4).fit(_data(), resume=True)
    for a, b in zip(full.net_.parameters(), resumed.net_.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_bad_input_is_a_clear_error(tiny):
    with pytest.raises(ValueError, match="word_dropout"):
        gl.SeqVAE(word_dropout=1.0).fit(_data())
    with pytest.raises(ValueError, match="latent_dim"):
        gl.SeqVAE(latent_dim=0).fit(_data())
    with pytest.raises(ValueError, match=r"Z must have shape \(n, 1\)"):
        tiny.decode(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tiny.log_prob([np.array([0, 5])])
