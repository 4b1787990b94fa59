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

The pieces live beside this file: the visible unit kinds and the energy in ``rbm_units.py``,
the training strategies and steps in ``rbm_training.py``, log Z in ``rbm_partition.py``.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch
from sklearn.base import TransformerMixin

from .._utils import (
    check_array,
    check_choice,
    check_common,
    check_float,
    check_int,
    check_n,
    resolve_device,
    resolve_image_shape,
    torch_generator,
)
from ..base import GenerativeModel
from ..ops.rbm import LogPartition
from ..registry import register
from ..training import NonFiniteLossError, run_epochs
from .rbm_partition import MAX_EXACT_STATES, ais_log_partition, exact_log_partition, layer_sizes
from .rbm_training import FusedBernoulliStep, log_likelihood_gradient, training_strategy
from .rbm_units import RBMEnergy, VisibleUnits, visible_units

log = logging.getLogger(__name__)

VISIBLE = ("bernoulli", "gaussian", "softmax")
TRAINING = ("cd", "pcd", "pt")
INITIAL_MOMENTUM_EPOCHS = 5  # momentum 0.5 for the first epochs (Hinton's practical guide)
# A weight this large saturates every unit it touches (sigmoid(1e4) is 1 in any float), so
# the weights have diverged: training stops as on a non-finite loss (a learning rate 10^4 times
# too large reaches it within an epoch on the digits and ends at log-likelihoods of -1e18).
EXPLODING_WEIGHT = 1e4


