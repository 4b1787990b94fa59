"""log_likelihood: each model's log_prob and its named estimator; families without one."""

import numpy as np
import pytest
from scipy.stats import norm

from genlearn.base import GenerativeModel
from genlearn.metrics import log_likelihood


class _Fixed(GenerativeModel):
    """The contract's abstract methods, filled in for a model that is never trained here."""

    input_kind, conditional, resumable, epoch_trained = "rows", False, False, False
    has_likelihood = True

    def fit(self, X, y=None):
        return self

    def sample(self, n, seed=None):
        raise NotImplementedError

    def _get_state(self):
        return {}, {}

    def _set_state(self, meta, tensors):
        pass


class _Gaussian(_Fixed):
    """A fixed standard normal in d dimensions (exact log-likelihood)."""

    def log_prob(self, X):
        return norm.logpdf(np.asarray(X)).sum(1)


class _NoLikelihood(_Fixed):
    """The base class's log_prob raises TypeError("... defines no log-likelihood")."""

    has_likelihood = False


class _GANLike(_Fixed):
    """Names no estimator; its log_prob must not even be called."""

    has_likelihood = False

    def log_prob_estimator(self):
        return "none (no likelihood here)"

    def log_prob(self, X):
        raise AssertionError("log_prob was called")


def test_log_likelihood_mean_se_and_estimator():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    out = log_likelihood(_Gaussian(), X)
    lp = norm.logpdf(X).sum(1)
    assert out["log_likelihood"] == pytest.approx(lp.mean())
    assert out["log_likelihood_se"] == pytest.approx(lp.std(ddof=1) / np.sqrt(400))
    assert out["estimator"] == "exact" and out["n"] == 400


def test_a_family_without_likelihood_is_reported_not_raised():
    out = log_likelihood(_NoLikelihood(), np.zeros((5, 2)))
    assert out["log_likelihood"] is None and out["estimator"].startswith("none")
    out = log_likelihood(_GANLike(), np.zeros((5, 2)))
    assert out["log_likelihood"] is None and out["estimator"] == "none (no likelihood here)"


def test_other_type_errors_propagate():
    class Broken(_Fixed):
        def log_prob(self, X):
            raise TypeError("unsupported operand")

    with pytest.raises(TypeError, match="unsupported operand"):
        log_likelihood(Broken(), np.zeros((5, 2)))


def test_vae_estimator_is_named(binary_digits):
    import genlearn as gl

    X, _ = binary_digits
    model = gl.VAE(latent_dim=2, hidden=(16,), epochs=1, iw_samples=5, verbose=False).fit(X[:200])
    out = log_likelihood(model, X[200:260])
    assert out["estimator"] == "importance-weighted (IWAE), k=5"
    assert out["log_likelihood"] < 0
