"""How an RBM learns: the estimate of the model expectation, the gradient, and the update.

The log-likelihood gradient of an RBM is a difference of expectations,

    d log p(v) / d theta = E_data[-dE/d theta] - E_model[-dE/d theta],

and the strategies here differ only in the samples that stand in for the model: contrastive
divergence runs k Gibbs steps from the data (CD-k, Hinton 2002), persistent contrastive
divergence keeps chains running across updates (PCD, Tieleman 2008), and parallel tempering
keeps a ladder of chains at inverse temperatures from 1 down to 0 (the base-rate model) and
swaps neighbours (Desjardins et al. 2010). The update is SGD with momentum and an L2 penalty on
W (Hinton 2010). :class:`FusedBernoulliStep` is the same update for Bernoulli units with CD or
PCD written as a handful of large in-place operations.
"""

from __future__ import annotations

import math

import torch

from .rbm_units import GaussianUnits, RBMEnergy


class ContrastiveDivergence:
    """CD-k: the negative particles are the data after k Gibbs steps."""

    name = "cd"
    persistent = False

    def chain_shape(self, n_chains: int, n_features: int) -> tuple[int, ...]:
        """Shape of the chains :meth:`RBM.sample` continues (CD keeps them for sampling only)."""
        return (n_chains, n_features)

    def negative_phase(self, data, chains, energy: RBMEnergy, gen, k: int, t: int):
        """(model samples (m, D), the chains after the update)."""
        v = data
        for _ in range(k):
            v = energy.gibbs_step(v, gen)
        return v, chains

    def draw(self, chains, energy: RBMEnergy, gen, n: int, *, burn_in: int, gibbs_steps: int,
             mean: bool = False) -> torch.Tensor:
        """``n`` samples (n, D) from copies of ``chains``: ``burn_in`` steps, then one sample
        per chain every ``gibbs_steps`` steps (E[v | h] at the last step with ``mean``)."""
        chains, step = self.first_chains(chains, n), 0

        def advance(chains, steps):
            nonlocal step
            for _ in range(steps):
                chains = self.sampling_step(chains, energy, gen, step)
                step += 1
            return chains

        chains, out = advance(chains, burn_in), []
        while sum(len(o) for o in out) < n:
            if out:
                chains = advance(chains, gibbs_steps)
            current = self.model_state(chains)
            if mean:
                current = energy.sample_visible(energy.sample_hidden(current, gen), gen,
                                                mean=True)
            out.append(current)
        return torch.cat(out)[:n]

    # sampling from a fitted model: plain Gibbs chains
    def first_chains(self, chains, m: int):
        return chains[:m]

    def sampling_step(self, chains, energy: RBMEnergy, gen, t: int):
        return energy.gibbs_step(chains, gen)

    def model_state(self, chains):
        """The chains at the model's own temperature."""
        return chains


class PersistentContrastiveDivergence(ContrastiveDivergence):
    """PCD-k: the negative particles are persistent chains advanced k steps per update."""

    name = "pcd"
    persistent = True

    def negative_phase(self, data, chains, energy, gen, k, t):
        v = chains
        for _ in range(k):
            v = energy.gibbs_step(v, gen)
        return v, v


class ParallelTempering(ContrastiveDivergence):
    """PT: persistent chains at ``n_temperatures`` inverse temperatures, 1 down to 0."""

    name = "pt"
    persistent = True

    def __init__(self, n_temperatures: int):
        self.n_temperatures = n_temperatures

    def chain_shape(self, n_chains, n_features):
        return (self.n_temperatures, n_chains, n_features)

    def betas(self, dtype, device) -> torch.Tensor:
        return torch.linspace(1.0, 0.0, self.n_temperatures, dtype=dtype, device=device)

    def negative_phase(self, data, chains, energy, gen, k, t):
        betas = self.betas(energy.W.dtype, energy.W.device)
        for i in range(k):
            chains = self.swap_step(chains, energy, betas, gen, (t + i) % 2)
        return chains[0], chains

    def first_chains(self, chains, m):
        return chains[:, :m]

    def sampling_step(self, chains, energy, gen, t):
        return self.swap_step(chains, energy, self.betas(energy.W.dtype, energy.W.device), gen,
                              t % 2)

    def model_state(self, chains):
        return chains[0]

    @staticmethod
    def swap_step(chains, energy: RBMEnergy, betas, gen, parity: int):
        """One Gibbs sweep at every temperature, then swaps of neighbours (even or odd pairs).

        ``chains`` (T, M, D) with ``betas`` (T,) descending from 1. The tempered joint is
        log p_beta(v, h) = base(v) + beta d(v, h) + const with d = -E(v, h) - base(v), so the
        swap of the states of temperatures i and i+1 is accepted with probability
        min(1, exp((beta_i - beta_i+1) (d_i+1 - d_i))).
        """
        bt = betas.view(-1, 1, 1)
        h = energy.sample_hidden(chains, gen, bt)
        v = energy.sample_visible(h, gen, bt)
        d = energy.tempering_energy(v, h)  # (T, M)
        pairs = torch.arange(parity, v.shape[0] - 1, 2, device=v.device)
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


