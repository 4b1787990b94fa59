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

from .._threads import check_threads
from .._utils import (
    check_array,
    check_choice,
    check_common,
    check_float,
    check_int,
    check_n,
    torch_generator,
)
from ..ops.rbm import LogPartition
from ..registry import register
from ..training import EpochModel, EpochPlan, NonFiniteLossError
from .rbm_partition import MAX_EXACT_STATES, ais_log_partition, exact_log_partition, layer_sizes
from .rbm_training import FusedBernoulliStep, GeneralStep, training_strategy
from .rbm_units import UNIT_KINDS, GaussianUnits, RBMEnergy, SoftmaxUnits, visible_units

log = logging.getLogger(__name__)

VISIBLE = ("bernoulli", "gaussian", "softmax")
TRAINING = ("cd", "pcd", "pt")
INITIAL_MOMENTUM_EPOCHS = 5  # momentum 0.5 for the first epochs (Hinton's practical guide)
# A weight this large saturates every unit it touches (sigmoid(1e4) is 1 in any float), so
# the weights have diverged: training stops as on a non-finite loss (a learning rate 10^4 times
# too large reaches it within an epoch on the digits and ends at log-likelihoods of -1e18).
EXPLODING_WEIGHT = 1e4


@register("rbm")
class RBM(TransformerMixin, EpochModel):
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
    threads : int or None
        Torch CPU threads while training; None chooses by the size of the work.
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
                 ais_chains=100, ais_betas=10000, image_shape=None, seed=0, threads=None,
                 device="auto", verbose=True):
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
        self.threads = threads
        self.device = device
        self.verbose = verbose

    # -- hyperparameters ------------------------------------------------------------------
    def _validate_params(self) -> None:
        check_int(self.n_hidden, "n_hidden", low=1)
        check_choice(self.visible, "visible", VISIBLE)
        SoftmaxUnits.check_groups(self.groups)
        GaussianUnits.check_sigma(self.sigma)
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
        check_threads(self.threads)
        check_common(self)  # image_shape, seed, device, verbose

    # -- data -----------------------------------------------------------------------------
    def _make_units(self, group_sizes):
        return visible_units(self.visible, group_sizes=group_sizes,
                             learn_sigma=self.sigma == "learned")

    def visible_rows(self, X, name: str = "X") -> torch.Tensor:
        """The rows of ``X`` checked against the fitted visible units: (n, D) float64 tensor on
        the model's device (what :meth:`energy`'s methods take)."""
        self._check_fitted()
        flat, _ = check_array(X, name=name, n_features=self.n_features_in_,
                              domain=self.units_.domain)
        self.units_.check(flat, name)
        return torch.as_tensor(flat, dtype=torch.float64, device=self.device_)

    # -- the weights ------------------------------------------------------------------------
    def energy(self, dtype=torch.float64) -> RBMEnergy:
        """The fitted weights in ``dtype`` with the conditionals, free energy and Gibbs steps
        they define (:class:`~genlearn.models.rbm_units.RBMEnergy`); float64 by default."""
        self._check_fitted()
        return self._energy(dtype)

    def _energy(self, dtype) -> RBMEnergy:
        sigma = None if self.log_sigma_ is None else torch.exp(self.log_sigma_).to(dtype)
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
            if self.log_sigma_ is None:
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

    # -- training: the hooks of EpochModel --------------------------------------------------
    def _domain(self) -> str:
        return UNIT_KINDS[self.visible].domain

    def _describe_rows(self, flat: np.ndarray) -> None:
        """First fit: the unit kind (softmax group sizes), the base-rate model and the
        starting standard deviations of Gaussian units, from the data."""
        self.group_sizes_ = (SoftmaxUnits.sizes_of(self.groups, flat.shape[1])
                             if self.visible == "softmax" else None)
        self.units_ = self._make_units(self.group_sizes_)
        x = torch.as_tensor(flat, dtype=torch.float64)
        self.base_bias_ = self.units_.base_bias(x).to(self.device_)
        self.log_sigma_ = self.units_.initial_log_sigma(x, self.sigma)
        if self.log_sigma_ is not None:
            self.log_sigma_ = self.log_sigma_.to(self.device_)

    def _rows_data(self, flat: np.ndarray, labels) -> torch.Tensor:
        self.units_.check(flat, "X")
        return torch.as_tensor(flat, dtype=torch.float32, device=self.device_)  # (n, D)

    def _build(self) -> None:
        """Nothing to build: the weights are drawn in :meth:`_plan` on a first fit (from the
        generator that orders the data, as before this model had a base class) or loaded."""

    def _trainables(self) -> dict:
        return {"rbm": _TensorState(self)}

    def _set_training(self, mode: bool) -> None:
        if not mode:  # a fit ended: its step (buffers, data) and last good copy go
            self.__dict__.pop("_step", None)
            self.__dict__.pop("_last_good", None)

    def _work_size(self, plan) -> float:
        return float(self.n_features_in_ * self.n_hidden * plan.batch_size * (self.k + 1))

    def _extra_state(self) -> tuple[dict, dict]:
        meta = {"group_sizes_": None if self.group_sizes_ is None else list(self.group_sizes_)}
        return meta, {"step_generator": self.step_generator_.get_state()}

    def _set_extra_state(self, meta: dict, tensors: dict) -> None:
        self.group_sizes_ = None if meta["group_sizes_"] is None else tuple(meta["group_sizes_"])
        self.units_ = self._make_units(self.group_sizes_)
        if getattr(self, "step_generator_", None) is None:
            self.step_generator_ = torch.Generator(device=self.device_)
        self.step_generator_.set_state(tensors["step_generator"])

    def _plan(self, data: torch.Tensor, start: int, gen: torch.Generator) -> EpochPlan:
        if start == 0:  # first fit: weights, chains and the step's generator, drawn from gen
            self._init_weights(data.shape[1], gen)
            self.step_generator_ = torch_generator(self.device_, gen)
        steps_per_epoch = math.ceil(len(data) / self.batch_size)
        self._total_steps = self.epochs * steps_per_epoch
        self._steps_done = start * steps_per_epoch
        self._step = self._make_step(data, self.step_generator_)
        self._log_z_cache = {}
        self._last_good = self._snapshot()

        def evaluate(epoch):
            energy = self._energy(torch.float32)
            rows = data[:500]
            rec = float(((rows - energy.mean_field_reconstruction(rows)) ** 2).sum(1).mean())
            return {"reconstruction_error": rec,
                    "free_energy": float(energy.free_energy(rows).mean())}

        return EpochPlan(data=data, batch_size=int(self.batch_size), evaluate=evaluate)

    def _init_weights(self, D: int, gen: torch.Generator) -> None:
        H, dev = self.n_hidden, self.device_
        theta = torch.zeros(D + 1, H + 1)
        theta[:D, :H] = 0.01 * torch.randn(D, H, generator=gen, dtype=torch.float64)
        theta[:D, H] = self.base_bias_.cpu()  # b starts at the base-rate model's bias
        self._set_theta(theta.to(dev))
        self.velocity_ = {}
        if self.log_sigma_ is not None and self.units_.learn_sigma:
            self.velocity_["log_sigma"] = torch.zeros_like(self.log_sigma_)
        self.velocity_["theta"] = torch.zeros_like(self.theta_)
        shape = training_strategy(self.training, self.n_temperatures).chain_shape(self.n_chains, D)
        self.chains_ = self._energy(torch.float32).sample_visible(
            torch.zeros(*shape[:-1], H, device=dev), torch_generator(dev, gen), beta=0.0)

    def _train_step(self, data: torch.Tensor, idx: torch.Tensor, epoch: int) -> dict:
        t = self._steps_done
        self._steps_done += 1
        lr = self.lr * (1.0 - t / self._total_steps) if self.lr_schedule == "linear" else self.lr
        momentum = min(self.momentum, 0.5) if epoch < INITIAL_MOMENTUM_EPOCHS else self.momentum
        self._step(idx, lr, momentum, t)
        self.chains_ = self._step.chains
        return {}

    def _make_step(self, X: torch.Tensor, gen, fused: bool | None = None):
        """The update on rows of ``X``: fused for Bernoulli units with CD / PCD (the chains then
        live in its buffer), the general one otherwise (or as ``fused`` says)."""
        strategy = training_strategy(self.training, self.n_temperatures)
        if fused is None:
            fused = self.units_.name == "bernoulli" and self.training in ("cd", "pcd")
        if fused:
            return FusedBernoulliStep(X, self.theta_, self.velocity_["theta"], self.chains_, gen,
                                      persistent=strategy.persistent, batch_size=self.batch_size,
                                      k=self.k, weight_decay=self.weight_decay)
        return GeneralStep(X, lambda: self._energy(torch.float32), self.theta_, self.velocity_,
                           self.log_sigma_, self.chains_, gen, strategy, k=self.k,
                           weight_decay=self.weight_decay)

    def _end_epoch(self, epoch: int, record: dict) -> None:
        """Stop with NonFiniteLossError on non-finite metrics or exploding weights, back at the
        last good epoch; otherwise this epoch becomes the last good one."""
        self._log_z_cache = {}
        bad = [k for k in ("reconstruction_error", "free_energy") if not math.isfinite(record[k])]
        largest = float(self.theta_.abs().max())
        if not bad and math.isfinite(largest) and largest <= EXPLODING_WEIGHT:
            self._last_good = self._snapshot()
            return
        self._restore(self._last_good)
        what = (f"non-finite {bad[0]}" if bad else
                f"exploding weights (largest |weight| {largest:.3g} > {EXPLODING_WEIGHT:g})")
        raise NonFiniteLossError(
            f"{what} at epoch {epoch}; the model keeps the weights of epoch {epoch - 1} (the "
            f"last good one). Try a lower lr (now {self.lr:g}; Gaussian visible units usually "
            "need lr <= 0.001)")

    def _state_tensors(self) -> dict[str, torch.Tensor]:
        out = {"theta": self.theta_, "base_bias": self.base_bias_, "chains": self.chains_}
        if self.log_sigma_ is not None:
            out["log_sigma"] = self.log_sigma_
        out.update({f"velocity.{k}": v for k, v in self.velocity_.items()})
        return out

    def _load_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        dev = self.device_
        expected = (self.n_features_in_ + 1, self.n_hidden + 1)
        if tuple(tensors["theta"].shape) != expected:
            raise ValueError(f"checkpoint weights theta have shape "
                             f"{tuple(tensors['theta'].shape)}; the config says {expected}")
        self._set_theta(tensors["theta"].to(dev))
        self.base_bias_ = tensors["base_bias"].to(dev)
        self.chains_ = tensors["chains"].to(dev)
        self.log_sigma_ = tensors["log_sigma"].to(dev) if "log_sigma" in tensors else None
        self.velocity_ = {k[len("velocity."):]: v.to(dev) for k, v in tensors.items()
                          if k.startswith("velocity.")}
        self._log_z_cache = {}

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
        partition = self.log_partition("auto")
        if partition.method == "exact":
            return f"exact (log Z by enumerating {partition.detail})"
        return (f"AIS log Z = {partition.log_z:.3f} +- {partition.stderr:.3f} "
                f"({partition.detail}; Salakhutdinov & Murray 2008)")

    def evaluate(self, X, y=None) -> dict:
        """Held-out log-likelihood (and its estimator), log Z with standard error, PLL."""
        out = super().evaluate(X)
        partition = self.log_partition("auto")
        out.update({"log_z": partition.log_z, "log_z_stderr": partition.stderr})
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
        strategy = training_strategy(self.training, self.n_temperatures)
        X = strategy.draw(self.chains_.to(torch.float64), self.energy(),
                          torch_generator(self.device_, seed), n, burn_in=burn_in,
                          gibbs_steps=gibbs_steps, mean=mean).cpu().numpy()
        return X.reshape(n, *self.data_shape_)


class _TensorState:
    """The RBM's tensors as the one part EpochModel snapshots, checkpoints and restores."""

    def __init__(self, rbm: RBM):
        self.rbm = rbm

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu().contiguous() for k, v in self.rbm._state_tensors().items()}

    def load_state_dict(self, tensors: dict[str, torch.Tensor], strict: bool = True) -> None:
        self.rbm._load_tensors(tensors)
