"""The HMM's (and the n-gram's) input and parameter defects of issue 10: collinear data,
hand-set models, pandas, implausible symbol ids; each test failed before its fix."""

import warnings

import numpy as np
import pandas as pd
import pytest

import genlearn as gl
from genlearn.base import NotFittedError
from genlearn.models.hmm import HMM

hmmlearn = pytest.importorskip("hmmlearn.hmm")
rng = np.random.default_rng(3)


def quiet_fit(m, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return m.fit(*args)


@pytest.mark.parametrize("cov", ["full", "tied"])
def test_collinear_features_keep_a_positive_definite_covariance(cov):
    t = rng.normal(size=(200, 1))
    X = np.hstack([t, t, -t])  # rank 1: the scatter matrices are singular
    m = quiet_fit(HMM(n_states=2, emission="gaussian", covariance_type=cov, n_iter=5,
                      verbose=False, device="cpu"), [X])
    covs = np.asarray(m.covars_).reshape(-1, 3, 3)
    assert np.linalg.eigvalsh(covs).min() >= m.min_covar * (1 - 1e-9)
    assert np.all(np.isfinite(m.log_prob([X])))


def hand_set(cls_ours, ref, **params):
    for name, value in params.items():
        setattr(ref, name, value)
        setattr(cls_ours, name, value)
    return cls_ours, ref


def test_a_hand_set_categorical_hmm_works_without_fit_as_in_hmmlearn(tmp_path):
    K, S = 3, 4
    params = dict(startprob_=rng.dirichlet(np.ones(K)), transmat_=rng.dirichlet(np.ones(K), K),
                  emissionprob_=rng.dirichlet(np.ones(S), K))
    ours, ref = hand_set(HMM(n_states=K, verbose=False, device="cpu"),
                         hmmlearn.CategoricalHMM(n_components=K), **params)
    X, lengths = rng.integers(0, S, size=30), [10, 20]
    assert ours.total_log_prob(X, lengths) == pytest.approx(ref.score(X[:, None], lengths),
                                                            rel=1e-12)
    s_ours, p_ours = ours.decode(X, lengths)
    s_ref, p_ref = ref.decode(X[:, None], lengths)
    assert s_ours == pytest.approx(s_ref, rel=1e-12)

    def joint(z, x=X, sp=params["startprob_"], tm=params["transmat_"], ep=params["emissionprob_"]):
        parts = np.split(np.arange(len(x)), np.cumsum(lengths)[:-1])
        return sum(np.log(sp[z[i[0]]]) + np.log(tm[z[i[:-1]], z[i[1:]]]).sum()
                   + np.log(ep[z[i], x[i]]).sum() for i in parts)

    # equally probable paths may break ties differently: compare the paths' probabilities
    assert joint(p_ours) == pytest.approx(joint(p_ref), rel=1e-12) == pytest.approx(s_ref)
    np.testing.assert_allclose(ours.predict_proba(X, lengths),
                               ref.predict_proba(X[:, None], lengths), atol=1e-12)
    draws = ours.sample(3, 5, seed=0)
    assert len(draws) == 3 and all(d.shape == (5,) and d.max() < S for d in draws)
    assert ours.n_symbols_ == S
    twin = hand_set(HMM(n_states=K, verbose=False, device="cpu"), ref, **params)[0]
    twin.save(tmp_path / "hand")  # saved before any query
    np.testing.assert_array_equal(gl.load(tmp_path / "hand").log_prob(X, lengths),
                                  ours.log_prob(X, lengths))


def test_a_hand_set_gaussian_hmm_works_without_fit_as_in_hmmlearn():
    K, D = 2, 2
    covars = np.stack([np.eye(D) * (1 + k) + 0.3 for k in range(K)])
    params = dict(startprob_=np.array([0.4, 0.6]), transmat_=np.array([[0.9, 0.1], [0.2, 0.8]]),
                  means_=rng.normal(size=(K, D)), covars_=covars)
    ours, ref = hand_set(HMM(n_states=K, emission="gaussian", covariance_type="full",
                             verbose=False, device="cpu"),
                         hmmlearn.GaussianHMM(n_components=K, covariance_type="full"), **params)
    X = rng.normal(size=(25, D))
    assert ours.total_log_prob(X) == pytest.approx(ref.score(X), rel=1e-12)
    assert np.array_equal(ours.predict(X), ref.predict(X))
    assert ours.sample(2, 7, seed=1)[0].shape == (7, D)


@pytest.mark.parametrize("name, value, match", [
    ("transmat_", np.array([[0.5, 0.4], [0.5, 0.5]]), "transmat_ must be non-negative and sum "
                                                      "to 1; row 0 sums to 0.9"),
    ("startprob_", np.array([0.5, 0.6]), "startprob_ must be"),
    ("emissionprob_", np.array([[0.5, 0.5, 0.0], [1.0, np.nan, 0.0]]), "emissionprob_ contains"),
    ("transmat_", np.eye(3), r"transmat_ must have shape \(2, 2\)"),
])
def test_bad_hand_set_parameters_name_the_parameter(name, value, match):
    m = HMM(n_states=2, verbose=False, device="cpu")
    m.startprob_, m.transmat_ = np.array([0.5, 0.5]), np.full((2, 2), 0.5)
    m.emissionprob_ = np.full((2, 3), 1 / 3)
    setattr(m, name, value)
    with pytest.raises(ValueError, match=match):
        m.log_prob([[0, 1, 2]])


def test_a_covariance_that_is_not_positive_definite_is_refused():
    m = HMM(n_states=1, emission="gaussian", covariance_type="full", verbose=False, device="cpu")
    m.startprob_, m.transmat_, m.means_ = np.ones(1), np.ones((1, 1)), np.zeros((1, 2))
    m.covars_ = np.array([[[1.0, 2.0], [2.0, 1.0]]])
    with pytest.raises(ValueError, match="positive definite"):
        m.score([np.zeros((3, 2))])


def test_an_incomplete_model_is_not_fitted():
    m = HMM(n_states=2, verbose=False)
    m.startprob_ = np.array([0.5, 0.5])
    with pytest.raises(NotFittedError):
        m.log_prob([[0, 1]])


def test_pandas_input_fits_like_numpy():
    s = pd.Series(rng.integers(0, 3, size=40))
    a = quiet_fit(HMM(n_states=2, n_iter=3, verbose=False, device="cpu"), s)
    b = quiet_fit(HMM(n_states=2, n_iter=3, verbose=False, device="cpu"), [s.to_numpy()])
    np.testing.assert_array_equal(a.transmat_, b.transmat_)
    frame = pd.DataFrame({"x": rng.normal(size=30), "y": rng.normal(size=30)})
    g = quiet_fit(HMM(n_states=2, emission="gaussian", n_iter=2, verbose=False, device="cpu"),
                  frame)
    assert g.n_features_ == 2
    with pytest.raises(ValueError, match="2 columns is not one sequence of symbols"):
        HMM(verbose=False).fit(pd.DataFrame({"a": [0, 1], "b": [1, 0]}))
    with pytest.raises(ValueError, match="np.unique"):
        HMM(verbose=False).fit(pd.Series(["a", "b", "a"]))


def test_implausible_symbol_ids_are_refused_before_allocating():
    with pytest.raises(ValueError, match=r"symbol 1000000000 but only 3 distinct.*np.unique"):
        HMM(n_states=2, verbose=False).fit([np.array([0, 1, 10**9])])
    with pytest.raises(ValueError, match="need 15 GiB per emission table"):
        HMM(n_states=2, n_symbols=10**9, verbose=False).fit([np.array([0, 1, 2])])


def test_the_ngram_refuses_implausible_ids_and_huge_draws():
    from genlearn.models.ngram import NGram

    with pytest.raises(ValueError, match="np.unique"):
        NGram(verbose=False).fit([np.array([0, 1, 10**9])])
    m = NGram(order=2, n_symbols=10**9, verbose=False).fit([np.array([0, 1, 2])])
    assert m.n_symbols_seen_ == 3
    assert np.isfinite(m.log_prob([[0, 1]])).all()  # scoring needs no (V,) arrays
    with pytest.raises(ValueError, match="over 1000000000 symbols need 7 GiB"):
        m.sample(1, 3)
    with pytest.raises(ValueError, match="need 7 GiB"):
        m.next_log_proba([0])
