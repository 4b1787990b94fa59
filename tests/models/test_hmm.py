"""The HMM against brute-force enumeration, against hmmlearn, and its EM invariants."""

import itertools
import warnings

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

import genlearn as gl
from genlearn.models.hmm import HMM
from genlearn.models.hmm_em import draw_tempered
from genlearn.ops.hmm import (
    Workspace,
    forward_backward,
    forward_backward_blocks,
    forward_log_likelihood,
    viterbi,
)

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


def path_log_prob(m, x, z):
    """log p(x, z) of one categorical sequence and state path."""
    return (np.log(m.startprob_[z[0]]) + np.log(m.transmat_[z[:-1], z[1:]]).sum()
            + np.log(m.emissionprob_[z, x]).sum())


def _batch(ep, seqs):
    """Time-major padded emissions (T, N, K) and lengths for categorical sequences."""
    T = max(len(s) for s in seqs)
    x = torch.tensor(np.array([np.pad(s, (0, T - len(s))) for s in seqs]).T)
    return torch.log(torch.tensor(ep.T))[x], torch.tensor([len(s) for s in seqs])


def test_forward_backward_and_viterbi_match_enumeration():
    K, S = 3, 4
    sp, tm, ep = random_chain(K, S)
    seqs = [rng.integers(0, S, size=T) for T in (1, 2, 5, 6)]
    log_b, lengths = _batch(ep, seqs)
    log_sp, log_tm = torch.log(torch.tensor(sp)), torch.log(torch.tensor(tm))
    ll, gam, xi_sum = forward_backward(log_sp, log_tm, log_b, lengths)
    score, paths = viterbi(log_sp, log_tm, log_b, lengths)
    np.testing.assert_allclose(forward_log_likelihood(log_sp, log_tm, log_b, lengths).numpy(),
                               ll.numpy(), rtol=1e-13)
    xi_total = np.zeros((K, K))
    for i, s in enumerate(seqs):
        total, gamma, xi, best, best_lp = brute(sp, tm, ep, s)
        assert ll[i].item() == pytest.approx(total, rel=1e-12)
        np.testing.assert_allclose(gam[: len(s), i].numpy(), gamma, atol=1e-12)
        assert np.all(gam[len(s):, i].numpy() == 0)
        np.testing.assert_array_equal(paths[: len(s), i].numpy(), best)
        assert np.all(paths[len(s):, i].numpy() == -1)
        assert score[i].item() == pytest.approx(best_lp, rel=1e-12)
        xi_total += xi
    np.testing.assert_allclose(xi_sum.numpy(), xi_total, atol=1e-12)


