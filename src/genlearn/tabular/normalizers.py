"""Ways to turn one continuous column into network inputs (strategy classes).

``ModeNormalizer`` is the mode-specific normalisation of CTGAN/TVAE (Xu et al., 2019, sec. 4.2):
a variational Bayesian Gaussian mixture (Dirichlet-process prior, at most 10 modes) is fitted to
the column; each value x is given a mode k drawn from its posterior p(k | x) and is encoded as
``alpha = (x - mu_k) / (4 sigma_k)`` (clipped to [-0.99, 0.99]) plus a one-hot of k. The inverse
is ``x = 4 sigma_k alpha + mu_k``. Drawing k (instead of the most likely mode) keeps the encoded
table faithful where modes overlap.

``QuantileNormalizer`` maps the column through its empirical CDF to standard-normal scores
(scikit-learn's ``QuantileTransformer(output_distribution="normal")``, re-implemented so the
fitted state is a short list of quantiles in JSON). One output, no mode block.

Both keep their fitted state as plain lists so a checkpoint holds no pickle.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

# Scores are clipped to the normal quantiles of 1e-7 and 1 - 1e-7, as scikit-learn does, so the
# smallest and largest training value map to finite numbers.
_CLIP = 1e-7


class ModeNormalizer:
    """Bayesian-Gaussian-mixture mode-specific normalisation (``normalization="mode"``)."""

    name = "mode"

    def __init__(self, max_modes: int = 10, weight_threshold: float = 0.005):
        self.max_modes = max_modes
        self.weight_threshold = weight_threshold

    def fit(self, x: np.ndarray, seed: int) -> ModeNormalizer:
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.mixture import BayesianGaussianMixture

        n_unique = len(np.unique(x))
        k = max(1, min(self.max_modes, n_unique))
        bgm = BayesianGaussianMixture(
            n_components=k, weight_concentration_prior_type="dirichlet_process",
            weight_concentration_prior=0.001, max_iter=100, n_init=1, random_state=seed)
        with warnings.catch_warnings():
            # A column with few distinct values stops early with empty modes; the modes kept
            # below are still a valid encoding, so the warning says nothing the user can act on.
            warnings.simplefilter("ignore", ConvergenceWarning)
            bgm.fit(x.reshape(-1, 1))
        keep = bgm.weights_ > self.weight_threshold
        if not keep.any():
            keep = bgm.weights_ == bgm.weights_.max()
        self.weights_ = (bgm.weights_[keep] / bgm.weights_[keep].sum()).tolist()
        self.means_ = bgm.means_[keep, 0].tolist()
        spread = float(np.std(x)) or 1.0
        # A mode on a single repeated value has zero variance; give it a small positive width
        # relative to the column's spread so alpha stays finite.
        self.stds_ = np.maximum(np.sqrt(bgm.covariances_[keep].reshape(-1)), 1e-3 * spread).tolist()
        return self

    @property
    def width(self) -> int:
        return 1 + len(self.means_)

    def blocks(self) -> list[tuple[str, int]]:
        return [("tanh", 1), ("softmax", len(self.means_))]

    def _log_posterior(self, x: np.ndarray) -> np.ndarray:
        mu, sd, w = np.asarray(self.means_), np.asarray(self.stds_), np.asarray(self.weights_)
        z = (x[:, None] - mu) / sd                                      # (n, K)
        logp = np.log(w) - np.log(sd) - 0.5 * z * z
        return logp - np.logaddexp.reduce(logp, axis=1, keepdims=True)

    def transform(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        post = np.exp(self._log_posterior(x))                            # (n, K)
        u = rng.random(len(x))[:, None]
        k = np.minimum((post.cumsum(axis=1) < u).sum(axis=1), post.shape[1] - 1)
        mu, sd = np.asarray(self.means_)[k], np.asarray(self.stds_)[k]
        out = np.zeros((len(x), self.width))
        out[:, 0] = np.clip((x - mu) / (4 * sd), -0.99, 0.99)
        out[np.arange(len(x)), 1 + k] = 1.0
        return out

    def inverse(self, block: np.ndarray) -> np.ndarray:
        k = np.argmax(block[:, 1:], axis=1)
        alpha = np.clip(block[:, 0], -1.0, 1.0)
        return alpha * 4 * np.asarray(self.stds_)[k] + np.asarray(self.means_)[k]

    def to_json(self) -> dict:
        return {"name": self.name, "max_modes": self.max_modes,
                "weight_threshold": self.weight_threshold, "weights": self.weights_,
                "means": self.means_, "stds": self.stds_}

    @classmethod
    def from_json(cls, d: dict) -> ModeNormalizer:
        self = cls(d["max_modes"], d["weight_threshold"])
        self.weights_, self.means_, self.stds_ = d["weights"], d["means"], d["stds"]
        return self


class QuantileNormalizer:
    """Empirical-CDF to standard-normal scores (``normalization="quantile"``)."""

    name = "quantile"

    def __init__(self, n_quantiles: int = 1000):
        self.n_quantiles = n_quantiles

    def fit(self, x: np.ndarray, seed: int) -> QuantileNormalizer:
        m = max(2, min(self.n_quantiles, len(x)))
        self.references_ = np.linspace(0.0, 1.0, m).tolist()
        self.quantiles_ = np.quantile(x, self.references_).tolist()
        return self

    @property
    def width(self) -> int:
        return 1

    def blocks(self) -> list[tuple[str, int]]:
        return [("linear", 1)]

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """Empirical CDF in [0, 1]; ties are sent to the middle of their run of quantiles."""
        q, r = np.asarray(self.quantiles_), np.asarray(self.references_)
        # Interpolating forwards and backwards and averaging puts a repeated value (an integer
        # column, a spike at zero) in the middle of its plateau, as scikit-learn does.
        return 0.5 * (np.interp(x, q, r) - np.interp(-x, -q[::-1], -r[::-1]))

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return np.interp(u, self.references_, self.quantiles_)

    def transform(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        u = np.clip(self.cdf(x), _CLIP, 1 - _CLIP)
        return ndtri(u)[:, None]

    def inverse(self, block: np.ndarray) -> np.ndarray:
        return self.ppf(ndtr(block[:, 0]))

    def to_json(self) -> dict:
        return {"name": self.name, "n_quantiles": self.n_quantiles,
                "references": self.references_, "quantiles": self.quantiles_}

    @classmethod
    def from_json(cls, d: dict) -> QuantileNormalizer:
        self = cls(d["n_quantiles"])
        self.references_, self.quantiles_ = d["references"], d["quantiles"]
        return self


NORMALIZERS = {cls.name: cls for cls in (ModeNormalizer, QuantileNormalizer)}