def training_strategy(training: str, n_temperatures: int) -> ContrastiveDivergence:
    """The strategy named by the ``training`` hyperparameter."""
    if training == "pt":
        return ParallelTempering(n_temperatures)
    if training == "pcd":
        return PersistentContrastiveDivergence()
    return ContrastiveDivergence()


def log_likelihood_gradient(data, model, energy: RBMEnergy, weight_decay: float):
    """Ascent direction of the log-likelihood: data statistics minus model statistics.

    ``data`` (n, D) and ``model`` (m, D) rows. Returns the gradient for theta (D+1, H+1) laid
    out like it ([[W, b], [c, -]]) and, for Gaussian units with learned s, that of log s.
    """
    W, b, c, sigma, units = energy.W, energy.b, energy.c, energy.sigma, energy.units
    D, H = W.shape
    x0, xk = units.coupling(data, sigma), units.coupling(model, sigma)
    ph0 = torch.sigmoid(c + x0 @ W)
    phk = torch.sigmoid(c + xk @ W)
    n0, nk = data.shape[0], model.shape[0]
    grad = torch.zeros(D + 1, H + 1, dtype=W.dtype, device=W.device)
    grad[:D, :H] = x0.T @ ph0 / n0 - xk.T @ phk / nk - weight_decay * W
    grad[D, :H] = ph0.mean(0) - phk.mean(0)
    grad[:D, H] = units.bias_gradient(data, model, b, sigma)
    log_sigma_grad = None
    if isinstance(units, GaussianUnits) and units.learn_sigma:
        log_sigma_grad = units.log_sigma_gradient((data, x0, ph0), (model, xk, phk), W, b,
                                                  sigma)
    return grad, log_sigma_grad


class GeneralStep:
    """One update for any units and strategy: the negative phase, the gradient, and momentum
    SGD on theta (and on log s of Gaussian units with learned s), all in place.

    ``energy()`` gives the current weights as an :class:`RBMEnergy` (float32 views of theta);
    ``X`` (n, D) are the training rows the step's ``idx`` select; :attr:`chains` are the
    persistent chains after the last update.
    """

    def __init__(self, X: torch.Tensor, energy, theta: torch.Tensor, velocity: dict,
                 log_sigma: torch.Tensor | None, chains: torch.Tensor, gen,
                 strategy: ContrastiveDivergence, *, k: int, weight_decay: float):
        self.X, self.energy, self.theta, self.velocity = X, energy, theta, velocity
        self.log_sigma, self.chains, self.gen, self.strategy = log_sigma, chains, gen, strategy
        self.k, self.weight_decay = k, weight_decay

    def __call__(self, idx: torch.Tensor, lr: float, momentum: float, t: int) -> None:
        data = self.X[idx.to(self.X.device)]
        energy = self.energy()
        model, self.chains = self.strategy.negative_phase(data, self.chains, energy, self.gen,
                                                          self.k, t)
        grad, log_sigma_grad = log_likelihood_gradient(data, model, energy, self.weight_decay)
        self.velocity["theta"].mul_(momentum).add_(grad, alpha=lr)
        self.theta.add_(self.velocity["theta"])
        if log_sigma_grad is not None:
            self.velocity["log_sigma"].mul_(momentum).add_(log_sigma_grad, alpha=lr)
            self.log_sigma.add_(self.velocity["log_sigma"]).clamp_(min=math.log(1e-3))