@pytest.mark.parametrize("block", [1, 2, 3, 7, 50])
def test_time_blocks_give_the_whole_batch_answer(block):
    """Checkpointed forward-backward in blocks of any length equals the one-pass version."""
    K, S = 4, 5
    sp, tm, ep = random_chain(K, S)
    tm[0, 0] = 0.0  # a forbidden transition; only state 0 emits symbol 4, so 4, 4 is impossible
    tm[0] /= tm[0].sum()
    ep[:, 4] = np.r_[1.0, 0, 0, 0] * ep[0, 4]
    ep /= ep.sum(1, keepdims=True)
    seqs = [rng.integers(0, 4, size=T) for T in (13, 9, 4, 1)] + [np.array([4, 4, 1, 2])]
    log_b, lengths = _batch(ep, seqs)
    log_sp, log_tm = torch.log(torch.tensor(sp)), torch.log(torch.tensor(tm))
    ll, gam, xi = forward_backward(log_sp, log_tm, log_b, lengths)
    parts = torch.zeros_like(gam)

    def keep(s, e, g):
        parts[s:e] = g

    ll_b, xi_b = forward_backward_blocks(log_sp, log_tm, lambda s, e: log_b[s:e], lengths,
                                         log_b.shape[0], block, keep)
    assert ll[-1] == -np.inf and torch.all(gam[:, -1] == 0) and torch.all(torch.isfinite(ll[:-1]))
    np.testing.assert_allclose(ll_b.numpy(), ll.numpy(), rtol=1e-12)
    np.testing.assert_allclose(parts.numpy(), gam.numpy(), atol=1e-12)
    np.testing.assert_allclose(xi_b.numpy(), xi.numpy(), atol=1e-12)
    np.testing.assert_allclose(
        forward_log_likelihood(log_sp, log_tm, lambda s, e: log_b[s:e], lengths, block).numpy(),
        ll.numpy(), rtol=1e-12)


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
    assert s_ours == pytest.approx(s_ref, rel=1e-12)
    # repeated symbols make exact ties (2, 3 vs 3, 2 over the same symbol twice), broken by
    # rounding: both paths must then score the same under the same parameters
    joint = [sum(path_log_prob(ours, x, z) for x, z in zip(
        np.split(X[:, 0], np.cumsum(lengths)[:-1]), np.split(p, np.cumsum(lengths)[:-1]),
        strict=True)) for p in (p_ours, p_ref)]
    assert joint[0] == pytest.approx(joint[1], rel=1e-12) == s_ref
    assert np.mean(p_ours == p_ref) > 0.95
    np.testing.assert_allclose(ours.predict_proba(X, lengths), ref.predict_proba(X, lengths),
                               atol=1e-10)
    assert ours.total_log_prob(X, lengths) == pytest.approx(ref.score(X, lengths), rel=1e-12)
    assert ours.score(X, lengths) == pytest.approx(ref.score(X, lengths) / len(lengths))
    assert ours.monitor_.history == list(ll) and ours.monitor_.iter == 10


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
    assert m.aic(seqs) == pytest.approx(-2 * m.log_prob(seqs).sum() + 2 * 7)
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


# -- Gaussian-mixture emissions ---------------------------------------------------------------
def gmm_params(K, M, D, cov):
    covars = {"diag": rng.uniform(0.5, 2.0, size=(K, M, D)),
              "spherical": rng.uniform(0.5, 2.0, size=(K, M)),
              "full": np.stack([[np.eye(D) * 1.2 + 0.3 for _ in range(M)] for _ in range(K)]),
              "tied": np.stack([np.eye(D) * (1.5 + k) + 0.2 for k in range(K)])}[cov]
    sp, tm, _ = random_chain(K, 2)
    return dict(startprob=sp, transmat=tm, weights=rng.dirichlet(np.ones(M), size=K),
                means=rng.normal(size=(K, M, D)) * 2, covars=covars)


@pytest.mark.parametrize("cov", ["diag", "full", "spherical", "tied"])
def test_gmm_likelihood_and_posteriors_match_hmmlearn(cov):
    K, M, D = 3, 2, 2
    p = gmm_params(K, M, D, cov)
    seqs = [rng.normal(size=(rng.integers(5, 30), D)) * 2 for _ in range(6)]
    X, lengths = np.concatenate(seqs), [len(s) for s in seqs]
    ref = hmmlearn.GMMHMM(n_components=K, n_mix=M, covariance_type=cov, init_params="")
    ours = HMM(n_states=K, emission="gmm", n_mix=M, covariance_type=cov, n_iter=0,
               initialize=(), verbose=False, device="cpu")
    for name, value in p.items():
        setattr(ref, name + "_", value.copy())
        setattr(ours, name + "_", value.copy())
    fitted(ours, seqs)
    assert ours.total_log_prob(X, lengths) == pytest.approx(ref.score(X, lengths), rel=1e-10)
    np.testing.assert_allclose(ours.predict_proba(X, lengths), ref.predict_proba(X, lengths),
                               atol=1e-8)
    assert np.array_equal(ours.predict(X, lengths), ref.predict(X, lengths))


