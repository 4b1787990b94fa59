"""Emission distributions of the hidden Markov model: categorical, Gaussian, Poisson.

Each family gives the HMM four things: log p(x_t | state) for a padded batch, sufficient
statistics that add up over batches (so EM can run over data in chunks or across processes), the
M-step from those statistics, and a sampler. The Gaussian M-step is the MAP estimate with the
same priors and names as hmmlearn (``means_prior``, ``means_weight``, ``covars_prior``,
``covars_weight``), so both libraries give the same numbers from the same starting point.
"""

from __future__ import annotations

import math

import numpy as np
import torch

LOG_2PI = math.log(2.0 * math.pi)


class Categorical:
    """p(x = s | state k) = emissionprob_[k, s]."""

    param_names = ("emissionprob",)

    def __init__(self, model):
        self.m = model

    def n_free(self, K: int) -> int:
        return K * (self.m.n_symbols_ - 1)

    def init(self, seqs, K, rng, which):
        if "emissionprob" in which:
            p = rng.random((K, self.m.n_symbols_)) + 1e-3
            self.m.emissionprob_ = p / p.sum(1, keepdims=True)

    def log_b(self, x: torch.Tensor) -> torch.Tensor:  # x (N, T) long -> (N, T, K)
        log_e = torch.log(torch.as_tensor(self.m.emissionprob_, dtype=self.m.dtype_,
                                          device=x.device))  # (K, S)
        return log_e.T[x.clamp(min=0)]

    def new_stats(self, K, D, device):
        return {"obs": torch.zeros(K, self.m.n_symbols_, dtype=self.m.dtype_, device=device)}

    def accumulate(self, stats, x_flat, gamma_flat):  # (M,), (M, K)
        stats["obs"].index_add_(1, x_flat, gamma_flat.T)

    def m_step(self, stats, floor):
        counts = np.maximum(self.m.emissionprob_prior - 1.0 + stats["obs"], 0.0) + floor
        self.m.emissionprob_ = _normalise_rows(counts, self.m.emissionprob_)

    def sample(self, k: int, rng) -> int:
        return int(rng.choice(self.m.n_symbols_, p=self.m.emissionprob_[k]))


class Poisson:
    """Independent Poisson counts per feature: p(x | k) = prod_d Poisson(x_d | lambdas_[k, d])."""

    param_names = ("lambdas",)

    def __init__(self, model):
        self.m = model

    def n_free(self, K):
        return K * self.m.n_features_

    def init(self, X, K, rng, which):
        if "lambdas" in which:
            mean = X.mean(0)
            self.m.lambdas_ = np.maximum(mean * rng.gamma(10.0, 0.1, size=(K, X.shape[1])), 1e-3)

    def log_b(self, x):  # x (N, T, D)
        lam = torch.as_tensor(self.m.lambdas_, dtype=self.m.dtype_, device=x.device)  # (K, D)
        return (x @ torch.log(lam).T - lam.sum(1) - torch.lgamma(x + 1).sum(-1, keepdim=True))

    def new_stats(self, K, D, device):
        z = dict(dtype=self.m.dtype_, device=device)
        return {"post": torch.zeros(K, **z), "obs": torch.zeros(K, D, **z)}

    def accumulate(self, stats, x_flat, gamma_flat):
        stats["post"] += gamma_flat.sum(0)
        stats["obs"] += gamma_flat.T @ x_flat

    def m_step(self, stats, floor):
        post = stats["post"][:, None]
        lam = np.where(post > 0, stats["obs"] / np.maximum(post, 1e-300), self.m.lambdas_)
        self.m.lambdas_ = np.maximum(lam, max(floor, 1e-10))

    def sample(self, k, rng):
        return rng.poisson(self.m.lambdas_[k]).astype(np.float64)


