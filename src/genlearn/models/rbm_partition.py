"""log Z of an RBM: exact enumeration of one layer, or annealed importance sampling.

Exact: log Z = log sum_s exp(g(s)) over every state s of the smaller layer, where g sums the
other layer out analytically -- over the hidden states, g(h) = c.h + log sum_v exp(b.v +
v^T W h) (per visible unit kind, :meth:`RBMEnergy.log_weight_of_hidden_states`); over the
visible states, g(v) = -F(v). The generic chunked float64 log-sum-exp is
:func:`genlearn.ops.rbm.logsumexp_over_states`.

AIS (Salakhutdinov & Murray 2008) anneals from the base-rate model (W = 0, c = 0; exact log Z)
to the RBM through the tempered RBMs p_beta with the visible activation (1 - beta) base + beta
(b + top-down) and hidden logits beta (c + v.W): log f_beta(v) = (1 - beta) base(v) + beta
b(v) + sum_j softplus(beta a_j(v)) + const, and one Gibbs step at beta leaves p_beta
invariant. The generic estimator is :func:`genlearn.ops.rbm.annealed_importance_sampling`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .._utils import torch_generator
from ..ops.rbm import (
    LogPartition,
    ais_betas,
    annealed_importance_sampling,
    binary_states,
    logsumexp_over_states,
)
from .rbm_units import RBMEnergy, bernoulli_draw

MAX_EXACT_STATES = 1 << 24  # enumeration beyond this is hours of work: use AIS


def layer_sizes(energy: RBMEnergy, n_features: int) -> dict[str, float]:
    """How many states each layer has (inf for Gaussian visible units)."""
    return {"hidden": 2.0 ** energy.n_hidden, "visible": energy.units.n_states(n_features)}


def exact_log_partition(energy: RBMEnergy, n_features: int, layer: str = "auto") -> LogPartition:
    """log Z by enumerating every state of ``layer`` ("hidden", "visible", or the smaller)."""
    sizes = layer_sizes(energy, n_features)
    if layer == "auto":
        layer = min(sizes, key=sizes.get)
    n_states = sizes[layer]
    if n_states > MAX_EXACT_STATES:
        what = ("Gaussian visible units are continuous" if n_states == math.inf
                else f"{layer} layer has {n_states:.3g} states")
        raise ValueError(f"exact log Z enumerates every state of one layer, up to 2^24; the "
                         f"{what} (n_hidden={energy.n_hidden}, n_visible={n_features}): use "
                         "method='ais'")
    device, n_states = energy.W.device, int(n_states)
    if layer == "hidden":
        log_f = energy.log_weight_of_hidden_states

        def states(lo, hi):
            return binary_states(lo, hi, energy.n_hidden, device=device)

        detail = f"2^{round(math.log2(n_states))} hidden states"
    else:
        def log_f(v):
            return -energy.free_energy(v)

        def states(lo, hi):
            return energy.units.states(lo, hi, n_features, device)

        detail = energy.units.describe_states(n_states)
    width = n_features + energy.n_hidden
    chunk = max(1024, min(1 << 16, int(4e6 // width)))
    return LogPartition(logsumexp_over_states(log_f, states, n_states, chunk), 0.0, "exact",
                        detail)


def ais_log_partition(energy: RBMEnergy, n_chains: int, n_betas: int, seed) -> LogPartition:
    """log Z by AIS from the base-rate model: ``n_chains`` chains, ``n_betas`` temperatures."""
    device = energy.W.device
    gen = torch_generator(device, seed)

    def init(m):
        h = torch.zeros(m, energy.n_hidden, dtype=torch.float64, device=device)
        return energy.sample_visible(h, gen, beta=0.0)

    def advance(v, beta_prev, beta):
        logits = energy.hidden_logits(v)  # (M, H), shared by the weight and the step
        vis = energy.visible_term(v, energy.b) - energy.visible_term(v, energy.base)
        delta = ((beta - beta_prev) * vis
                 + (F.softplus(beta * logits) - F.softplus(beta_prev * logits)).sum(-1))
        h = bernoulli_draw(torch.sigmoid(beta * logits), gen)
        return delta, energy.sample_visible(h, gen, beta)

    log_z, se, _ = annealed_importance_sampling(
        init=init, advance=advance, log_z0=energy.base_log_z(), n_chains=n_chains,
        betas=ais_betas(n_betas))
    return LogPartition(log_z, se, "ais", f"{n_chains} chains, {n_betas} temperatures")