@register("rbm")
class RBM(TransformerMixin, GenerativeModel):
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

    As a scikit-learn transformer, ``fit(X, y)`` ignores ``y`` and :meth:`transform` gives the
    hidden probabilities, so ``Pipeline([("rbm", RBM()), ("clf", LogisticRegression())])``
    works as with scikit-learn's ``BernoulliRBM``.
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

    def _make_units(self, group_sizes) -> VisibleUnits:
        return visible_units(self.visible, group_sizes=group_sizes,
                             learn_sigma=self.sigma == "learned")

    def _check_X(self, X, units: VisibleUnits, *, n_features=None, name: str = "X"):
        """(flat float64 rows, per-example shape), checked against ``units``."""
        flat, data_shape = check_array(X, name=name, n_features=n_features, domain=units.domain)
        units.check(flat, name)
        return flat, data_shape

    def visible_rows(self, X, name: str = "X") -> torch.Tensor:
        """The rows of ``X`` checked against the fitted visible units: (n, D) float64 tensor on
        the model's device (what :meth:`energy`'s methods take)."""
        self._check_fitted()
        flat, _ = self._check_X(X, self.units_, n_features=self.n_features_in_, name=name)
        return torch.as_tensor(flat, dtype=torch.float64, device=self.device_)

    # -- the weights ------------------------------------------------------------------------
    def energy(self, dtype=torch.float64) -> RBMEnergy:
        """The fitted weights in ``dtype`` with the conditionals, free energy and Gibbs steps
        they define (:class:`~genlearn.models.rbm_units.RBMEnergy`); float64 by default."""
        self._check_fitted()
        return self._energy(dtype)

    def _energy(self, dtype) -> RBMEnergy:
        sigma = None if self.visible != "gaussian" else torch.exp(self.log_sigma_).to(dtype)
        return RBMEnergy(self.W_.to(dtype), self.b_.to(dtype), self.c_.to(dtype), sigma,
                         self.base_bias_.to(dtype), self.units_)

    def set_weights(self, W, b, c, log_sigma=None) -> RBM:
        """Replace the weights of a fitted model: W (D, H), b (D,), c (H,) and, for Gaussian
        units, log s (D,). Cached log Z values are dropped. Returns ``self``."""
        self._check_fitted()
        D, H = self.n_features_in_, self.n_hidden
        theta = torch.zeros(D + 1, H + 1, dtype=torch.float64)
        for name, value, target in (("W", W, theta[:D, :H]), ("b", b, theta[:D, H]),
                                    ("c", c, theta[D, :H])):
            value = torch.as_tensor(np.asarray(value, dtype=np.float64))
            if tuple(value.shape) != tuple(target.shape):
                raise ValueError(f"{name} must have shape {tuple(target.shape)}; got "
                                 f"{tuple(value.shape)}")
            target.copy_(value)
        self._set_theta(theta.to(self.device_))
        if log_sigma is not None:
            if self.visible != "gaussian":
                raise ValueError("log_sigma is only for visible='gaussian'")
            self.log_sigma_ = torch.as_tensor(np.asarray(log_sigma, dtype=np.float32),
                                              device=self.device_).reshape(D)
        self._log_z_cache = {}
        return self

    def _set_theta(self, theta: torch.Tensor) -> None:
        """All weights in one (D+1, H+1) float32 matrix [[W, b], [c, -]]; W_, b_, c_ are views.

        One matrix makes a training step a handful of large operations: with a column of ones
        appended to v and to h, [v, 1] @ theta[:, :H] are the hidden logits, [h, 1] @
        theta[:D].T the visible ones, and [v, 1]^T [p(h|v), 1] holds every gradient at once.
        """
        D, H = theta.shape[0] - 1, theta.shape[1] - 1
        self.theta_ = theta.float().contiguous()
        self.W_, self.b_, self.c_ = self.theta_[:D, :H], self.theta_[:D, H], self.theta_[D, :H]

    # -- training -------------------------------------------------------------------------
    def fit(self, X, y=None, *, resume: bool = False, callback=None):
        """Train on the rows of ``X``; ``y`` is ignored (the model is unconditional; accepted
        so scikit-learn pipelines can pass it).

        ``resume=True`` continues a fitted (or loaded) model from the epoch it reached up to
        ``epochs``, persistent chains and momentum included. ``callback(epoch, record)`` runs
        after each epoch. Returns ``self``.
        """
        self._validate_params()
        continuing = resume and getattr(self, "is_fitted_", False)
        if continuing:
            flat, _ = self._check_X(X, self.units_, n_features=self.n_features_in_)
        else:
            flat, data_shape = check_array(X, domain="real")
            units = self._make_units(self._group_sizes(flat.shape[1])
                                     if self.visible == "softmax" else None)
            flat, _ = self._check_X(flat, units)
        start = self.epochs_trained_ if continuing else 0
        seed = self.seed if self.seed is not None else int(np.random.SeedSequence().entropy % 2**31)
        gen = torch.Generator().manual_seed(seed + 17 * start)
        if not continuing:
            self.device_ = resolve_device(self.device)
            self.n_features_in_ = flat.shape[1]
            self.data_shape_ = data_shape
            self.image_shape_ = resolve_image_shape(data_shape, self.image_shape)
            self.units_ = units
            self.group_sizes_ = getattr(units, "group_sizes", None)
            self._init_params(flat, gen)
            self.history_ = []
            self.epochs_trained_ = 0
        self._log_z_cache = {}
        self._train(flat, start, gen, callback)
        return self

    def _init_params(self, flat: np.ndarray, gen: torch.Generator) -> None:
        D, H, dev = flat.shape[1], self.n_hidden, self.device_
        x = torch.as_tensor(flat, dtype=torch.float64)
        base = self.units_.base_bias(x)  # the base-rate model: independent visible units
        self.base_bias_ = base.to(dev)
        theta = torch.zeros(D + 1, H + 1)
        theta[:D, :H] = 0.01 * torch.randn(D, H, generator=gen, dtype=torch.float64)
        theta[:D, H] = base
        self._set_theta(theta.to(dev))
        if self.visible == "gaussian":
            if self.sigma == "learned":  # one row has no spread: unit variance then
                sig = (x.std(0) if len(x) > 1 else torch.ones(D, dtype=x.dtype)).clamp_min(1e-3)
            else:
                sig = torch.full((D,), float(self.sigma), dtype=torch.float64)
            self.log_sigma_ = torch.log(sig).float().to(dev)
        self.velocity_ = {}
        if self.visible == "gaussian" and self.sigma == "learned":
            self.velocity_["log_sigma"] = torch.zeros_like(self.log_sigma_)
        self.velocity_["theta"] = torch.zeros_like(self.theta_)
        shape = training_strategy(self.training, self.n_temperatures).chain_shape(self.n_chains, D)
        self.chains_ = self._energy(torch.float32).sample_visible(
            torch.zeros(*shape[:-1], H, device=dev), torch_generator(dev, gen), beta=0.0)

    def _general_step(self, data, lr, momentum, gen, t):
        """One update for any units and strategy: negative phase, gradient, momentum SGD."""
        energy = self._energy(torch.float32)
        strategy = training_strategy(self.training, self.n_temperatures)
        model, self.chains_ = strategy.negative_phase(data, self.chains_, energy, gen, self.k, t)
        grad, log_sigma_grad = log_likelihood_gradient(data, model, energy, self.weight_decay)
        self.velocity_["theta"].mul_(momentum).add_(grad, alpha=lr)
        self.theta_.add_(self.velocity_["theta"])
        if log_sigma_grad is not None:
            self.velocity_["log_sigma"].mul_(momentum).add_(log_sigma_grad, alpha=lr)
            self.log_sigma_.add_(self.velocity_["log_sigma"]).clamp_(min=math.log(1e-3))

    def _fused_step(self, X: torch.Tensor, gen) -> FusedBernoulliStep:
        """The general step for Bernoulli units with CD / PCD, fused (the chains move into its
        buffer: ``chains_`` becomes a view of them while training)."""
        strategy = training_strategy(self.training, self.n_temperatures)
        fused = FusedBernoulliStep(X, self.theta_, self.velocity_["theta"], self.chains_, gen,
                                   persistent=strategy.persistent, batch_size=self.batch_size,
                                   k=self.k, weight_decay=self.weight_decay)
        self.chains_ = fused.chains
        return fused

    def _train(self, flat: np.ndarray, start: int, gen: torch.Generator, callback) -> None:
        X_tr = torch.as_tensor(flat, dtype=torch.float32, device=self.device_)
        n = X_tr.shape[0]
        steps_per_epoch = math.ceil(n / self.batch_size)
        total = self.epochs * steps_per_epoch
        counter = {"t": start * steps_per_epoch}
        step_gen = torch_generator(self.device_, gen)
        fused = None
        if self.visible == "bernoulli" and self.training in ("cd", "pcd"):
            fused = self._fused_step(X_tr, step_gen)

        def step(idx, epoch):
            t = counter["t"]
            counter["t"] += 1
            lr = self.lr * (1.0 - t / total) if self.lr_schedule == "linear" else self.lr
            momentum = (min(self.momentum, 0.5) if epoch < INITIAL_MOMENTUM_EPOCHS
                        else self.momentum)
            if fused is not None:
                fused(idx, lr, momentum)
            else:
                self._general_step(X_tr[idx.to(self.device_)], lr, momentum, step_gen, t)
            return {}

        def evaluate(epoch):
            energy = self._energy(torch.float32)
            rows = X_tr[:500]
            rec = float(((rows - energy.mean_field_reconstruction(rows)) ** 2).sum(1).mean())
            return {"reconstruction_error": rec,
                    "free_energy": float(energy.free_energy(rows).mean())}

        good = {"snapshot": self._snapshot()}

        def on_epoch(epoch, record):
            self._check_diverged(epoch, record, good["snapshot"])
            good["snapshot"] = self._snapshot()
            self.epochs_trained_ = epoch
            self.is_fitted_ = True
            if callback is not None:
                callback(epoch, record)

        self.is_fitted_ = True  # the initial weights are a valid (if poor) model
        try:
            self.stop_reason_ = run_epochs(
                start_epoch=start, epochs=self.epochs, n_rows=n, batch_size=self.batch_size,
                generator=gen, step=step, history=self.history_, snapshot=self._snapshot,
                restore=self._restore, evaluate=evaluate, callback=on_epoch,
                verbose=self.verbose, desc="RBM")
        finally:
            self.chains_ = self.chains_.clone()  # detach the chains from the training buffer
            self._log_z_cache = {}
        self.epochs_trained_ = self.history_[-1]["epoch"] if self.history_ else start

    def _check_diverged(self, epoch: int, record: dict, last_good) -> None:
        """Stop with NonFiniteLossError on non-finite metrics or exploding weights."""
        bad = [k for k in ("reconstruction_error", "free_energy") if not math.isfinite(record[k])]
        largest = float(self.theta_.abs().max())
        if not bad and math.isfinite(largest) and largest <= EXPLODING_WEIGHT:
            return
        self._restore(last_good)
        what = (f"non-finite {bad[0]}" if bad else
                f"exploding weights (largest |weight| {largest:.3g} > {EXPLODING_WEIGHT:g})")
        raise NonFiniteLossError(
            f"{what} at epoch {epoch}; the model keeps the weights of epoch {epoch - 1} (the "
            f"last good one). Try a lower lr (now {self.lr:g}; Gaussian visible units usually "
            "need lr <= 0.001)")

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
        self.velocity_ = {k[len("velocity."):]: v.to(dev) for k, v in tensors.items()
                          if k.startswith("velocity.")}
        self._log_z_cache = {}

    def _snapshot(self):
        return ({k: v.clone() for k, v in self._state_tensors().items()}, len(self.history_))

    def _restore(self, snapshot) -> None:
        tensors, n_history = snapshot
        self._load_tensors(tensors)
        del self.history_[n_history:]
        self.epochs_trained_ = self.history_[-1]["epoch"] if self.history_ else 0

    # -- the log-likelihood ---------------------------------------------------------------
    def free_energy(self, X) -> np.ndarray:
        """F(v) per row (nats): -log p(v) = F(v) + log Z. Float64."""
        return self.energy().free_energy(self.visible_rows(X)).cpu().numpy()

    def log_partition(self, method: str = "auto", *, enumerate: str = "auto",
                      n_chains: int | None = None, n_betas: int | None = None,
                      seed=None) -> LogPartition:
        """log Z with its standard error: exact enumeration or annealed importance sampling.

        ``method="exact"`` sums over every state of the smaller layer (``enumerate`` forces
        "hidden" or "visible"), at most 2^24 states; ``"ais"`` runs ``n_chains`` AIS chains
        through ``n_betas`` temperatures from the base-rate model (defaults ``ais_chains``,
        ``ais_betas``); ``"auto"`` is exact when possible, else AIS. Results are cached.
        """
        energy = self.energy()
        check_choice(method, "method", ("auto", "exact", "ais"))
        check_choice(enumerate, "enumerate", ("auto", "hidden", "visible"))
        if method == "auto":
            smallest = min(layer_sizes(energy, self.n_features_in_).values())
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
            cache[key] = (exact_log_partition(energy, self.n_features_in_, enumerate)
                          if method == "exact" else ais_log_partition(energy, *key[1:]))
        return cache[key]

    def log_prob(self, X, *, method: str = "auto", **ais_options) -> np.ndarray:
        """log p(v) = -F(v) - log Z per row, in nats.

        F is exact; log Z is exact by enumeration when the smaller layer has at most 2^24
        states, otherwise (or with ``method="ais"``) an AIS estimate whose standard error
        :meth:`log_partition` reports. :meth:`log_prob_estimator` names the one used.
        """
        free_energy = self.free_energy(X)
        return -free_energy - self.log_partition(method, **ais_options).log_z

    def score(self, X, y=None, **kwargs) -> float:
        """Mean :meth:`log_prob` (nats per example); ``y`` is ignored (scikit-learn passes it)."""
        return float(np.mean(self.log_prob(X, **kwargs)))

    def log_prob_estimator(self) -> str:
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
        if self.units_.discrete:
            out["pseudo_log_likelihood"] = float(np.mean(self.pseudo_log_likelihood(X)))
        return out

    def pseudo_log_likelihood(self, X) -> np.ndarray:
        """sum_i log p(v_i | v_-i) per row: exact, deterministic, and not a log-likelihood.

        Bernoulli: each unit flipped in turn; softmax: each group set to each of its values.
        (Unlike scikit-learn's ``score_samples`` no unit is drawn at random.)
        """
        v = self.visible_rows(X)
        energy = self.energy()
        out = torch.zeros(v.shape[0], dtype=torch.float64, device=self.device_)
        rows = max(1, int(2e6 // (v.shape[1] * self.n_hidden)))  # (rows, D, H) workspace
        for s in range(0, v.shape[0], rows):
            out[s:s + rows] = self.units_.pseudo_log_likelihood(v[s:s + rows], energy.W,
                                                                energy.b, energy.c)
        return out.cpu().numpy()

    # -- sampling and features ------------------------------------------------------------
    def transform(self, X) -> np.ndarray:
        """p(h_j = 1 | v) for each row: the hidden features."""
        v = self.visible_rows(X)
        return torch.sigmoid(self.energy().hidden_logits(v)).cpu().numpy()

    def reconstruct(self, X) -> np.ndarray:
        """E[v | h = p(h | v)]: the mean-field reconstruction of each row, shaped like the data."""
        v = self.visible_rows(X)
        rec = self.energy().mean_field_reconstruction(v)
        return rec.cpu().numpy().reshape(v.shape[0], *self.data_shape_)

    def gibbs(self, X, *, steps: int = 1, seed=None) -> np.ndarray:
        """Run ``steps`` Gibbs steps v -> h -> v from each row; returns the new visible states."""
        v = self.visible_rows(X)
        steps = check_n(steps, "steps")
        gen = torch_generator(self.device_, seed)
        energy = self.energy()
        for _ in range(steps):
            v = energy.gibbs_step(v, gen)
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
        energy = self.energy()
        strategy = training_strategy(self.training, self.n_temperatures)
        chains = strategy.first_chains(self.chains_.to(torch.float64), n)
        out, t = [], 0

        def advance(chains, steps):
            nonlocal t
            for _ in range(steps):
                chains = strategy.sampling_step(chains, energy, gen, t)
                t += 1
            return chains

        chains = advance(chains, burn_in)
        while sum(len(o) for o in out) < n:
            if out:
                chains = advance(chains, gibbs_steps)
            current = strategy.model_state(chains)
            if mean:
                current = energy.sample_visible(energy.sample_hidden(current, gen), gen,
                                                mean=True)
            out.append(current)
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
        self.units_ = self._make_units(self.group_sizes_)
        expected = (self.n_features_in_ + 1, self.n_hidden + 1)
        if tuple(tensors["theta"].shape) != expected:
            raise ValueError(f"checkpoint weights theta have shape "
                             f"{tuple(tensors['theta'].shape)}; the config says {expected}")
        self._load_tensors(tensors)
        self.is_fitted_ = True