class Gaussian:
    """p(x | k) = N(x | means_[k], covars_[k]); covariance "diag", "full", "spherical", "tied".

    ``covars_`` is stored as hmmlearn stores it: (K, D) for diag, (K,) for spherical, (D, D)
    for tied and (K, D, D) for full.
    """

    param_names = ("means", "covars")

    def __init__(self, model):
        self.m = model

    def n_free(self, K):
        D, ct = self.m.n_features_, self.m.covariance_type
        cov = {"diag": K * D, "spherical": K, "full": K * D * (D + 1) // 2,
               "tied": D * (D + 1) // 2}[ct]
        return K * D + cov

    def init(self, X, K, rng, which):
        m = self.m
        if "means" in which:
            if m.init == "kmeans":
                from sklearn.cluster import KMeans

                m.means_ = KMeans(n_clusters=K, n_init=1, random_state=int(rng.integers(2**31))
                                  ).fit(X).cluster_centers_
            else:
                m.means_ = X[rng.choice(len(X), size=K, replace=len(X) < K)]
        if "covars" in which:
            D = X.shape[1]
            cv = np.cov(X.T).reshape(D, D) + m.min_covar * np.eye(D)
            m.covars_ = {"diag": np.tile(np.diag(cv), (K, 1)),
                         "spherical": np.full(K, np.diag(cv).mean()),
                         "tied": cv, "full": np.tile(cv, (K, 1, 1))}[m.covariance_type]

    def full_covars(self) -> np.ndarray:
        """(K, D, D) covariance matrices whatever the covariance type."""
        m, K, D = self.m, self.m.n_states, self.m.n_features_
        c = np.asarray(m.covars_)
        if m.covariance_type == "diag":
            return np.stack([np.diag(r) for r in c])
        if m.covariance_type == "spherical":
            return c[:, None, None] * np.eye(D)[None]
        if m.covariance_type == "tied":
            return np.tile(c, (K, 1, 1))
        return c

    def log_b(self, x):  # x (N, T, D)
        m = self.m
        z = dict(dtype=m.dtype_, device=x.device)
        mu = torch.as_tensor(m.means_, **z)  # (K, D)
        if m.covariance_type in ("diag", "spherical"):
            var = torch.as_tensor(np.asarray(m.covars_), **z)
            var = var[:, None].expand_as(mu) if var.ndim == 1 else var  # (K, D)
            prec = 1.0 / var
            # sum_d (x - mu)^2 / var, expanded so it is two matrix products
            quad = ((x**2) @ prec.T - 2.0 * (x @ (mu * prec).T) + (mu**2 * prec).sum(1))
            return -0.5 * (x.shape[-1] * LOG_2PI + torch.log(var).sum(1) + quad)
        cov = torch.as_tensor(self.full_covars(), **z)  # (K, D, D)
        chol = torch.linalg.cholesky(cov)
        diff = x[..., None, :] - mu  # (N, T, K, D)
        sol = torch.linalg.solve_triangular(chol, diff.unsqueeze(-1), upper=False)[..., 0]
        log_det = 2.0 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
        return -0.5 * (x.shape[-1] * LOG_2PI + log_det + (sol**2).sum(-1))

    def new_stats(self, K, D, device):
        z = dict(dtype=self.m.dtype_, device=device)
        stats = {"post": torch.zeros(K, **z), "obs": torch.zeros(K, D, **z)}
        if self.m.covariance_type in ("diag", "spherical"):
            stats["obs2"] = torch.zeros(K, D, **z)
        else:
            stats["outer"] = torch.zeros(K, D, D, **z)
        return stats

    def accumulate(self, stats, x_flat, gamma_flat):  # (M, D), (M, K)
        stats["post"] += gamma_flat.sum(0)
        stats["obs"] += gamma_flat.T @ x_flat
        if "obs2" in stats:
            stats["obs2"] += gamma_flat.T @ (x_flat**2)
        else:
            stats["outer"] += torch.einsum("mk,md,me->kde", gamma_flat, x_flat, x_flat)

    def m_step(self, stats, floor, update=("means", "covars")):
        m = self.m
        post = stats["post"]
        denom = post[:, None]
        if "means" in update:
            new = (m.means_weight * m.means_prior + stats["obs"]) / (m.means_weight + denom)
            # a state that saw no data keeps its mean instead of becoming 0/0
            m.means_ = np.where(denom > 0, new, m.means_) if m.means_weight == 0 else new
        if "covars" not in update:
            return
        mu, diff = m.means_, m.means_ - m.means_prior
        if m.covariance_type in ("diag", "spherical"):
            c_n = (m.means_weight * diff**2 + stats["obs2"] - 2 * mu * stats["obs"]
                   + mu**2 * denom)
            c_d = max(m.covars_weight - 1, 0) + denom
            cov = (m.covars_prior + c_n) / np.maximum(c_d, 1e-5)
            cov = np.maximum(cov, floor) if floor else cov
            m.covars_ = cov.mean(1) if m.covariance_type == "spherical" else cov
            return
        obsmean = np.einsum("kd,ke->kde", stats["obs"], mu)
        c_n = (m.means_weight * np.einsum("kd,ke->kde", diff, diff) + stats["outer"]
               - obsmean - obsmean.transpose(0, 2, 1) + np.einsum("kd,ke->kde", mu, mu)
               * post[:, None, None])
        cvweight = max(m.covars_weight - m.n_features_, 0)
        D = m.n_features_
        if m.covariance_type == "tied":
            cov = (m.covars_prior + c_n.sum(0)) / (cvweight + post.sum())
        else:
            cov = (m.covars_prior + c_n) / (cvweight + post[:, None, None])
        if floor:
            cov = cov + floor * np.eye(D)
        m.covars_ = cov

    def sample(self, k, rng):
        return rng.multivariate_normal(self.m.means_[k], self.full_covars()[k])


def _normalise_rows(counts: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """Rows divided by their sums; a row with no counts keeps its previous values (no 0/0)."""
    counts = np.asarray(counts, dtype=np.float64)
    sums = counts.sum(-1, keepdims=True)
    return np.where(sums > 0, counts / np.where(sums > 0, sums, 1.0), previous)


EMISSIONS = {"categorical": Categorical, "gaussian": Gaussian, "poisson": Poisson}