def test_gmm_with_one_component_is_the_gaussian_hmm():
    """n_mix=1 reduces to the Gaussian HMM: same EM path from the same start (ML updates)."""
    K, D = 3, 2
    p = gmm_params(K, 1, D, "diag")
    seqs = [rng.normal(size=(40, D)) + rng.integers(0, 3) for _ in range(8)]
    g = HMM(n_states=K, emission="gmm", n_mix=1, min_covar=0.0, n_iter=6, tol=-np.inf,
            initialize=(), verbose=False, device="cpu")
    h = HMM(n_states=K, emission="gaussian", covars_prior=0.0, n_iter=6, tol=-np.inf,
            initialize=(), verbose=False, device="cpu")
    for name, value in p.items():
        setattr(g, name + "_", value.copy())
    h.startprob_, h.transmat_ = p["startprob"].copy(), p["transmat"].copy()
    h.means_, h.covars_ = p["means"][:, 0].copy(), p["covars"][:, 0].copy()
    fitted(g, seqs)
    fitted(h, seqs)
    np.testing.assert_allclose([r["log_likelihood"] for r in g.history_],
                               [r["log_likelihood"] for r in h.history_], rtol=1e-10)
    np.testing.assert_allclose(g.means_[:, 0], h.means_, atol=1e-8)
    np.testing.assert_allclose(g.covars_[:, 0], h.covars_, atol=1e-8)


@pytest.mark.parametrize("cov", ["diag", "full"])
def test_gmm_em_increases_likelihood_and_round_trips(cov, tmp_path):
    seqs = [np.r_[rng.normal(-3, 0.5, size=(20, 2)), rng.normal(3, 1.0, size=(20, 2))]
            for _ in range(6)]
    m = fitted(HMM(n_states=2, emission="gmm", n_mix=2, covariance_type=cov, n_iter=15,
                   tol=-np.inf, verbose=False, device="cpu", seed=0), seqs)
    ll = np.array([r["log_likelihood"] for r in m.history_])
    assert np.all(np.diff(ll) >= -1e-8 * np.abs(ll[1:])) and ll[-1] > ll[0]
    np.testing.assert_allclose(m.weights_.sum(1), 1.0)
    assert m.n_parameters() == 1 + 2 + 2 * 1 + 2 * 2 * 2 + (8 if cov == "diag" else 12)
    m.save(tmp_path / "gmm")
    np.testing.assert_array_equal(gl.load(tmp_path / "gmm").log_prob(seqs), m.log_prob(seqs))
    x = m.sample(2, 10, seed=0)
    assert x[0].shape == (10, 2)


# -- sampling ---------------------------------------------------------------------------------
def exact_distribution(m, length, prompt=()):
    """p(x_1..L | prompt) of every symbol string of ``length``, from the forward algorithm."""
    S = m.n_symbols_
    strings = np.array(list(itertools.product(range(S), repeat=length)))
    prompt = np.asarray(prompt, dtype=np.int64)
    joint = m.log_prob([np.r_[prompt, s] for s in strings])
    base = m.log_prob([prompt])[0] if len(prompt) else 0.0
    return strings, np.exp(joint - base)


def empirical(draws, strings):
    index = {tuple(s): i for i, s in enumerate(strings)}
    counts = np.zeros(len(strings))
    for d in draws:
        counts[index[tuple(d)]] += 1
    return counts / len(draws)


def test_samples_follow_the_exact_distribution_with_and_without_prompt():
    m = ready(categorical(3, 3))
    strings, p = exact_distribution(m, 3)
    assert p.sum() == pytest.approx(1.0)
    ancestral = m.sample(20000, 3, seed=0)
    filtered = draw_tempered(m.startprob_, m.transmat_, m.emissionprob_, 20000, 3, 1.0,
                             np.random.default_rng(1))
    for draws in (ancestral, filtered):
        assert 0.5 * np.abs(empirical(draws, strings) - p).sum() < 0.02  # total variation
    prompt = [2, 0, 0, 1]
    strings, p = exact_distribution(m, 2, prompt)
    assert p.sum() == pytest.approx(1.0)
    assert 0.5 * np.abs(empirical(m.sample(20000, 2, seed=2, prompt=prompt), strings)
                        - p).sum() < 0.02


