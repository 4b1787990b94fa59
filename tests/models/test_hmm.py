"""The HMM against brute-force enumeration, against hmmlearn, and its EM invariants."""

import itertools
import warnings

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

import genlearn as gl
from genlearn.models.hmm import HMM
from genlearn.ops.hmm import forward_backward, viterbi

hmmlearn = pytest.importorskip("hmmlearn.hmm")
rng = np.random.default_rng(0)


def random_chain(K, S):
    return (rng.dirichlet(np.ones(K)), rng.dirichlet(np.ones(K), size=K),
            rng.dirichlet(np.ones(S), size=K))


def categorical(K, S, **kw):
    sp, tm, ep = random_chain(K, S)
    m = HMM(n_states=K, emission="categorical", initialize=(), verbose=False, device="cpu", **kw)
    m.startprob_, m.transmat_, m.emissionprob_, m.n_symbols_ = sp, tm, ep, S
    return m


def fitted(m, seqs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return m.fit(seqs)


# -- brute force ------------------------------------------------------------------------------
def brute(sp, tm, ep, x):
    """log p(x), posterior marginals and the best path by enumerating every state path."""
    K, T = len(sp), len(x)
    paths = np.array(list(itertools.product(range(K), repeat=T)))
    lp = np.log(sp[paths[:, 0]]) + np.log(ep[paths, x]).sum(1)
    lp += np.log(tm[paths[:, :-1], paths[:, 1:]]).sum(1)
    total = logsumexp(lp)
    w = np.exp(lp - total)
    gamma = np.stack([np.bincount(paths[:, t], weights=w, minlength=K) for t in range(T)])
    xi = np.zeros((K, K))
    for t in range(T - 1):
        np.add.at(xi, (paths[:, t], paths[:, t + 1]), w)
    return total, gamma, xi, paths[np.argmax(lp)], lp.max()


def test_forward_backward_and_viterbi_match_enumeration():
    K, S = 3, 4
    sp, tm, ep = random_chain(K, S)
    seqs = [rng.integers(0, S, size=T) for T in (1, 2, 5, 7)]
    T = max(len(s) for s in seqs)
    x = torch.tensor(np.array([np.pad(s, (0, T - len(s))) for s in seqs]))
    log_b = torch.log(torch.tensor(ep.T))[x]
    lengths = torch.tensor([len(s) for s in seqs])
    post = forward_backward(torch.log(torch.tensor(sp)), torch.log(torch.tensor(tm)), log_b,
                            lengths)
    score, paths = viterbi(torch.log(torch.tensor(sp)), torch.log(torch.tensor(tm)), log_b,
                           lengths)
    xi_total = np.zeros((K, K))
    for i, s in enumerate(seqs):
        total, gamma, xi, best, best_lp = brute(sp, tm, ep, s)
        assert post.log_likelihood[i].item() == pytest.approx(total, rel=1e-12)
        np.testing.assert_allclose(post.gamma[i, : len(s)].numpy(), gamma, atol=1e-12)
        assert np.all(post.gamma[i, len(s):].numpy() == 0)
        np.testing.assert_array_equal(paths[i, : len(s)].numpy(), best)
        assert np.all(paths[i, len(s):].numpy() == -1)
        assert score[i].item() == pytest.approx(best_lp, rel=1e-12)
        xi_total += xi
    np.testing.assert_allclose(post.xi_sum.numpy(), xi_total, atol=1e-12)


def ready(m, S=None):
    """A hand-set model made usable without changing its parameters (EM with 0 iterations)."""
    return m.set_params(n_iter=0).fit([np.arange(S or m.n_symbols_)])


def test_long_sequence_does_not_underflow():
    x = rng.integers(0, 5, size=20000)
    model = ready(categorical(4, 5))
    lp = model.log_prob([x])[0]
    assert np.isfinite(lp) and lp < -20000 * 0.5
    halves = model.log_prob([x[:10000]])[0]
    assert halves > lp  # a prefix is more probable than the whole


# -- hmmlearn parity --------------------------------------------------------------------------
def test_categorical_em_matches_hmmlearn():
    K, S = 4, 6
    seqs = [rng.integers(0, S, size=rng.integers(20, 60)) for _ in range(30)]
    X, lengths = np.concatenate(seqs)[:, None], [len(s) for s in seqs]
    ours = categorical(K, S, n_iter=10, tol=-np.inf)
    ref = hmmlearn.CategoricalHMM(n_components=K, n_iter=10, tol=-np.inf, init_params="",
                                  implementation="scaling")
    ref.startprob_, ref.transmat_ = ours.startprob_.copy(), ours.transmat_.copy()
    ref.emissionprob_ = ours.emissionprob_.copy()
    ref.fit(X, lengths)
    fitted(ours, seqs)
    ll = np.array([r["log_likelihood"] for r in ours.history_])
    np.testing.assert_allclose(ll, ref.monitor_.history, rtol=1e-10)
    np.testing.assert_allclose(ours.transmat_, ref.transmat_, atol=1e-10)
    np.testing.assert_allclose(ours.emissionprob_, ref.emissionprob_, atol=1e-10)
    s_ref, p_ref = ref.decode(X, lengths)
    s_ours, p_ours = ours.decode(X, lengths)
    assert s_ours == pytest.approx(s_ref, rel=1e-12) and np.array_equal(p_ours, p_ref)
    np.testing.assert_allclose(ours.predict_proba(X, lengths), ref.predict_proba(X, lengths),
                               atol=1e-10)
    assert ours.score(X, lengths) == pytest.approx(ref.score(X, lengths), rel=1e-12)


@pytest.mark.parametrize("cov", ["diag", "full", "spherical", "tied"])
def test_gaussian_em_matches_hmmlearn(cov):
    K, D = 3, 2
    seqs = [rng.normal(size=(rng.integers(15, 40), D)) + rng.integers(0, 3) for _ in range(12)]
    X, lengths = np.concatenate(seqs), [len(s) for s in seqs]
    sp, tm, _ = random_chain(K, 2)
    means = rng.normal(size=(K, D))
    covars = {"diag": np.full((K, D), 1.5), "spherical": np.full(K, 1.5),
              "full": np.tile(np.eye(D) * 1.5 + 0.3, (K, 1, 1)), "tied": np.eye(D) * 1.5}[cov]
    ref = hmmlearn.GaussianHMM(n_components=K, covariance_type=cov, n_iter=8, tol=-np.inf,
                               init_params="", implementation="scaling")
    ref.startprob_, ref.transmat_, ref.means_, ref.covars_ = sp, tm, means, covars
    ref.fit(X, lengths)
    ours = HMM(n_states=K, emission="gaussian", covariance_type=cov, n_iter=8, tol=-np.inf,
               initialize=(), verbose=False, device="cpu")
    ours.startprob_, ours.transmat_, ours.means_, ours.covars_ = sp, tm, means, covars
    fitted(ours, seqs)
    ll = np.array([r["log_likelihood"] for r in ours.history_])
    np.testing.assert_allclose(ll, ref.monitor_.history, rtol=1e-10)
    np.testing.assert_allclose(ours.means_, ref.means_, atol=1e-8)
    assert np.array_equal(ours.decode(X, lengths)[1], ref.decode(X, lengths)[1])
    np.testing.assert_allclose(ours.predict_proba(X, lengths), ref.predict_proba(X, lengths),
                               atol=1e-8)


# -- EM invariants ----------------------------------------------------------------------------
def test_em_never_decreases_and_order_does_not_matter():
    seqs = [rng.integers(0, 5, size=rng.integers(10, 50)) for _ in range(20)]
    m = fitted(categorical(3, 5, n_iter=30, tol=-np.inf, seed=1), seqs)
    ll = np.array([r["log_likelihood"] for r in m.history_])
    assert np.all(np.diff(ll) >= -1e-9 * np.abs(ll[1:]))
    a = categorical(3, 5, n_iter=5, tol=-np.inf)
    b = HMM(n_states=3, n_iter=5, tol=-np.inf, initialize=(), verbose=False, device="cpu")
    b.startprob_, b.transmat_, b.emissionprob_, b.n_symbols_ = (
        a.startprob_.copy(), a.transmat_.copy(), a.emissionprob_.copy(), 5)
    fitted(a, seqs)
    fitted(b, seqs[::-1])
    np.testing.assert_allclose(a.transmat_, b.transmat_, atol=1e-12)


def test_chunked_statistics_equal_whole_batch():
    seqs = [rng.integers(0, 5, size=rng.integers(10, 50)) for _ in range(20)]
    a = categorical(3, 5, n_iter=3, tol=-np.inf)
    b = categorical(3, 5, n_iter=3, tol=-np.inf, chunk_size=60)
    b.startprob_, b.transmat_, b.emissionprob_ = (a.startprob_.copy(), a.transmat_.copy(),
                                                  a.emissionprob_.copy())
    fitted(a, seqs)
    fitted(b, seqs)
    np.testing.assert_allclose(a.emissionprob_, b.emissionprob_, atol=1e-12)
    assert a.history_[-1]["log_likelihood"] == pytest.approx(b.history_[-1]["log_likelihood"],
                                                             rel=1e-12)


def test_left_right_topology_stays_left_right():
    K = 3
    m = HMM(n_states=K, emission="gaussian", n_iter=10, initialize=("means", "covars"),
            update="all", verbose=False, device="cpu")
    m.startprob_ = np.array([1.0, 0.0, 0.0])
    m.transmat_ = np.array([[0.7, 0.3, 0.0], [0.0, 0.7, 0.3], [0.0, 0.0, 1.0]])
    seqs = [np.concatenate([rng.normal(i, 0.3, size=(10, 1)) for i in range(3)])
            for _ in range(5)]
    fitted(m, seqs)
    assert np.all(np.tril(m.transmat_, -1) == 0) and m.transmat_[0, 2] == 0
    assert m.startprob_[1] == 0 and m.startprob_[2] == 0


def test_unused_state_gives_no_nan():
    m = categorical(3, 4, n_iter=5, tol=-np.inf)
    m.emissionprob_ = np.array([[0.5, 0.5, 0, 0], [0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5]])
    m.startprob_ = np.array([0.5, 0.5, 0.0])
    m.transmat_ = np.array([[0.5, 0.5, 0], [0.5, 0.5, 0], [0.3, 0.3, 0.4]])
    seqs = [rng.integers(0, 2, size=30) for _ in range(5)]  # state 2 is never visited
    fitted(m, seqs)
    for arr in (m.startprob_, m.transmat_, m.emissionprob_):
        assert np.all(np.isfinite(arr))
    np.testing.assert_allclose(m.transmat_.sum(1), 1)
    np.testing.assert_allclose(m.emissionprob_[2], [0, 0, 0.5, 0.5])  # kept, not 0/0


def test_fit_recovers_a_known_model():
    true = categorical(2, 3)
    true.startprob_ = np.array([0.9, 0.1])
    true.transmat_ = np.array([[0.95, 0.05], [0.1, 0.9]])
    true.emissionprob_ = np.array([[0.8, 0.15, 0.05], [0.05, 0.15, 0.8]])
    ready(true)
    seqs = true.sample(40, 100, seed=0)
    model = HMM(n_states=2, n_iter=200, n_init=3, verbose=False, device="cpu", seed=0).fit(seqs)
    order = np.argsort(model.emissionprob_[:, 0])[::-1]
    np.testing.assert_allclose(model.emissionprob_[order], true.emissionprob_, atol=0.05)
    np.testing.assert_allclose(model.transmat_[np.ix_(order, order)], true.transmat_, atol=0.05)
    assert model.score(seqs) >= true.score(seqs) - 1.0  # the MLE is at least as good


def test_sample_shapes_and_statistics():
    m = ready(categorical(2, 3))
    seqs, states = m.sample(200, 30, seed=1, return_states=True)
    assert len(seqs) == 200 and seqs[0].shape == (30,) and states[0].shape == (30,)
    first = np.bincount([z[0] for z in states], minlength=2) / 200
    assert np.abs(first - m.startprob_).max() < 0.1
    again = m.sample(200, 30, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(seqs, again, strict=True))


def test_save_load_roundtrip(tmp_path):
    seqs = [rng.normal(size=(30, 2)) for _ in range(5)]
    m = fitted(HMM(n_states=2, emission="gaussian", covariance_type="full", n_iter=5,
                   verbose=False, device="cpu"), seqs)
    m.save(tmp_path / "hmm")
    again = gl.load(tmp_path / "hmm")
    np.testing.assert_array_equal(again.log_prob(seqs), m.log_prob(seqs))
    assert again.history_ == m.history_


def test_bic_aic_and_poisson():
    seqs = [rng.poisson(3.0, size=(40, 2)).astype(float) for _ in range(5)]
    m = fitted(HMM(n_states=2, emission="poisson", n_iter=10, verbose=False, device="cpu"), seqs)
    assert m.n_parameters() == 1 + 2 + 4
    assert m.aic(seqs) == pytest.approx(-2 * m.score(seqs) + 2 * 7)
    assert np.isfinite(m.bic(seqs))


@pytest.mark.parametrize("bad,match", [
    ([np.array([0, 1, 7])], "outside the vocabulary"),
    ([np.array([0, -1])], "negative symbol"),
    ([np.array([0.5, 1.0])], "integers"),
    ([], "empty"),
    ([np.array([], dtype=int)], "length 0"),
])
def test_bad_sequences(bad, match):
    m = fitted(categorical(2, 3, n_iter=2), [np.array([0, 1, 2, 1])])
    with pytest.raises(ValueError, match=match):
        m.log_prob(bad)


def test_bad_setup_errors():
    with pytest.raises(ValueError, match="NaN"):
        HMM(emission="gaussian", verbose=False).fit([np.array([[0.0], [np.nan]])])
    with pytest.raises(ValueError, match="fewer than n_states"):
        HMM(n_states=5, verbose=False).fit([np.array([0, 1])])
    m = categorical(2, 3)
    m.transmat_ = np.array([[0.5, 0.4], [0.5, 0.5]])
    with pytest.raises(ValueError, match="row 0 sums to 0.9"):
        m.fit([np.array([0, 1, 2])])
    with pytest.raises(ValueError, match="update: unknown parameter 'means'"):
        HMM(update=("means",))
    with pytest.raises(ValueError, match="lengths sum to 3"):
        HMM(verbose=False).fit(np.array([0, 1, 2, 1]), lengths=[1, 2])
