"""Restricted Boltzmann machine (Smolensky 1986; Hinton 2002) with an honest log-likelihood.

    p(v, h) = exp(-E(v, h)) / Z,   E(v, h) = -b.v - c.h - v^T W h      (Bernoulli visible units)
    log p(v) = -F(v) - log Z,      F(v) = -b.v - sum_j softplus(c_j + v.W_j)

Gaussian visible units use E = sum_i (v_i - b_i)^2 / (2 s_i^2) - c.h - (v/s)^T W h with a
learned or fixed s; softmax visible units are one-hot groups (categorical variables) with the
Bernoulli energy restricted to one active unit per group. Hidden units are Bernoulli.

``log_prob`` is exact up to log Z, which is computed either exactly, by enumerating every state
of the smaller layer (up to 2^24; vectorised and chunked, float64), or by annealed importance
sampling from the base-rate model (Salakhutdinov & Murray 2008), which also reports its
standard error; :meth:`log_prob_estimator` names the one used. Training follows the gradient
of the log-likelihood with the model expectation estimated by contrastive divergence (CD-k,
Hinton 2002), persistent chains (PCD, Tieleman 2008) or parallel tempering (Desjardins et al.
2010), with momentum, weight decay and a linearly decaying learning rate.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch
import torch.nn.functional as F

from .._utils import (
    check_array,
    check_choice,
    check_common,
    check_float,
    check_int,
    check_n,
    resolve_device,
    torch_generator,
)
from ..base import GenerativeModel
from ..ops.rbm import (
    LogPartition,
    ais_betas,
    annealed_importance_sampling,
    binary_states,
    logsumexp_over_states,
    one_hot_states,
)
from ..registry import register
from ..training import NonFiniteLossError, run_epochs

log = logging.getLogger(__name__)

VISIBLE = ("bernoulli", "gaussian", "softmax")
TRAINING = ("cd", "pcd", "pt")
MAX_EXACT_STATES = 1 << 24  # enumeration beyond this is hours of work: use AIS
LOG2 = math.log(2.0)
INITIAL_MOMENTUM_EPOCHS = 5  # momentum 0.5 for the first epochs (Hinton's practical guide)


@register("rbm")
class RBM(GenerativeModel):
    """Restricted Boltzmann machine with exact or AIS log-likelihood.

    Parameters
    ----------
    n_hidden : int
        Number of binary hidden units.
    visible : {"bernoulli", "gaussian", "softmax"}
        Bernoulli for binary data, Gaussian for real-valued data (standardise it first),
        softmax for one-hot groups (categorical data), whose sizes ``groups`` gives.
    groups : int, tuple of int or None
        Softmax only: the sizes of the consecutive one-hot groups (an int: all the same size;
        None: the whole row is one group).
    sigma : "learned" or float
        Gaussian only: the standard deviation of every visible unit, or learned per unit.
    training : {"cd", "pcd", "pt"}
        Estimate of the model expectation: CD-k chains started at the data, persistent chains
        (PCD), or parallel tempering over ``n_temperatures`` persistent chains per particle.
    k : int
        Gibbs steps per update.
    n_chains : int
        Persistent chains (PCD / PT) and the chains :meth:`sample` continues.
    n_temperatures : int
        PT only: inverse temperatures, evenly spaced from 1 down to 0 (the base-rate model).
    lr, momentum, weight_decay, batch_size, epochs
        SGD settings: momentum 0.5 for the first 5 epochs, then ``momentum``; L2 penalty on W.
    lr_schedule : {"linear", "constant"}
        ``"linear"`` decays the learning rate to 0 over ``epochs`` (per update).
    ais_chains, ais_betas : int
        Defaults of AIS (``log_partition(method="ais")``).
    seed : int or None
    device : {"auto", "cpu", "cuda"}
    verbose : bool
    """

    input_kind = "rows"
    conditional = False
    has_likelihood = True
    resumable = True
    epoch_trained = True

    def __init__(self, n_hidden=20, visible="bernoulli", groups=None, sigma="learned",
                 training="pcd", k=1, n_chains=20, n_temperatures=10, lr=0.01, momentum=0.9,
                 weight_decay=1e-4, batch_size=20, epochs=200, lr_schedule="linear",
                 ais_chains=100, ais_betas=10000, image_shape=None, seed=0, device="auto",
                 verbose=True):
        self.n_hidden = n_hidden
        self.visible = visible
        self.groups = groups
        self.sigma = sigma
        self.training = training
        self.k = k
        self.n_chains = n_chains
        self.n_temperatures = n_temperatures
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.epochs = epochs
        self.lr_schedule = lr_schedule
        self.ais_chains = ais_chains
        self.ais_betas = ais_betas
        self.image_shape = image_shape
        self.seed = seed
        self.device = device
        self.verbose = verbose
        self._validate_params()

    # -- hyperparameters ------------------------------------------------------------------
    def _validate_params(self) -> None:
        check_int(self.n_hidden, "n_hidden", low=1)
        check_choice(self.visible, "visible", VISIBLE)
        if self.groups is not None:
            sizes = self.groups if isinstance(self.groups, (tuple, list)) else (self.groups,)
            for s in sizes:
                check_int(s, "groups (each size)", low=2)
        if self.sigma != "learned":
            sigma = self.sigma
            if isinstance(sigma, str):  # the command line passes "0.5" as text
                try:
                    sigma = float(sigma)
                except ValueError:
                    raise ValueError(f"sigma must be 'learned' or a positive number; got "
                                     f"{self.sigma!r}") from None
            check_float(sigma, "sigma (a positive number or 'learned')", low=0.0,
                        low_open=True)
        check_choice(self.training, "training", TRAINING)
        check_int(self.k, "k", low=1)
        check_int(self.n_chains, "n_chains", low=1)
        check_int(self.n_temperatures, "n_temperatures", low=2)
        check_float(self.lr, "lr", low=0.0, low_open=True)
        check_float(self.momentum, "momentum", low=0.0, high=1.0, high_open=True)
        check_float(self.weight_decay, "weight_decay", low=0.0)
        check_int(self.batch_size, "batch_size", low=1)
        check_int(self.epochs, "epochs", low=1)
        check_choice(self.lr_schedule, "lr_schedule", ("linear", "constant"))
        check_int(self.ais_chains, "ais_chains", low=2)
        check_int(self.ais_betas, "ais_betas", low=2)
        check_common(self)  # image_shape, seed, device, verbose

    # -- data -----------------------------------------------------------------------------
    def _group_sizes(self, n_features: int) -> tuple[int, ...]:
        if self.groups is None:
            return (n_features,)
        if isinstance(self.groups, (tuple, list)):
            sizes = tuple(int(s) for s in self.groups)
        else:
            if n_features % int(self.groups):
                raise ValueError(f"groups={self.groups} does not divide the {n_features} "
                                 "features into equal one-hot groups")
            sizes = (int(self.groups),) * (n_features // int(self.groups))
        if sum(sizes) != n_features:
            raise ValueError(f"groups {sizes} cover {sum(sizes)} features, but X has "
                             f"{n_features}")
        return sizes

    def _check_X(self, X, *, n_features: int | None = None, name: str = "X") -> np.ndarray:
        domain = "real" if self.visible == "gaussian" else "unit"
        flat, _ = check_array(X, name=name, n_features=n_features, domain=domain)
        if self.visible == "softmax":
            sizes = self._group_sizes(flat.shape[1])
            start = 0
            for g, size in enumerate(sizes):
                part = flat[:, start:start + size]
                if not (np.all((part == 0) | (part == 1)) and np.all(part.sum(1) == 1)):
                    bad = int(np.sum(~(((part == 0) | (part == 1)).all(1) & (part.sum(1) == 1))))
                    raise ValueError(f"{name}: softmax group {g} (features {start}..."
                                     f"{start + size - 1}) is not one-hot in {bad} row(s): "
                                     "each group needs exactly one 1 and zeros elsewhere")
                start += size
        return flat

    def _check_fitted_X(self, X, name: str = "X") -> torch.Tensor:
        self._check_fitted()
        flat = self._check_X(X, n_features=self.n_features_in_, name=name)
        return torch.as_tensor(flat, dtype=torch.float64, device=self.device_)

    # -- the energy, for float32 training and float64 evaluation alike ------------------------
    def _params(self, dtype=torch.float64):
        """(W (D, H), b (D,), c (H,), sigma (D,) or None) in ``dtype``."""
        sig = None if self.visible != "gaussian" else torch.exp(self.log_sigma_).to(dtype)
        return self.W_.to(dtype), self.b_.to(dtype), self.c_.to(dtype), sig

    def _coupling(self, v, sig):
        return v if sig is None else v / sig

    def _hidden_logits(self, v, P, beta=1.0):
        W, _, c, sig = P
        return beta * (c + self._coupling(v, sig) @ W)

    def _visible_params(self, h, P, beta=1.0):
        """Logits (Bernoulli / softmax) or means (Gaussian) of p_beta(v | h).

        At inverse temperature beta the visible layer mixes the base-rate model (weight 1-beta)
        with the RBM (weight beta); beta = 1 is the RBM itself.
        """
        W, b, _, sig = P
        base = self.base_bias_.to(b.dtype)
        if sig is None:
            return (1.0 - beta) * base + beta * (b + h @ W.T)
        return (1.0 - beta) * base + beta * (b + sig * (h @ W.T))

    def _sample_visible(self, h, P, gen, beta=1.0, mean=False):
        act = self._visible_params(h, P, beta)
        if self.visible == "bernoulli":
            p = torch.sigmoid(act)
            return p if mean else _bernoulli(p, gen)
        if self.visible == "gaussian":
            if mean:
                return act
            return act + P[3] * torch.randn(act.shape, generator=gen, device=act.device,
                                            dtype=act.dtype)
        sizes = self.group_sizes_
        if len(set(sizes)) == 1:  # equal groups: one reshape, no Python loop
            chunks = [act.reshape(*act.shape[:-1], len(sizes), sizes[0])]
        else:
            chunks = [a.unsqueeze(-2) for a in torch.split(act, sizes, dim=-1)]
        parts = []
        for logits in chunks:  # (..., G, K)
            probs = torch.softmax(logits, dim=-1)
            if not mean:  # inverse CDF: the first k with cumsum > u
                u = torch.rand((*probs.shape[:-1], 1), generator=gen, device=probs.device,
                               dtype=probs.dtype)
                idx = (probs.cumsum(-1) < u).sum(-1).clamp_max(probs.shape[-1] - 1)
                probs = F.one_hot(idx, probs.shape[-1]).to(act.dtype)
            parts.append(probs.flatten(-2))
        return torch.cat(parts, dim=-1)

    def _log_conditional_visible(self, v, h, P):
        """log p(v | h) per row (the directed layers of a DBN use it)."""
        act = self._visible_params(h, P)
        if self.visible == "bernoulli":
            return -F.binary_cross_entropy_with_logits(act, v, reduction="none").sum(-1)
        if self.visible == "gaussian":
            sig = P[3]
            return (-0.5 * ((v - act) / sig) ** 2 - torch.log(sig)
                    - 0.5 * math.log(2 * math.pi)).sum(-1)
        return sum((torch.log_softmax(a, -1) * x).sum(-1)
                   for a, x in zip(torch.split(act, self.group_sizes_, -1),
                                   torch.split(v, self.group_sizes_, -1), strict=True))

    def _sample_hidden(self, v, P, gen, beta=1.0):
        return _bernoulli(torch.sigmoid(self._hidden_logits(v, P, beta)), gen)

    def _visible_term(self, v, P, bias):
        """The visible part of -E: bias.v (Bernoulli/softmax) or -sum (v-bias)^2 / 2s^2."""
        sig = P[3]
        if sig is None:
            return v @ bias
        return -(((v - bias) / sig) ** 2).sum(-1) / 2.0

    def _free_energy(self, v, P):
        """F(v) with -log p(v) = F(v) + log Z; (..., D) -> (...)."""
        return -self._visible_term(v, P, P[1]) - F.softplus(self._hidden_logits(v, P)).sum(-1)

    def _base_log_z(self, P) -> float:
        """log Z of the base-rate model (W = 0): independent visible units, uniform hidden."""
        base = self.base_bias_.to(torch.float64)
        if self.visible == "bernoulli":
            vis = F.softplus(base).sum()
        elif self.visible == "gaussian":
            vis = (0.5 * math.log(2 * math.pi) + torch.log(P[3].to(torch.float64))).sum()
        else:
            vis = sum(torch.logsumexp(g, 0) for g in torch.split(base, self.group_sizes_))
        return float(vis) + self.n_hidden * LOG2

    def _gibbs_step(self, v, P, gen, beta=1.0):
        h = self._sample_hidden(v, P, gen, beta)
        return self._sample_visible(h, P, gen, beta)

    def _pt_step(self, chains, P, betas, gen, parity: int):
        """One Gibbs sweep at every temperature, then swaps of neighbours (even or odd pairs).

        ``chains`` (T, M, D) with ``betas`` (T,) descending from 1. The tempered joint is
        log p_beta(v, h) = base(v) + beta d(v, h) + const with d = -E(v, h) - base(v), so the
        swap of the states of temperatures i and i+1 is accepted with probability
        min(1, exp((beta_i - beta_i+1) (d_i+1 - d_i))).
        """
        W, _, c, sig = P
        bt = betas.view(-1, 1, 1)
        h = self._sample_hidden(chains, P, gen, bt)
        v = self._sample_visible(h, P, gen, bt)
        base = self.base_bias_.to(W.dtype)
        d = (self._visible_term(v, P, P[1]) - self._visible_term(v, P, base) + h @ c
             + ((self._coupling(v, sig) @ W) * h).sum(-1))  # (T, M)
        T = v.shape[0]
        pairs = torch.arange(parity, T - 1, 2, device=v.device)
        if len(pairs) == 0:
            return v
        log_a = (betas[pairs] - betas[pairs + 1])[:, None] * (d[pairs + 1] - d[pairs])
        u = torch.rand(log_a.shape, generator=gen, device=v.device, dtype=log_a.dtype)
        accept = (u.log() < log_a)[:, :, None]  # (pairs, M, 1)
        lo, hi = v[pairs], v[pairs + 1]
        v = v.clone()
        v[pairs] = torch.where(accept, hi, lo)
        v[pairs + 1] = torch.where(accept, lo, hi)
        return v

    # -- training -------------------------------------------------------------------------
    def fit(self, X, y=None, *, resume: bool = False, callback=None):
        """Train on the rows of ``X``; ``y`` is ignored (the model is unconditional).

        ``resume=True`` continues a fitted (or loaded) model from the epoch it reached up to
        ``epochs``, persistent chains and momentum included. ``callback(epoch, record)`` runs
        after each epoch. Returns ``self``.
        """
        self._validate_params()
        if y is not None:
            raise ValueError("RBM is unconditional: fit(X) takes no labels y")
        continuing = resume and getattr(self, "is_fitted_", False)
        flat = self._check_X(X, n_features=self.n_features_in_ if continuing else None)
        _, data_shape = check_array(X, domain="real")
        start = self.epochs_trained_ if continuing else 0
        seed = self.seed if self.seed is not None else int(np.random.SeedSequence().entropy % 2**31)
        gen = torch.Generator().manual_seed(seed + 17 * start)
        if not continuing:
            self.device_ = resolve_device(self.device)
            self.n_features_in_ = flat.shape[1]
            self.data_shape_ = data_shape
            self.image_shape_ = self._resolve_image_shape(data_shape)
            self.group_sizes_ = (self._group_sizes(flat.shape[1])
                                 if self.visible == "softmax" else None)
            self._init_params(flat, gen)
            self.history_ = []
            self.epochs_trained_ = 0
        self._log_z_cache = {}
        self._train(flat, start, gen, callback)
        return self

    def _resolve_image_shape(self, data_shape):
        if self.image_shape is not None:
            shape = tuple(int(s) for s in self.image_shape)
            if shape[0] * shape[1] != int(np.prod(data_shape)):
                raise ValueError(f"image_shape {shape} does not match {int(np.prod(data_shape))} "
                                 "features")
            return shape
        if len(data_shape) == 2:
            return data_shape
        side = math.isqrt(int(np.prod(data_shape)))
        if len(data_shape) == 1 and side * side == data_shape[0] and side >= 4:
            return (side, side)
        return None

    def _init_params(self, flat: np.ndarray, gen: torch.Generator) -> None:
        D, H, dev = flat.shape[1], self.n_hidden, self.device_
        x = torch.as_tensor(flat, dtype=torch.float64)
        if self.visible == "bernoulli":  # the base-rate model: log-odds of each pixel
            p = x.mean(0).clamp(1e-3, 1 - 1e-3)
            base = torch.log(p) - torch.log1p(-p)
        elif self.visible == "softmax":
            p = x.mean(0).clamp_min(1e-3)
            base = torch.cat([torch.log(g / g.sum()) for g in torch.split(p, self.group_sizes_)])
        else:
            base = x.mean(0)
        self.base_bias_ = base.to(dev)
        theta = torch.zeros(D + 1, H + 1)
        theta[:D, :H] = 0.01 * torch.randn(D, H, generator=gen, dtype=torch.float64)
        theta[:D, H] = base
        self._set_theta(theta.to(dev))
        if self.visible == "gaussian":
            if self.sigma == "learned":
                sig = x.std(0).clamp_min(1e-3)
            else:
                sig = torch.full((D,), float(self.sigma), dtype=torch.float64)
            self.log_sigma_ = torch.log(sig).float().to(dev)
        self.velocity_ = {name: torch.zeros_like(t) for name, t in self._trainable().items()}
        self.velocity_["theta"] = torch.zeros_like(self.theta_)
        shape = ((self.n_temperatures, self.n_chains, D) if self.training == "pt"
                 else (self.n_chains, D))
        P = self._params(torch.float32)
        self.chains_ = self._sample_visible(torch.zeros(*shape[:-1], H, device=dev), P,
                                            torch_generator(dev, gen), beta=0.0)

    def _set_theta(self, theta: torch.Tensor) -> None:
        """All weights in one (D+1, H+1) float32 matrix [[W, b], [c, -]]; W_, b_, c_ are views.

        One matrix makes a training step a handful of large operations: with a column of ones
        appended to v and to h, [v, 1] @ theta[:, :H] are the hidden logits, [h, 1] @
        theta[:D].T the visible ones, and [v, 1]^T [p(h|v), 1] holds every gradient at once.
        """
        D, H = theta.shape[0] - 1, theta.shape[1] - 1
        self.theta_ = theta.float().contiguous()
        self.W_, self.b_, self.c_ = self.theta_[:D, :H], self.theta_[:D, H], self.theta_[D, :H]

    def _trainable(self) -> dict[str, torch.Tensor]:
        """Parameters updated apart from theta (Gaussian log-sigma, when learned)."""
        if self.visible == "gaussian" and self.sigma == "learned":
            return {"log_sigma": self.log_sigma_}
        return {}

    def _betas(self, dtype=torch.float32):
        return torch.linspace(1.0, 0.0, self.n_temperatures, dtype=dtype, device=self.device_)

    def _negative_phase(self, v0, P, gen, t: int):
        """Model samples for the gradient: CD-k from the data, or advanced persistent chains."""
        if self.training == "cd":
            v = v0
            for _ in range(self.k):
                v = self._gibbs_step(v, P, gen)
            return v
        if self.training == "pcd":
            v = self.chains_
            for _ in range(self.k):
                v = self._gibbs_step(v, P, gen)
            self.chains_ = v
            return v
        chains = self.chains_
        betas = self._betas(P[0].dtype)
        for i in range(self.k):
            chains = self._pt_step(chains, P, betas, gen, (t + i) % 2)
        self.chains_ = chains
        return chains[0]

    def _gradient(self, v0, vk, P) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Ascent direction of the log-likelihood: data statistics minus model statistics.

        Returns the gradient for theta (D+1, H+1) laid out like it, and the others by name.
        """
        W, b, c, sig = P
        D, H = W.shape
        x0, xk = self._coupling(v0, sig), self._coupling(vk, sig)
        ph0 = torch.sigmoid(c + x0 @ W)
        phk = torch.sigmoid(c + xk @ W)
        n0, nk = v0.shape[0], vk.shape[0]
        G = torch.zeros(D + 1, H + 1, dtype=W.dtype, device=W.device)
        G[:D, :H] = x0.T @ ph0 / n0 - xk.T @ phk / nk - self.weight_decay * W
        G[D, :H] = ph0.mean(0) - phk.mean(0)
        extra = {}
        if sig is None:
            G[:D, H] = v0.mean(0) - vk.mean(0)
        else:
            var = sig * sig
            G[:D, H] = ((v0 - b) / var).mean(0) - ((vk - b) / var).mean(0)
            if self.sigma == "learned":
                # dF/dlog s_i = -(v_i - b_i)^2 / s_i^2 + (v_i / s_i) (W p(h|v))_i
                def dfds(v, x, ph):
                    return (-((v - b) ** 2) / var + x * (ph @ W.T)).mean(0)

                extra["log_sigma"] = dfds(vk, xk, phk) - dfds(v0, x0, ph0)
        return G, extra

    def _general_step(self, v0, lr, mom, gen, t):
        P = self._params(torch.float32)
        vk = self._negative_phase(v0, P, gen, t)
        G, extra = self._gradient(v0, vk, P)
        self.velocity_["theta"].mul_(mom).add_(G, alpha=lr)
        self.theta_.add_(self.velocity_["theta"])
        for name, g in extra.items():
            self.velocity_[name].mul_(mom).add_(g, alpha=lr)
            self.log_sigma_.add_(self.velocity_[name]).clamp_(min=math.log(1e-3))

    def _fast_bernoulli_step(self, X_tr: torch.Tensor, gen):
        """The same update as ``_general_step`` for Bernoulli units with CD / PCD, fused.

        Data rows and negative particles share one buffer with a column of ones, so the whole
        gradient is one matrix product ``[v, 1]^T (coef * [p(h|v), 1])`` with coef = +1/n for
        data rows and -1/m for particles: about 15 tensor operations per update, which is what
        keeps small batches (10-20 rows) as fast as scikit-learn's NumPy loop.
        """
        n, D = X_tr.shape
        H, pcd = self.n_hidden, self.training == "pcd"
        m0 = self.n_chains if pcd else self.batch_size
        dev = X_tr.device
        X_aug = torch.cat([X_tr, torch.ones(n, 1, device=dev)], 1)
        buf = torch.ones(m0 + self.batch_size, D + 1, device=dev)
        if pcd:
            buf[:m0, :D] = self.chains_
            self.chains_ = buf[:m0, :D]  # the persistent chains live in the buffer
        hbuf = torch.ones(m0, H + 1, device=dev)
        phbuf = torch.ones(m0 + self.batch_size, H + 1, device=dev)
        u_h, u_v = torch.empty(m0, H, device=dev), torch.empty(m0, D, device=dev)
        theta, vel = self.theta_, self.velocity_["theta"]
        Wc, Wv_T = theta[:, :H], theta[:D, :].T  # hidden logits of [v,1]; visible of [h,1]
        wd_mask = torch.zeros_like(theta)
        wd_mask[:D, :H] = self.weight_decay
        k, decay = self.k, bool(self.weight_decay)
        views = {}  # per batch length (at most two): slicing costs as much as a small product

        def views_for(n0):
            nk = m0 if pcd else n0
            neg = buf[m0 - nk:m0]
            coef = torch.cat([torch.full((nk, 1), -1.0 / nk), torch.full((n0, 1), 1.0 / n0)])
            used = buf[m0 - nk:m0 + n0]
            return (buf[m0:m0 + n0], neg, neg[:, :D], hbuf[:nk], hbuf[:nk, :H], u_h[:nk],
                    u_v[:nk], used, used.T, phbuf[:nk + n0], phbuf[:nk + n0, :H],
                    coef.to(dev), torch.empty(nk, H, device=dev), torch.empty(nk, D, device=dev),
                    torch.empty(nk + n0, H + 1, device=dev), torch.empty(nk + n0, H, device=dev),
                    torch.empty(D + 1, H + 1, device=dev))

        def step(idx, lr, mom):
            n0 = len(idx)
            if n0 not in views:
                views[n0] = views_for(n0)
            (data, neg, neg_v, hs, hs_h, uh, uv, used, used_t, ph, ph_h, coef, a_h, a_v, phc,
             a_ph, G) = views[n0]
            torch.index_select(X_aug, 0, idx, out=data)
            src = neg if pcd else data
            for _ in range(k):
                uh.uniform_(generator=gen)
                uv.uniform_(generator=gen)
                # a Bernoulli draw is u < p (several times faster than torch.bernoulli on CPU)
                torch.lt(uh, torch.mm(src, Wc, out=a_h).sigmoid_(), out=hs_h)
                torch.lt(uv, torch.mm(hs, Wv_T, out=a_v).sigmoid_(), out=neg_v)
                src = neg
            torch.sigmoid(torch.mm(used, Wc, out=a_ph), out=ph_h)
            torch.mm(used_t, torch.mul(ph, coef, out=phc), out=G)  # preallocated: no mallocs
            if decay:
                G.addcmul_(theta, wd_mask, value=-1.0)
            vel.mul_(mom).add_(G, alpha=lr)
            theta.add_(vel)

        return step

    def _train(self, flat: np.ndarray, start: int, gen: torch.Generator, callback) -> None:
        X_tr = torch.as_tensor(flat, dtype=torch.float32, device=self.device_)
        n = X_tr.shape[0]
        steps_per_epoch = math.ceil(n / self.batch_size)
        total = self.epochs * steps_per_epoch
        counter = {"t": start * steps_per_epoch}
        dgen = torch_generator(self.device_, gen)
        fast = None
        if self.visible == "bernoulli" and self.training in ("cd", "pcd"):
            fast = self._fast_bernoulli_step(X_tr, dgen)

        def step(idx, epoch):
            t = counter["t"]
            counter["t"] += 1
            lr = self.lr * (1.0 - t / total) if self.lr_schedule == "linear" else self.lr
            mom = min(self.momentum, 0.5) if epoch < INITIAL_MOMENTUM_EPOCHS else self.momentum
            if fast is not None:
                fast(idx, lr, mom)
            else:
                self._general_step(X_tr[idx.to(self.device_)], lr, mom, dgen, t)
            return {}

        def evaluate(epoch):
            P = self._params(torch.float32)
            rows = X_tr[:500]
            v_rec = self._sample_visible(torch.sigmoid(self._hidden_logits(rows, P)), P, None,
                                         mean=True)
            rec = float(((rows - v_rec) ** 2).sum(1).mean())
            fe = float(self._free_energy(rows, P).mean())
            return {"reconstruction_error": rec, "free_energy": fe}

        good = {"snap": self._snapshot()}

        def on_epoch(epoch, record):
            bad = [k for k in ("reconstruction_error", "free_energy")
                   if not math.isfinite(record[k])]
            if bad:
                self._restore(good["snap"])
                raise NonFiniteLossError(
                    f"non-finite {bad[0]} at epoch {epoch}; the model keeps the weights of epoch "
                    f"{epoch - 1} (the last good one). Try a lower lr (Gaussian visible units "
                    "usually need lr <= 0.001)")
            good["snap"] = self._snapshot()
            self.epochs_trained_ = epoch
            self.is_fitted_ = True
            if callback is not None:
                callback(epoch, record)

        self.is_fitted_ = True  # the initial weights are a valid (if poor) model
        self.stop_reason_ = run_epochs(
            start_epoch=start, epochs=self.epochs, n_rows=n, batch_size=self.batch_size,
            generator=gen, step=step, history=self.history_, snapshot=self._snapshot,
            restore=self._restore, evaluate=evaluate, callback=on_epoch,
            verbose=self.verbose, desc="RBM")
        self.chains_ = self.chains_.clone()  # detach the chains from the training buffer
        self.epochs_trained_ = self.history_[-1]["epoch"] if self.history_ else start
        self._log_z_cache = {}

    def _state_tensors(self) -> dict[str, torch.Tensor]:
        out = {"theta": self.theta_, "base_bias": self.base_bias_, "chains": self.chains_}
        if self.visible == "gaussian":
            out["log_sigma"] = self.log_sigma_
        out.update({f"velocity.{k}": v for k, v in self.velocity_.items()})
        return out

    def _load_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        dev = self.device_
        self._set_theta(tensors["theta"].to(dev))
        self.base_bias_ = tensors["base_bias"].to(dev)
        self.chains_ = tensors["chains"].to(dev)
        if self.visible == "gaussian":
            self.log_sigma_ = tensors["log_sigma"].to(dev)
        self.velocity_ = {k[9:]: v.to(dev) for k, v in tensors.items()
                          if k.startswith("velocity.")}
        self._log_z_cache = {}

    def _snapshot(self):
        return ({k: v.clone() for k, v in self._state_tensors().items()}, len(self.history_))

    def _restore(self, snap) -> None:
        tensors, n_hist = snap
        self._load_tensors(tensors)
        del self.history_[n_hist:]
        self.epochs_trained_ = self.history_[-1]["epoch"] if self.history_ else 0

    # -- the log-likelihood ---------------------------------------------------------------
    def free_energy(self, X) -> np.ndarray:
        """F(v) per row (nats): -log p(v) = F(v) + log Z. Float64."""
        v = self._check_fitted_X(X)
        return self._free_energy(v, self._params()).cpu().numpy()

    def _n_states(self, layer: str) -> float:
        if layer == "hidden":
            return 2.0 ** self.n_hidden
        if self.visible == "gaussian":
            return math.inf
        if self.visible == "softmax":
            return float(np.prod([float(s) for s in self.group_sizes_]))
        return 2.0 ** self.n_features_in_

    def log_partition(self, method: str = "auto", *, enumerate: str = "auto",
                      n_chains: int | None = None, n_betas: int | None = None,
                      seed=None) -> LogPartition:
        """log Z with its standard error: exact enumeration or annealed importance sampling.

        ``method="exact"`` sums over every state of the smaller layer (``enumerate`` forces
        "hidden" or "visible"), at most 2^24 states; ``"ais"`` runs ``n_chains`` AIS chains
        through ``n_betas`` temperatures from the base-rate model (defaults ``ais_chains``,
        ``ais_betas``); ``"auto"`` is exact when possible, else AIS. Results are cached.
        """
        self._check_fitted()
        check_choice(method, "method", ("auto", "exact", "ais"))
        check_choice(enumerate, "enumerate", ("auto", "hidden", "visible"))
        smallest = min(self._n_states("hidden"), self._n_states("visible"))
        if method == "auto":
            method = "exact" if smallest <= MAX_EXACT_STATES else "ais"
        if method == "exact":
            key = ("exact", enumerate)
        else:
            n_chains = check_n(self.ais_chains if n_chains is None else n_chains, "n_chains")
            n_betas = check_n(self.ais_betas if n_betas is None else n_betas, "n_betas")
            seed = (self.seed or 0) if seed is None else seed
            key = ("ais", n_chains, n_betas, seed)
        cache = self.__dict__.setdefault("_log_z_cache", {})
        if key not in cache:
            if method == "exact":
                cache[key] = self._exact_log_z(enumerate)
            else:
                cache[key] = self._ais_log_z(n_chains, n_betas, seed)
        return cache[key]

    def _exact_log_z(self, layer: str) -> LogPartition:
        sizes = {"hidden": self._n_states("hidden"), "visible": self._n_states("visible")}
        if layer == "auto":
            layer = min(sizes, key=sizes.get)
        n_states = sizes[layer]
        if n_states > MAX_EXACT_STATES:
            what = ("Gaussian visible units are continuous" if n_states == math.inf
                    else f"{layer} layer has {n_states:.3g} states")
            raise ValueError(f"exact log Z enumerates every state of one layer, up to 2^24; the "
                             f"{what} (n_hidden={self.n_hidden}, n_visible="
                             f"{self.n_features_in_}): use method='ais'")
        P = self._params()
        W, b, c, sig = P
        dev = self.device_
        n_states = int(n_states)
        if layer == "hidden":
            def log_f(h):  # log sum_v exp(-E(v, h))
                a = h @ W.T  # (S, D)
                if self.visible == "bernoulli":
                    vis = F.softplus(b + a).sum(-1)
                elif self.visible == "gaussian":
                    vis = (0.5 * math.log(2 * math.pi) + torch.log(sig) + b * a / sig
                           + 0.5 * a * a).sum(-1)
                else:
                    vis = sum(torch.logsumexp(g, -1) for g in torch.split(b + a, self.group_sizes_,
                                                                            dim=-1))
                return h @ c + vis

            def states(lo, hi):
                return binary_states(lo, hi, self.n_hidden, device=dev)
        else:
            def log_f(v):
                return -self._free_energy(v, P)

            if self.visible == "softmax":
                def states(lo, hi):
                    return one_hot_states(lo, hi, self.group_sizes_, device=dev)
            else:
                def states(lo, hi):
                    return binary_states(lo, hi, self.n_features_in_, device=dev)
        width = self.n_features_in_ + self.n_hidden
        chunk = max(1024, min(1 << 16, int(4e6 // width)))
        log_z = logsumexp_over_states(log_f, states, n_states, chunk)
        detail = f"2^{round(math.log2(n_states))} {layer} states" if layer == "hidden" or \
            self.visible == "bernoulli" else f"{n_states} {layer} states"
        return LogPartition(log_z, 0.0, "exact", detail)

    def _ais_log_z(self, n_chains: int, n_betas: int, seed) -> LogPartition:
        P = self._params()
        gen = torch_generator(self.device_, seed)

        def init(m):
            h = torch.zeros(m, self.n_hidden, dtype=torch.float64, device=self.device_)
            return self._sample_visible(h, P, gen, beta=0.0)

        base = self.base_bias_.to(torch.float64)

        def advance(v, beta_prev, beta):
            a = self._hidden_logits(v, P)  # (M, H), shared by the weight and the step
            vis = self._visible_term(v, P, P[1]) - self._visible_term(v, P, base)
            delta = ((beta - beta_prev) * vis
                     + (F.softplus(beta * a) - F.softplus(beta_prev * a)).sum(-1))
            h = _bernoulli(torch.sigmoid(beta * a), gen)
            return delta, self._sample_visible(h, P, gen, beta)

        log_z, se, _ = annealed_importance_sampling(
            init=init, advance=advance, log_z0=self._base_log_z(P),
            n_chains=n_chains, betas=ais_betas(n_betas))
        return LogPartition(log_z, se, "ais", f"{n_chains} chains, {n_betas} temperatures")

    def log_prob(self, X, *, method: str = "auto", **ais_options) -> np.ndarray:
        """log p(v) = -F(v) - log Z per row, in nats.

        F is exact; log Z is exact by enumeration when the smaller layer has at most 2^24
        states, otherwise (or with ``method="ais"``) an AIS estimate whose standard error
        :meth:`log_partition` reports. :meth:`log_prob_estimator` names the one used.
        """
        fe = self.free_energy(X)
        return -fe - self.log_partition(method, **ais_options).log_z

    def log_prob_estimator(self) -> str:
        self._check_fitted()
        lz = self.log_partition("auto")
        if lz.method == "exact":
            return f"exact (log Z by enumerating {lz.detail})"
        return (f"AIS log Z = {lz.log_z:.3f} +- {lz.stderr:.3f} ({lz.detail}; Salakhutdinov & "
                "Murray 2008)")

    def evaluate(self, X, y=None) -> dict:
        """Held-out log-likelihood (and its estimator), log Z with standard error, PLL."""
        out = super().evaluate(X)
        lz = self.log_partition("auto")
        out.update({"log_z": lz.log_z, "log_z_stderr": lz.stderr})
        if self.visible != "gaussian":
            out["pseudo_log_likelihood"] = float(np.mean(self.pseudo_log_likelihood(X)))
        return out

    def pseudo_log_likelihood(self, X) -> np.ndarray:
        """sum_i log p(v_i | v_-i) per row: exact, deterministic, and not a log-likelihood.

        Bernoulli: each unit flipped in turn; softmax: each group set to each of its values.
        (Unlike scikit-learn's ``score_samples`` no unit is drawn at random.)
        """
        v = self._check_fitted_X(X)
        if self.visible == "gaussian":
            raise ValueError("pseudo_log_likelihood needs discrete visible units; the "
                             "conditionals of Gaussian units are mixtures with no closed form")
        W, b, c, _ = self._params()
        out = torch.zeros(v.shape[0], dtype=torch.float64, device=self.device_)
        rows = max(1, int(2e6 // (v.shape[1] * self.n_hidden)))
        for s in range(0, v.shape[0], rows):
            vb = v[s:s + rows]
            act = c + vb @ W  # (B, H)
            if self.visible == "bernoulli":
                sign = 1.0 - 2.0 * vb  # flipping unit i adds sign_i * (b_i, W_i)
                fe = -(vb @ b) - F.softplus(act).sum(-1)  # (B,)
                flipped_act = act[:, None, :] + sign[:, :, None] * W[None]  # (B, D, H)
                fe_flip = (-(vb @ b)[:, None] - sign * b
                           - F.softplus(flipped_act).sum(-1))  # (B, D)
                out[s:s + rows] = -F.softplus(fe[:, None] - fe_flip).sum(-1)
            else:
                start, total = 0, 0.0
                for size in self.group_sizes_:
                    g = slice(start, start + size)
                    cur = vb[:, g]
                    base_act = act - cur @ W[g]
                    alt = base_act[:, None, :] + W[g][None]  # (B, K, H)
                    vis = (vb @ b - cur @ b[g])[:, None] + b[g][None]
                    log_u = vis + F.softplus(alt).sum(-1)  # (B, K) unnormalised log p
                    total = total + (log_u * cur).sum(-1) - torch.logsumexp(log_u, -1)
                    start += size
                out[s:s + rows] = total
        return out.cpu().numpy()

    # -- sampling and features ------------------------------------------------------------
    def transform(self, X) -> np.ndarray:
        """p(h_j = 1 | v) for each row: the hidden features."""
        v = self._check_fitted_X(X)
        return torch.sigmoid(self._hidden_logits(v, self._params())).cpu().numpy()

    def reconstruct(self, X) -> np.ndarray:
        """E[v | h = p(h | v)]: the mean-field reconstruction of each row, shaped like the data."""
        v = self._check_fitted_X(X)
        P = self._params()
        rec = self._sample_visible(torch.sigmoid(self._hidden_logits(v, P)), P, None, mean=True)
        return rec.cpu().numpy().reshape(v.shape[0], *self.data_shape_)

    def gibbs(self, X, *, steps: int = 1, seed=None) -> np.ndarray:
        """Run ``steps`` Gibbs steps v -> h -> v from each row; returns the new visible states."""
        v = self._check_fitted_X(X)
        steps = check_n(steps, "steps")
        gen = torch_generator(self.device_, seed)
        P = self._params()
        for _ in range(steps):
            v = self._gibbs_step(v, P, gen)
        return v.cpu().numpy()

    @torch.no_grad()
    def sample(self, n, *, gibbs_steps: int = 100, burn_in: int = 1000, seed=None,
               mean: bool = False) -> np.ndarray:
        """Draw ``n`` examples by continuing the persistent chains, shaped like the data.

        A copy of the model's persistent chains (PT: the whole temperature ladder) runs
        ``burn_in`` steps; then each chain yields a sample every ``gibbs_steps`` steps until
        ``n`` are collected. ``mean=True`` returns E[v | h] at the last step instead of a draw.
        The stored chains are left untouched.
        """
        self._check_fitted()
        n = check_n(n)
        check_int(gibbs_steps, "gibbs_steps", low=1)
        check_int(burn_in, "burn_in", low=0)
        gen = torch_generator(self.device_, seed)
        P = self._params()
        chains = self.chains_.to(torch.float64)
        pt = self.training == "pt"
        pool = chains.shape[1] if pt else chains.shape[0]
        m = min(n, pool)
        chains = chains[:, :m] if pt else chains[:m]
        betas = self._betas(torch.float64)
        out, t = [], 0

        def advance(c, steps):
            nonlocal t
            for _ in range(steps):
                c = self._pt_step(c, P, betas, gen, t % 2) if pt else self._gibbs_step(c, P, gen)
                t += 1
            return c

        chains = advance(chains, burn_in)
        while sum(len(o) for o in out) < n:
            if out:
                chains = advance(chains, gibbs_steps)
            cur = chains[0] if pt else chains
            if mean:
                h = self._sample_hidden(cur, P, gen)
                cur = self._sample_visible(h, P, gen, mean=True)
            out.append(cur)
        X = torch.cat(out)[:n].cpu().numpy()
        return X.reshape(n, *self.data_shape_)

    # -- checkpoints ----------------------------------------------------------------------
    def _get_state(self):
        meta = {**self._fit_meta(),
                "group_sizes_": None if self.group_sizes_ is None else list(self.group_sizes_)}
        return meta, {k: v.detach().cpu().contiguous() for k, v in self._state_tensors().items()}

    def _set_state(self, meta, tensors) -> None:
        self.device_ = resolve_device(self.device)
        self._set_fit_meta(meta)
        self.group_sizes_ = None if meta["group_sizes_"] is None else tuple(meta["group_sizes_"])
        expected = (self.n_features_in_ + 1, self.n_hidden + 1)
        if tuple(tensors["theta"].shape) != expected:
            raise ValueError(f"checkpoint weights theta have shape "
                             f"{tuple(tensors['theta'].shape)}; the config says {expected}")
        self._load_tensors(tensors)
        self.is_fitted_ = True


def _bernoulli(p: torch.Tensor, gen) -> torch.Tensor:
    """Draws u < p with u uniform: the same law as torch.bernoulli, and faster on CPU."""
    return (torch.rand(p.shape, generator=gen, device=p.device, dtype=p.dtype) < p).to(p.dtype)
