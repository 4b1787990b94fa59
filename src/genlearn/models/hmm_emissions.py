"""Emission distributions of the hidden Markov model: categorical, Gaussian, GMM, Poisson.

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

from .hmm_params import check_covars, check_stochastic, checked_array, floor_eigenvalues

LOG_2PI = math.log(2.0 * math.pi)


class Emission:
    """What every emission family shares; ``scaled_b`` defaults to the log-probabilities."""

    param_names: tuple[str, ...] = ()

    def __init__(self, model):
        self.m = model

    def log_b(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _log_b_into(self, x: torch.Tensor, ws) -> torch.Tensor:
        """log_b in a workspace buffer where the family can (default: a fresh array)."""
        return self.log_b(x)

    def scaled_b(self, x: torch.Tensor, ws=None):
        """What the recursions take: (exp(log_b - shift), shift) with shift = max_k log_b.

        Computed in place on the fresh log_b: no second (T, N, K) array. ``ws`` (a
        :class:`genlearn.ops.hmm.Workspace`) lets an emission write log_b into a kept buffer.
        """
        log_b = self.log_b(x) if ws is None else self._log_b_into(x, ws)
        shift = torch.amax(log_b, dim=-1)
        shift = torch.where(torch.isfinite(shift), shift, torch.zeros_like(shift))
        return log_b.sub_(shift[..., None]).exp_(), shift

    def draw(self, z: np.ndarray, rng) -> np.ndarray:  # pragma: no cover - abstract
        """One observation for each state in ``z`` (n,): (n,) symbols or (n, D) features."""
        raise NotImplementedError

    def data_size(self) -> tuple[str, int]:  # pragma: no cover - abstract
        """The data size the parameters imply: ("n_symbols_", S) or ("n_features_", D)."""
        raise NotImplementedError

    def check(self, K: int) -> None:  # pragma: no cover - abstract
        """Raise ``ValueError`` naming the parameter unless it is a valid one for K states."""
        raise NotImplementedError


class Categorical(Emission):
    """p(x = s | state k) = emissionprob_[k, s]."""

    param_names = ("emissionprob",)

    def n_free(self, K: int) -> int:
        return K * (self.m.n_symbols_ - 1)

    def init(self, seqs, K, rng, which):
        if "emissionprob" in which:
            p = rng.random((K, self.m.n_symbols_)) + 1e-3
            self.m.emissionprob_ = p / p.sum(1, keepdims=True)

    def log_b(self, x: torch.Tensor) -> torch.Tensor:  # x (T, N) long -> (T, N, K)
        log_e = torch.log(torch.as_tensor(self.m.emissionprob_, dtype=self.m.dtype_,
                                          device=x.device))  # (K, S)
        return log_e.T[x]

    def scaled_b(self, x: torch.Tensor, ws=None):
        """(exp(log_b - shift), shift) by table lookup: shift = log max_k emissionprob_[k, x]."""
        e = torch.as_tensor(self.m.emissionprob_, dtype=self.m.dtype_, device=x.device)  # (K, S)
        top = e.amax(0)  # (S,)
        scaled = (e / torch.where(top > 0, top, 1.0)).T.contiguous()  # (S, K)
        if ws is None:
            return scaled[x], torch.log(top)[x]
        out = ws.get("b", (x.numel(), scaled.shape[1]), scaled.dtype, scaled.device)
        torch.index_select(scaled, 0, x.reshape(-1), out=out)
        return out.view(*x.shape, -1), torch.log(top)[x]

    def new_stats(self, K, D, device):
        return {"obs": torch.zeros(K, self.m.n_symbols_, dtype=self.m.dtype_, device=device)}

    def accumulate(self, stats, x_flat, gamma_flat):  # (M,), (M, K)
        stats["obs"].T.index_add_(0, x_flat, gamma_flat)  # row s += gamma where x == s

    def m_step(self, stats, floor, update=("emissionprob",)):
        counts = np.maximum(self.m.emissionprob_prior - 1.0 + stats["obs"], 0.0) + floor
        self.m.emissionprob_ = _normalise_rows(counts, self.m.emissionprob_)

    def draw(self, z: np.ndarray, rng) -> np.ndarray:
        return draw_rows(self.m.emissionprob_[z], rng)

    def data_size(self):
        return "n_symbols_", np.shape(self.m.emissionprob_)[-1]

    def check(self, K):
        check_stochastic(self.m.emissionprob_, "emissionprob_", (K, self.m.n_symbols_))


class Poisson(Emission):
    """Independent Poisson counts per feature: p(x | k) = prod_d Poisson(x_d | lambdas_[k, d])."""

    param_names = ("lambdas",)

    def n_free(self, K):
        return K * self.m.n_features_

    def init(self, X, K, rng, which):
        if "lambdas" in which:
            mean = X.mean(0)
            self.m.lambdas_ = np.maximum(mean * rng.gamma(10.0, 0.1, size=(K, X.shape[1])), 1e-3)

    def log_b(self, x):  # x (T, N, D) -> (T, N, K)
        lam = torch.as_tensor(self.m.lambdas_, dtype=self.m.dtype_, device=x.device)  # (K, D)
        return (x @ torch.log(lam).T - lam.sum(1) - torch.lgamma(x + 1).sum(-1, keepdim=True))

    def new_stats(self, K, D, device):
        z = dict(dtype=self.m.dtype_, device=device)
        return {"post": torch.zeros(K, **z), "obs": torch.zeros(K, D, **z)}

    def accumulate(self, stats, x_flat, gamma_flat):
        stats["post"] += gamma_flat.sum(0)
        stats["obs"] += gamma_flat.T @ x_flat

    def m_step(self, stats, floor, update=("lambdas",)):
        post = stats["post"][:, None]
        lam = np.where(post > 0, stats["obs"] / np.maximum(post, 1e-300), self.m.lambdas_)
        self.m.lambdas_ = np.maximum(lam, max(floor, 1e-10))

    def draw(self, z, rng):
        return rng.poisson(self.m.lambdas_[z]).astype(np.float64)

    def data_size(self):
        return "n_features_", np.shape(self.m.lambdas_)[-1]

    def check(self, K):
        lam = checked_array(self.m.lambdas_, "lambdas_", (K, self.m.n_features_))
        if np.any(lam <= 0):
            raise ValueError("lambdas_ must be positive")


class Gaussian(Emission):
    """p(x | k) = N(x | means_[k], covars_[k]); covariance "diag", "full", "spherical", "tied".

    ``covars_`` is stored as hmmlearn stores it: (K, D) for diag, (K,) for spherical, (D, D)
    for tied and (K, D, D) for full.
    """

    param_names = ("means", "covars")

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

    def _log_b_into(self, x, ws):
        return self.log_b(x, ws)

    def log_b(self, x, ws=None):  # x (T, N, D) -> (T, N, K)
        m = self.m
        z = dict(dtype=m.dtype_, device=x.device)
        mu = torch.as_tensor(m.means_, **z)  # (K, D)
        if m.covariance_type in ("diag", "spherical"):
            # -0.5 sum_d (x - mu)^2 / var + const, expanded into one product [x^2, x, 1] @ W
            var = torch.as_tensor(np.asarray(m.covars_), **z)
            var = var[:, None].expand_as(mu) if var.ndim == 1 else var  # (K, D)
            prec = 1.0 / var
            const = -0.5 * (x.shape[-1] * LOG_2PI + torch.log(var).sum(1) + (mu**2 * prec).sum(1))
            W = torch.cat([-0.5 * prec.T, (mu * prec).T, const[None, :]])  # (2D + 1, K)
            if ws is None:
                return _features(x) @ W
            out = ws.get("b", (math.prod(x.shape[:-1]), W.shape[1]), W.dtype, W.device)
            torch.mm(_features(x).reshape(-1, W.shape[0]), W, out=out)
            return out.view(*x.shape[:-1], -1)
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
        if "obs2" in stats:  # all three sums in one product: gamma^T [x^2, x, 1]
            D = x_flat.shape[1]
            # (K, 2D + 1); as (F^T G)^T: BLAS is ~3x faster with the long axis inner this way
            sums = (_features(x_flat).T @ gamma_flat).T
            stats["obs2"] += sums[:, :D]
            stats["obs"] += sums[:, D:2 * D]
            stats["post"] += sums[:, 2 * D]
            return
        stats["post"] += gamma_flat.sum(0)
        stats["obs"] += gamma_flat.T @ x_flat
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
            cov = np.maximum(cov, max(floor, m.min_covar))
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
        # collinear data give a singular scatter matrix: keep every eigenvalue >= min_covar
        m.covars_ = floor_eigenvalues(cov, m.min_covar)

    def draw(self, z, rng):
        return _draw_normal(self.m.means_[z], _cholesky(self.full_covars())[z], rng)

    def data_size(self):
        return "n_features_", np.shape(self.m.means_)[-1]

    def check(self, K):
        m, D = self.m, self.m.n_features_
        checked_array(m.means_, "means_", (K, D))
        shape = {"diag": (K, D), "spherical": (K,), "tied": (D, D), "full": (K, D, D)}
        check_covars(m.covars_, shape[m.covariance_type], m.covariance_type)


class GMM(Emission):
    """A mixture of ``n_mix`` Gaussians per state, as hmmlearn's ``GMMHMM`` parameterises it.

        p(x | k) = sum_m weights_[k, m] N(x | means_[k, m], covars_[k, m])

    ``covars_`` is (K, M, D) for diag, (K, M) for spherical, (K, M, D, D) for full and
    (K, D, D) for tied (the components of a state share one covariance), as in hmmlearn. The
    E-step splits each state's posterior over its components (responsibilities); the M-step is
    maximum likelihood, with ``min_covar`` added to every variance so a component that
    collapses onto one point stays a proper density.
    """

    param_names = ("weights", "means", "covars")

    def n_free(self, K):
        M, D, ct = self.m.n_mix, self.m.n_features_, self.m.covariance_type
        cov = {"diag": K * M * D, "spherical": K * M, "full": K * M * D * (D + 1) // 2,
               "tied": K * D * (D + 1) // 2}[ct]
        return K * (M - 1) + K * M * D + cov

    def init(self, X, K, rng, which):
        m, M, D = self.m, self.m.n_mix, X.shape[1]
        if "weights" in which:
            m.weights_ = np.full((K, M), 1.0 / M)
        if "means" in which:
            if m.init == "kmeans" and len(X) >= K * M:
                from sklearn.cluster import KMeans

                centers = KMeans(n_clusters=K * M, n_init=1, random_state=int(
                    rng.integers(2**31))).fit(X).cluster_centers_
                centers = centers[rng.permutation(K * M)]
            else:
                centers = X[rng.choice(len(X), size=K * M, replace=len(X) < K * M)]
            m.means_ = centers.reshape(K, M, D)
        if "covars" in which:
            cv = np.cov(X.T).reshape(D, D) + m.min_covar * np.eye(D)
            m.covars_ = {"diag": np.tile(np.diag(cv), (K, M, 1)),
                         "spherical": np.full((K, M), np.diag(cv).mean()),
                         "tied": np.tile(cv, (K, 1, 1)),
                         "full": np.tile(cv, (K, M, 1, 1))}[m.covariance_type]

    def full_covars(self) -> np.ndarray:
        """(K, M, D, D) covariance matrices whatever the covariance type."""
        m, K, M, D = self.m, self.m.n_states, self.m.n_mix, self.m.n_features_
        c = np.asarray(m.covars_)
        if m.covariance_type == "diag":
            return c[..., None] * np.eye(D)
        if m.covariance_type == "spherical":
            return c[..., None, None] * np.eye(D)
        if m.covariance_type == "tied":
            return np.broadcast_to(c[:, None], (K, M, D, D)).copy()
        return c

    def component_log_prob(self, x):
        """log w_km + log N(x | mu_km, Sigma_km): (..., D) -> (..., K, M)."""
        m = self.m
        z = dict(dtype=m.dtype_, device=x.device)
        K, M, D = m.n_states, m.n_mix, x.shape[-1]
        mu = torch.as_tensor(m.means_, **z).reshape(K * M, D)
        log_w = torch.log(torch.as_tensor(m.weights_, **z)).reshape(K * M)
        if m.covariance_type in ("diag", "spherical"):
            var = torch.as_tensor(np.asarray(m.covars_), **z)
            var = (var[..., None].expand(K, M, D) if var.ndim == 2 else var).reshape(K * M, D)
            prec = 1.0 / var
            const = -0.5 * (D * LOG_2PI + torch.log(var).sum(1) + (mu**2 * prec).sum(1))
            W = torch.cat([-0.5 * prec.T, (mu * prec).T, (const + log_w)[None, :]])
            out = _features(x) @ W
        else:
            chol = torch.linalg.cholesky(torch.as_tensor(self.full_covars(), **z).reshape(
                K * M, D, D))
            diff = x[..., None, :] - mu  # (..., KM, D)
            sol = torch.linalg.solve_triangular(chol, diff.unsqueeze(-1), upper=False)[..., 0]
            log_det = 2.0 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
            out = log_w - 0.5 * (D * LOG_2PI + log_det + (sol**2).sum(-1))
        return out.reshape(*x.shape[:-1], K, M)

    def log_b(self, x):  # x (T, N, D) -> (T, N, K)
        return torch.logsumexp(self.component_log_prob(x), dim=-1)

    def new_stats(self, K, D, device):
        z = dict(dtype=self.m.dtype_, device=device)
        M = self.m.n_mix
        stats = {"post": torch.zeros(K, M, **z), "obs": torch.zeros(K, M, D, **z)}
        if self.m.covariance_type in ("diag", "spherical"):
            stats["obs2"] = torch.zeros(K, M, D, **z)
        else:
            stats["outer"] = torch.zeros(K, M, D, D, **z)
        return stats

    def accumulate(self, stats, x_flat, gamma_flat):  # (R, D), (R, K)
        comp = self.component_log_prob(x_flat)  # (R, K, M)
        resp = torch.softmax(comp, dim=-1).nan_to_num_(0.0)  # p(m | x, k)
        g = (gamma_flat[..., None] * resp).reshape(len(x_flat), -1)  # (R, KM)
        K, M, D = self.m.n_states, self.m.n_mix, x_flat.shape[1]
        stats["post"] += g.sum(0).reshape(K, M)
        stats["obs"] += (g.T @ x_flat).reshape(K, M, D)
        if "obs2" in stats:
            stats["obs2"] += (g.T @ (x_flat * x_flat)).reshape(K, M, D)
        else:
            stats["outer"] += torch.einsum("rc,rd,re->cde", g, x_flat, x_flat).reshape(
                K, M, D, D)

    def m_step(self, stats, floor, update=("weights", "means", "covars")):
        m = self.m
        post = stats["post"]  # (K, M)
        seen = post > 0
        if "weights" in update:
            tot = post.sum(1, keepdims=True)
            w = np.where(tot > 0, post / np.where(tot > 0, tot, 1.0), m.weights_)
            m.weights_ = (w + floor) / (w + floor).sum(1, keepdims=True) if floor else w
        if "means" in update:  # a component that saw no data keeps its mean
            safe = np.where(seen, post, 1.0)[..., None]
            m.means_ = np.where(seen[..., None], stats["obs"] / safe, m.means_)
        if "covars" not in update:
            return
        mu = m.means_
        safe = np.where(seen, post, 1.0)
        D = m.n_features_
        if m.covariance_type in ("diag", "spherical"):
            var = stats["obs2"] / safe[..., None] - mu**2 + m.min_covar
            old = (np.asarray(m.covars_) if m.covariance_type == "diag"
                   else np.asarray(m.covars_)[..., None] * np.ones(D))
            var = np.where(seen[..., None], np.maximum(var, m.min_covar), old)
            m.covars_ = var.mean(-1) if m.covariance_type == "spherical" else var
            return
        scatter = stats["outer"] - post[..., None, None] * np.einsum("kmd,kme->kmde", mu, mu)
        if m.covariance_type == "tied":
            tot = post.sum(1)
            cov = scatter.sum(1) / np.where(tot > 0, tot, 1.0)[:, None, None]
            m.covars_ = np.where((tot > 0)[:, None, None], cov + m.min_covar * np.eye(D),
                                 m.covars_)
            return
        cov = scatter / safe[..., None, None] + m.min_covar * np.eye(D)
        m.covars_ = np.where(seen[..., None, None], cov, m.covars_)

    def draw(self, z, rng):
        j = draw_rows(self.m.weights_[z], rng)
        return _draw_normal(self.m.means_[z, j], _cholesky(self.full_covars())[z, j], rng)

    def data_size(self):
        return "n_features_", np.shape(self.m.means_)[-1]

    def check(self, K):
        m, M, D = self.m, self.m.n_mix, self.m.n_features_
        check_stochastic(m.weights_, "weights_", (K, M))
        checked_array(m.means_, "means_", (K, M, D))
        shape = {"diag": (K, M, D), "spherical": (K, M), "tied": (K, D, D), "full": (K, M, D, D)}
        check_covars(m.covars_, shape[m.covariance_type], m.covariance_type)


def draw_rows(P: np.ndarray, rng) -> np.ndarray:
    """One index per row of the (n, S) probability rows ``P`` by inverse CDF (n,) int64.

    ``u`` lies in (0, row total], so a zero-probability index is never drawn.
    """
    cdf = np.cumsum(P, axis=1)
    u = (1.0 - rng.random(len(P))) * cdf[:, -1]
    return np.minimum((cdf < u[:, None]).sum(1), P.shape[1] - 1)


def _cholesky(cov: np.ndarray) -> np.ndarray:
    return np.linalg.cholesky(cov)


def _draw_normal(mean: np.ndarray, chol: np.ndarray, rng) -> np.ndarray:
    """mean + L eps for rows of means (n, D) and Cholesky factors (n, D, D)."""
    eps = rng.standard_normal(mean.shape)
    return mean + np.einsum("nde,ne->nd", chol, eps)


def _features(x: torch.Tensor) -> torch.Tensor:
    """[x^2, x, 1] along the last axis: (..., D) -> (..., 2D + 1)."""
    return torch.cat([x * x, x, torch.ones_like(x[..., :1])], dim=-1)


def _normalise_rows(counts: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """Rows divided by their sums; a row with no counts keeps its previous values (no 0/0)."""
    counts = np.asarray(counts, dtype=np.float64)
    sums = counts.sum(-1, keepdims=True)
    return np.where(sums > 0, counts / np.where(sums > 0, sums, 1.0), previous)


EMISSIONS = {"categorical": Categorical, "gaussian": Gaussian, "gmm": GMM, "poisson": Poisson}