def test_temperature_sharpens_towards_the_most_probable_symbol():
    m = ready(categorical(3, 4))
    prompt = [1, 2]
    _, p = exact_distribution(m, 1, prompt)
    cold = np.array(m.sample(500, 1, seed=0, prompt=prompt, temperature=0.02))[:, 0]
    assert np.all(cold == np.argmax(p))
    hot = np.array(m.sample(4000, 1, seed=0, prompt=prompt, temperature=50.0))[:, 0]
    assert np.abs(np.bincount(hot, minlength=4) / 4000 - 0.25).max() < 0.05
    with pytest.raises(ValueError, match="temperature"):
        m.sample(2, 3, temperature=0.0)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        m.sample(2, 3, prompt=[9])


def test_fit_and_queries_leave_the_torch_thread_count_as_they_found_it():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        m = fitted(categorical(2, 3, n_iter=3), [np.array([0, 1, 2, 1, 0])])
        m.log_prob([np.array([0, 1])])
        m.decode([np.array([0, 1])])
        m.predict_proba([np.array([0, 1])])
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_a_reused_workspace_gives_the_same_posteriors():
    """Buffers kept between calls (EM iterations, batches of other shapes) change nothing."""
    K, S = 3, 5
    sp, tm, ep = random_chain(K, S)
    log_sp, log_tm = torch.log(torch.tensor(sp)), torch.log(torch.tensor(tm))
    ws = Workspace()
    for seqs in ([rng.integers(0, S, size=T) for T in (9, 7, 3)],
                 [rng.integers(0, S, size=T) for T in (4, 4)],
                 [rng.integers(0, S, size=T) for T in (12, 2, 6, 5)]):
        log_b, lengths = _batch(ep, seqs)
        for block in (log_b.shape[0], 2):
            got = torch.zeros_like(log_b)

            def keep(s, e, g, got=got):
                got[s:e] = g

            ll_ws, xi_ws = forward_backward_blocks(log_sp, log_tm, lambda s, e, lb=log_b: lb[s:e],
                                                   lengths, log_b.shape[0], block, keep, ws)
            ll, gam, xi = forward_backward(log_sp, log_tm, log_b, lengths)
            np.testing.assert_allclose(ll_ws.numpy(), ll.numpy(), rtol=1e-13)
            np.testing.assert_allclose(got.numpy(), gam.numpy(), atol=1e-13)
            np.testing.assert_allclose(xi_ws.numpy(), xi.numpy(), atol=1e-13)


def test_sampling_bad_input_names_the_problem():
    m = ready(categorical(2, 3))
    m.emissionprob_ = np.array([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0]])  # symbol 2 never emitted
    with pytest.raises(ValueError, match="prompt has probability zero"):
        m.sample(1, 3, prompt=[0, 2])
    with pytest.raises(ValueError, match="return_states needs temperature=1"):
        m.sample(1, 3, temperature=0.5, return_states=True)
    g = fitted(HMM(n_states=2, emission="gaussian", n_iter=2, verbose=False, device="cpu"),
               [rng.normal(size=(20, 2))])
    with pytest.raises(ValueError, match="categorical emissions only"):
        g.sample(1, 3, temperature=0.5)


def test_denormal_transition_probabilities_count_as_zero_and_flushing_ends_with_the_call():
    # EM drives transitions towards zero; the recursions flush denormals (speed) and a
    # transition of 1e-310 then behaves exactly as a forbidden one. Outside, torch is as usual.
    K, S = 3, 4
    sp, tm, ep = random_chain(K, S)
    tm[0] = [0.5, 0.5, 0.0]
    seqs = [rng.integers(0, S, size=T) for T in (2, 5, 6)]
    log_b, lengths = _batch(ep, seqs)
    log_sp = torch.log(torch.tensor(sp))
    zero, tiny = torch.tensor(tm), torch.tensor(tm)
    tiny[0, 2] = 1e-310  # denormal in float64
    ll0, g0, x0 = forward_backward(log_sp, torch.log(zero), log_b, lengths)
    ll1, g1, x1 = forward_backward(log_sp, torch.log(tiny), log_b, lengths)
    assert torch.equal(ll0, ll1) and torch.equal(g0, g1) and torch.equal(x0, x1)
    assert torch.equal(forward_log_likelihood(log_sp, torch.log(tiny), log_b, lengths), ll0)
    assert (torch.tensor(1e-310, dtype=torch.float64) * 1.0).item() > 0  # flag off again