class FusedBernoulliStep:
    """The general update for Bernoulli units with CD / PCD, fused into preallocated buffers.

    Data rows and negative particles share one buffer with a column of ones, so the whole
    gradient is one matrix product ``[v, 1]^T (coef * [p(h|v), 1])`` with coef = +1/n for
    data rows and -1/m for particles: about 15 tensor operations per update, which is what
    keeps small batches (10-20 rows) as fast as scikit-learn's NumPy loop. ``theta`` (D+1,
    H+1) and ``velocity`` are updated in place; with PCD the persistent chains live in the
    buffer and :attr:`chains` is a view of them.
    """

    def __init__(self, X: torch.Tensor, theta: torch.Tensor, velocity: torch.Tensor,
                 chains: torch.Tensor, gen, *, persistent: bool, batch_size: int, k: int,
                 weight_decay: float):
        n, D = X.shape
        H = theta.shape[1] - 1
        self.n_chains = chains.shape[0] if persistent else batch_size
        self.batch_size, self.persistent, self.k, self.gen = batch_size, persistent, k, gen
        self.D, self.H, self.device = D, H, X.device
        dev = X.device
        self.X_aug = torch.cat([X, torch.ones(n, 1, device=dev)], 1)
        self.buf = torch.ones(self.n_chains + batch_size, D + 1, device=dev)
        if persistent:
            self.buf[:self.n_chains, :D] = chains
        self.chains = self.buf[:self.n_chains, :D] if persistent else chains
        self.hbuf = torch.ones(self.n_chains, H + 1, device=dev)
        self.phbuf = torch.ones(self.n_chains + batch_size, H + 1, device=dev)
        self.u_h = torch.empty(self.n_chains, H, device=dev)
        self.u_v = torch.empty(self.n_chains, D, device=dev)
        self.theta, self.velocity = theta, velocity
        # hidden logits of [v, 1]; visible logits of [h, 1]
        self.Wc, self.Wv_T = theta[:, :H], theta[:D, :].T
        self.decay_mask = torch.zeros_like(theta)
        self.decay_mask[:D, :H] = weight_decay
        self.decay = bool(weight_decay)
        self.views = {}  # per batch length (at most two): slicing costs as much as a product

    def _views_for(self, n_data: int):
        """Slices of the buffers for batches of ``n_data`` rows (made once per length)."""
        n_chains, D, H, dev = self.n_chains, self.D, self.H, self.device
        n_neg = n_chains if self.persistent else n_data  # negative particles
        neg = self.buf[n_chains - n_neg:n_chains]
        coef = torch.cat([torch.full((n_neg, 1), -1.0 / n_neg),
                          torch.full((n_data, 1), 1.0 / n_data)])
        used = self.buf[n_chains - n_neg:n_chains + n_data]  # [particles; data], (m+n, D+1)
        return (self.buf[n_chains:n_chains + n_data], neg, neg[:, :D], self.hbuf[:n_neg],
                self.hbuf[:n_neg, :H], self.u_h[:n_neg], self.u_v[:n_neg], used, used.T,
                self.phbuf[:n_neg + n_data], self.phbuf[:n_neg + n_data, :H], coef.to(dev),
                torch.empty(n_neg, H, device=dev), torch.empty(n_neg, D, device=dev),
                torch.empty(n_neg + n_data, H + 1, device=dev),
                torch.empty(n_neg + n_data, H, device=dev), torch.empty(D + 1, H + 1, device=dev))

    def __call__(self, idx: torch.Tensor, lr: float, momentum: float, t: int = 0) -> None:
        n_data = len(idx)
        if n_data not in self.views:
            self.views[n_data] = self._views_for(n_data)
        # data rows, particles (with and without the ones column), hidden states, uniforms,
        # the rows the gradient uses and their transpose, p(h|v), its scaled copy, scratch
        (data, neg, neg_v, hidden, hidden_h, u_hidden, u_visible, used, used_t, ph, ph_h, coef,
         hidden_act, visible_act, ph_scaled, used_act, grad) = self.views[n_data]
        gen, Wc, Wv_T, theta = self.gen, self.Wc, self.Wv_T, self.theta
        torch.index_select(self.X_aug, 0, idx, out=data)
        src = neg if self.persistent else data
        for _ in range(self.k):
            u_hidden.uniform_(generator=gen)
            u_visible.uniform_(generator=gen)
            # a Bernoulli draw is u < p (several times faster than torch.bernoulli on CPU)
            torch.lt(u_hidden, torch.mm(src, Wc, out=hidden_act).sigmoid_(), out=hidden_h)
            torch.lt(u_visible, torch.mm(hidden, Wv_T, out=visible_act).sigmoid_(), out=neg_v)
            src = neg
        torch.sigmoid(torch.mm(used, Wc, out=used_act), out=ph_h)
        torch.mm(used_t, torch.mul(ph, coef, out=ph_scaled), out=grad)  # preallocated: no mallocs
        if self.decay:
            grad.addcmul_(theta, self.decay_mask, value=-1.0)
        self.velocity.mul_(momentum).add_(grad, alpha=lr)
        theta.add_(self.velocity)
