"""Visible units of the RBM as strategies, and the energy that a set of weights defines.

Every kind of visible unit enters the energy through three choices (Hinton 2010, sec. 13):

    Bernoulli  E = -b.v - c.h - v^T W h                         v in {0, 1}^D
    Gaussian   E = sum_i (v_i - b_i)^2 / (2 s_i^2) - c.h - (v/s)^T W h       v in R^D
    softmax    the Bernoulli energy with exactly one active unit per group   (one-hot groups)

so a unit class supplies: how v couples to the hidden layer (v or v/s), the visible part of -E
(b.v or -|(v-b)/s|^2 / 2), the conditional p(v | h) (its sampler, mean and log-density), the
log-normaliser of the visible layer given its activation (for log Z by enumerating the hidden
states, and the base-rate model's log Z), the states of the layer (for enumerating it), the
pseudo-log-likelihood, and the visible-bias part of the gradient. :class:`RBMEnergy` holds one
set of weights in one dtype with its unit kind and computes what the model, its training steps,
its log Z estimators and the DBN need; nothing outside this module branches on the unit kind.

Tempered distributions (parallel tempering and AIS) mix the RBM with the base-rate model
(W = 0, c = 0, visible bias ``base``): at inverse temperature beta the visible activation is
(1 - beta) base + beta (b + top-down input), and the hidden logits are beta (c + coupling @ W).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .._utils import check_float, check_int
from ..ops.rbm import binary_states, one_hot_states

LOG_2PI = math.log(2.0 * math.pi)


def bernoulli_draw(p: torch.Tensor, gen) -> torch.Tensor:
    """Draws u < p with u uniform: the same law as torch.bernoulli, and faster on CPU."""
    return (torch.rand(p.shape, generator=gen, device=p.device, dtype=p.dtype) < p).to(p.dtype)


class VisibleUnits:
    """Bernoulli visible units; the Gaussian and softmax kinds override what differs."""

    name = "bernoulli"
    domain = "unit"  # check_array's domain for the data
    discrete = True
    learn_sigma = False

    def check(self, flat: np.ndarray, name: str) -> None:
        """Refuse data these units cannot model (beyond check_array's domain check)."""

    def initial_log_sigma(self, x: torch.Tensor, sigma) -> torch.Tensor | None:
        """log s of Gaussian units at the start of training (float32); None for the others."""
        return None

    def base_bias(self, x: torch.Tensor) -> torch.Tensor:
        """Visible bias of the base-rate model from the data (n, D): each unit's log-odds."""
        p = x.mean(0).clamp(1e-3, 1 - 1e-3)
        return torch.log(p) - torch.log1p(-p)

    def coupling(self, v: torch.Tensor, sigma) -> torch.Tensor:
        """How v enters v^T W h: v itself (v / s for Gaussian units)."""
        return v

    def top_down(self, hw: torch.Tensor, sigma) -> torch.Tensor:
        """The hidden layer's input h W^T to the visible activation (s h W^T for Gaussian)."""
        return hw

    def visible_term(self, v: torch.Tensor, bias: torch.Tensor, sigma) -> torch.Tensor:
        """The visible part of -E: bias.v; (..., D) -> (...)."""
        return v @ bias

    def sample(self, act: torch.Tensor, gen, sigma, mean: bool = False) -> torch.Tensor:
        """A draw of v (or E[v] with ``mean``) given the visible activation (..., D)."""
        p = torch.sigmoid(act)
        return p if mean else bernoulli_draw(p, gen)

    def log_conditional(self, v: torch.Tensor, act: torch.Tensor, sigma) -> torch.Tensor:
        """log p(v | h) per row from the activation; (..., D) -> (...)."""
        return -F.binary_cross_entropy_with_logits(act, v, reduction="none").sum(-1)

    def log_normalizer(self, act: torch.Tensor, sigma) -> torch.Tensor:
        """log sum_v exp(act.v) per row of activations (..., D) -> (...)."""
        return F.softplus(act).sum(-1)

    def base_log_normalizer(self, base: torch.Tensor, sigma) -> torch.Tensor:
        """log sum_v exp(visible part of -E) of the base-rate model (visible bias ``base``)."""
        return self.log_normalizer(base, sigma)

    def hidden_state_log_weight(self, b, hw, sigma) -> torch.Tensor:
        """log sum_v exp(-E(v, h)) - c.h for hidden states whose top-down input is hw = h W^T
        (S, D) -> (S,): the sum over the visible layer done analytically."""
        return self.log_normalizer(b + hw, sigma)

    def n_states(self, n_features: int) -> float:
        return 2.0 ** n_features

    def states(self, start: int, stop: int, n_features: int, device) -> torch.Tensor:
        """Rows ``start..stop-1`` of the table of every visible state."""
        return binary_states(start, stop, n_features, device=device)

    def describe_states(self, n_states: int) -> str:
        return f"2^{round(math.log2(n_states))} visible states"

    def bias_gradient(self, v0, vk, b, sigma) -> torch.Tensor:
        """d log p / d b: data mean minus model mean of dE/db."""
        return v0.mean(0) - vk.mean(0)

    def pseudo_log_likelihood(self, v, W, b, c) -> torch.Tensor:
        """sum_i log p(v_i | v_-i) per row (B, D) -> (B,): each unit flipped in turn."""
        act = c + v @ W  # (B, H)
        sign = 1.0 - 2.0 * v  # flipping unit i adds sign_i * (b_i, W_i)
        fe = -(v @ b) - F.softplus(act).sum(-1)  # (B,)
        flipped_act = act[:, None, :] + sign[:, :, None] * W[None]  # (B, D, H)
        fe_flip = -(v @ b)[:, None] - sign * b - F.softplus(flipped_act).sum(-1)  # (B, D)
        return -F.softplus(fe[:, None] - fe_flip).sum(-1)


class GaussianUnits(VisibleUnits):
    """Real-valued units with standard deviations s (learned per unit, or fixed)."""

    name = "gaussian"
    domain = "real"
    discrete = False

    def __init__(self, learn_sigma: bool):
        self.learn_sigma = learn_sigma

    @staticmethod
    def check_sigma(sigma) -> None:
        """The ``sigma`` hyperparameter: "learned" or a positive number (text from the CLI)."""
        if sigma == "learned":
            return
        try:
            value = float(sigma) if isinstance(sigma, str) else sigma
        except ValueError:
            raise ValueError(f"sigma must be 'learned' or a positive number; got "
                             f"{sigma!r}") from None
        check_float(value, "sigma (a positive number or 'learned')", low=0.0, low_open=True)

    def base_bias(self, x):
        return x.mean(0)

    def initial_log_sigma(self, x, sigma):
        if sigma == "learned":  # the data's spread (one row has none: unit variance then)
            s = x.std(0) if len(x) > 1 else torch.ones(x.shape[1], dtype=x.dtype)
            s = s.clamp_min(1e-3)
        else:
            s = torch.full((x.shape[1],), float(sigma), dtype=torch.float64)
        return torch.log(s).float()

    def coupling(self, v, sigma):
        return v / sigma

    def top_down(self, hw, sigma):
        return sigma * hw

    def visible_term(self, v, bias, sigma):
        return -(((v - bias) / sigma) ** 2).sum(-1) / 2.0

    def sample(self, act, gen, sigma, mean=False):
        if mean:
            return act
        return act + sigma * torch.randn(act.shape, generator=gen, device=act.device,
                                         dtype=act.dtype)

    def log_conditional(self, v, act, sigma):
        return (-0.5 * ((v - act) / sigma) ** 2 - torch.log(sigma) - 0.5 * LOG_2PI).sum(-1)

    def base_log_normalizer(self, base, sigma):
        # the integral of exp(-(v - base)^2 / 2s^2) over v: a Gaussian's normaliser
        return (0.5 * LOG_2PI + torch.log(sigma)).sum()

    def hidden_state_log_weight(self, b, hw, sigma):
        # completing the square: -(v-b)^2/2s^2 + v.hw/s integrates to this per unit
        return (0.5 * LOG_2PI + torch.log(sigma) + b * hw / sigma + 0.5 * hw * hw).sum(-1)

    def n_states(self, n_features):
        return math.inf

    def bias_gradient(self, v0, vk, b, sigma):
        var = sigma * sigma
        return ((v0 - b) / var).mean(0) - ((vk - b) / var).mean(0)

    def log_sigma_gradient(self, data, model, W, b, sigma) -> torch.Tensor:
        """d log p / d log s from (v, v / s, p(h | v)) of the data and of the model samples,
        with dF/dlog s_i = -(v_i - b_i)^2 / s_i^2 + (v_i / s_i) (W p(h|v))_i."""
        var = sigma * sigma

        def dfds(v, x, ph):
            return (-((v - b) ** 2) / var + x * (ph @ W.T)).mean(0)

        return dfds(*model) - dfds(*data)

    def pseudo_log_likelihood(self, v, W, b, c):
        raise ValueError("pseudo_log_likelihood needs discrete visible units; the "
                         "conditionals of Gaussian units are mixtures with no closed form")


class SoftmaxUnits(VisibleUnits):
    """Consecutive one-hot groups of sizes ``group_sizes`` (categorical variables)."""

    name = "softmax"

    def __init__(self, group_sizes: tuple[int, ...]):
        self.group_sizes = tuple(int(s) for s in group_sizes)

    @staticmethod
    def check_groups(groups) -> None:
        """The ``groups`` hyperparameter: None, one size, or a tuple of sizes (each >= 2)."""
        if groups is not None:
            for size in groups if isinstance(groups, (tuple, list)) else (groups,):
                check_int(size, "groups (each size)", low=2)

    @staticmethod
    def sizes_of(groups, n_features: int) -> tuple[int, ...]:
        """The group sizes the ``groups`` hyperparameter gives for ``n_features`` columns: a
        tuple as given, an int for equal groups, None for one group of every column."""
        if groups is None:
            return (n_features,)
        if isinstance(groups, (tuple, list)):
            sizes = tuple(int(s) for s in groups)
        else:
            if n_features % int(groups):
                raise ValueError(f"groups={groups} does not divide the {n_features} "
                                 "features into equal one-hot groups")
            sizes = (int(groups),) * (n_features // int(groups))
        if sum(sizes) != n_features:
            raise ValueError(f"groups {sizes} cover {sum(sizes)} features, but X has "
                             f"{n_features}")
        return sizes

    def check(self, flat, name):
        start = 0
        for g, size in enumerate(self.group_sizes):
            part = flat[:, start:start + size]
            one_hot = ((part == 0) | (part == 1)).all(1) & (part.sum(1) == 1)
            if not np.all(one_hot):
                raise ValueError(f"{name}: softmax group {g} (features {start}..."
                                 f"{start + size - 1}) is not one-hot in "
                                 f"{int(np.sum(~one_hot))} row(s): each group needs exactly one "
                                 "1 and zeros elsewhere")
            start += size

    def base_bias(self, x):
        p = x.mean(0).clamp_min(1e-3)
        return torch.cat([torch.log(g / g.sum()) for g in torch.split(p, self.group_sizes)])

    def sample(self, act, gen, sigma, mean=False):
        sizes = self.group_sizes
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

    def log_conditional(self, v, act, sigma):
        return sum((torch.log_softmax(a, -1) * x).sum(-1)
                   for a, x in zip(torch.split(act, self.group_sizes, -1),
                                   torch.split(v, self.group_sizes, -1), strict=True))

    def log_normalizer(self, act, sigma):
        return sum(torch.logsumexp(g, -1) for g in torch.split(act, self.group_sizes, dim=-1))

    def n_states(self, n_features):
        return float(np.prod([float(s) for s in self.group_sizes]))

    def states(self, start, stop, n_features, device):
        return one_hot_states(start, stop, self.group_sizes, device=device)

    def describe_states(self, n_states):
        return f"{n_states} visible states"

    def pseudo_log_likelihood(self, v, W, b, c):
        """Each group set to each of its values in turn."""
        act = c + v @ W  # (B, H)
        start, total = 0, 0.0
        for size in self.group_sizes:
            g = slice(start, start + size)
            cur = v[:, g]
            others = act - cur @ W[g]
            alt = others[:, None, :] + W[g][None]  # (B, K, H)
            vis = (v @ b - cur @ b[g])[:, None] + b[g][None]
            log_u = vis + F.softplus(alt).sum(-1)  # (B, K) unnormalised log p
            total = total + (log_u * cur).sum(-1) - torch.logsumexp(log_u, -1)
            start += size
        return total


UNIT_KINDS = {"bernoulli": VisibleUnits, "gaussian": GaussianUnits, "softmax": SoftmaxUnits}


def visible_units(visible: str, *, group_sizes=None, learn_sigma: bool = False) -> VisibleUnits:
    """The unit strategy named by the ``visible`` hyperparameter."""
    if visible == "gaussian":
        return GaussianUnits(learn_sigma)
    if visible == "softmax":
        return SoftmaxUnits(group_sizes)
    return VisibleUnits()


@dataclass
class RBMEnergy:
    """One set of RBM weights in one dtype, and what they define.

    ``W`` (D, H), ``b`` (D,), ``c`` (H,), ``sigma`` (D,) for Gaussian units (else None),
    ``base`` (D,) the base-rate model's visible bias; shapes in comments: (..., D) is any batch
    of visible rows, (..., H) of hidden ones.
    """

    W: torch.Tensor
    b: torch.Tensor
    c: torch.Tensor
    sigma: torch.Tensor | None
    base: torch.Tensor
    units: VisibleUnits

    @property
    def n_hidden(self) -> int:
        return self.W.shape[1]

    def hidden_logits(self, v, beta=1.0):
        """Logits of p_beta(h = 1 | v); (..., D) -> (..., H)."""
        return beta * (self.c + self.units.coupling(v, self.sigma) @ self.W)

    def visible_activation(self, h, beta=1.0):
        """Logits (Bernoulli / softmax) or means (Gaussian) of p_beta(v | h); (..., H) -> (..., D).

        At inverse temperature beta the visible layer mixes the base-rate model (weight
        1 - beta) with the RBM (weight beta); beta = 1 is the RBM itself.
        """
        top_down = self.units.top_down(h @ self.W.T, self.sigma)
        return (1.0 - beta) * self.base + beta * (self.b + top_down)

    def sample_hidden(self, v, gen, beta=1.0):
        return bernoulli_draw(torch.sigmoid(self.hidden_logits(v, beta)), gen)

    def sample_visible(self, h, gen, beta=1.0, mean: bool = False):
        """A draw of p_beta(v | h), or its mean E[v | h] with ``mean``."""
        return self.units.sample(self.visible_activation(h, beta), gen, self.sigma, mean)

    def gibbs_step(self, v, gen, beta=1.0):
        """v -> h -> v at inverse temperature beta."""
        return self.sample_visible(self.sample_hidden(v, gen, beta), gen, beta)

    def mean_field_reconstruction(self, v):
        """E[v | h = p(h | v)]: the deterministic reconstruction of each row."""
        return self.sample_visible(torch.sigmoid(self.hidden_logits(v)), None, mean=True)

    def visible_term(self, v, bias):
        return self.units.visible_term(v, bias, self.sigma)

    def free_energy(self, v):
        """F(v) with -log p(v) = F(v) + log Z; (..., D) -> (...)."""
        return -self.visible_term(v, self.b) - F.softplus(self.hidden_logits(v)).sum(-1)

    def log_conditional_visible(self, v, h):
        """log p(v | h) per row (the directed layers of a DBN use it); -> (...)."""
        return self.units.log_conditional(v, self.visible_activation(h), self.sigma)

    def base_log_z(self) -> float:
        """log Z of the base-rate model (W = 0): independent visible units, uniform hidden."""
        base = self.base.to(torch.float64)
        sigma = None if self.sigma is None else self.sigma.to(torch.float64)
        return float(self.units.base_log_normalizer(base, sigma)) + self.n_hidden * math.log(2.0)

    def log_weight_of_hidden_states(self, h):
        """log sum_v exp(-E(v, h)) for hidden states (S, H): the hidden marginal, unnormalised."""
        hw = h @ self.W.T  # (S, D)
        return h @ self.c + self.units.hidden_state_log_weight(self.b, hw, self.sigma)

    def tempering_energy(self, v, h):
        """d(v, h) = -E(v, h) - base(v): what the inverse temperature multiplies; -> (...)."""
        return (self.visible_term(v, self.b) - self.visible_term(v, self.base) + h @ self.c
                + ((self.units.coupling(v, self.sigma) @ self.W) * h).sum(-1))
