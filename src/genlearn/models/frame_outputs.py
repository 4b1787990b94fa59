"""Output layers of the frame-level sequence models: a distribution over one 0/1 frame v (D,)
whose parameters a recurrent state u (U,) sets.

Each output is a strategy (an ``nn.Module``) with two methods, so the recurrent model does not
branch on its kind:

- ``log_prob(u, v)``: log p(v | u), exact, in nats; u (N, U), v (N, D) -> (N,)
- ``sample(u, gen, temperature=1.0)``: one draw of v per row of u: (N, U) -> (N, D); with
  ``temperature`` T != 1 the draw is from the distribution whose logits (Bernoulli, each NADE
  conditional) or energy (RBM: E / T, so b, c and W divided by T) are divided by T -- T < 1
  sharpens, T > 1 flattens; T = 1 is the model

``BernoulliOutput`` treats the keys as independent given u (the RNN/LSTM baselines of Chung et
al. 2014). ``NADEOutput`` is the RNN-NADE output of Boulanger-Lewandowski et al. (2012): the
keys in pitch order, each a logistic unit of the keys below it (NADE, Larochelle & Murray 2011),
with the two biases set by u. ``RBMOutput`` is the RNN-RBM's: an RBM whose visible and hidden
biases u sets, log p(v | u) = -F(v) - log Z(u), with log Z(u) exact by enumerating the 2^H
states of the (small) hidden layer, chunked, or by annealed importance sampling otherwise.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..ops.rbm import ais_betas, binary_states

MAX_ENUM_HIDDEN = 16  # 2^16 hidden states per frame: the largest layer log Z enumerates


class BernoulliOutput(nn.Module):
    """p(v | u) = prod_i Bernoulli(v_i; sigmoid(b_i + w_i . u))."""

    estimator = "exact"

    def __init__(self, n_in: int, n_keys: int, hidden: int = 0):
        super().__init__()
        self.lin = nn.Linear(n_in, n_keys)

    def log_prob(self, u, v):
        logits = self.lin(u)  # (N, D)
        return -F.binary_cross_entropy_with_logits(logits, v, reduction="none").sum(-1)

    def sample(self, u, gen, temperature: float = 1.0):
        p = torch.sigmoid(self.lin(u) / temperature)
        return (torch.rand(p.shape, generator=gen, device=p.device, dtype=p.dtype) < p).to(p.dtype)


class NADEOutput(nn.Module):
    """NADE over the keys with u-dependent biases (RNN-NADE).

    a_i = c(u) + W[:, :i] v_{<i},  h_i = sigmoid(a_i),
    p(v_i = 1 | v_<i, u) = sigmoid(b_i(u) + V_i . h_i)
    """

    estimator = "exact"

    def __init__(self, n_in: int, n_keys: int, hidden: int = 150):
        super().__init__()
        self.n_keys, self.hidden = n_keys, hidden
        self.to_b = nn.Linear(n_in, n_keys)  # b(u): (N, D)
        self.to_c = nn.Linear(n_in, hidden)  # c(u): (N, H)
        self.W = nn.Parameter(torch.randn(hidden, n_keys) * 0.01)  # input weights (H, D)
        self.V = nn.Parameter(torch.randn(n_keys, hidden) * 0.01)  # output weights (D, H)

    def log_prob(self, u, v):
        b, c = self.to_b(u), self.to_c(u)  # (N, D), (N, H)
        contrib = v[:, :, None] * self.W.T[None]  # (N, D, H): what key i adds to a_{i+1..}
        a = c[:, None, :] + torch.cumsum(contrib, dim=1) - contrib  # (N, D, H), exclusive
        logits = b + (torch.sigmoid(a) * self.V[None]).sum(-1)  # (N, D)
        return -F.binary_cross_entropy_with_logits(logits, v, reduction="none").sum(-1)

    def sample(self, u, gen, temperature: float = 1.0):
        b, a = self.to_b(u), self.to_c(u)
        v = torch.zeros(u.shape[0], self.n_keys, dtype=u.dtype, device=u.device)
        for i in range(self.n_keys):
            p = torch.sigmoid((b[:, i] + torch.sigmoid(a) @ self.V[i]) / temperature)
            v[:, i] = (torch.rand(p.shape, generator=gen, device=p.device, dtype=p.dtype) < p)
            a = a + v[:, i:i + 1] * self.W[:, i]
        return v


class RBMOutput(nn.Module):
    """An RBM over v with biases b(u) = b + B u, c(u) = c + C u and a shared W (H, D).

    E(v, h | u) = -b(u).v - c(u).h - h^T W v;  log p(v | u) = -F(v) - log Z(u),
    F(v) = -b(u).v - sum_j softplus(c_j(u) + W_j . v).
    """

    def __init__(self, n_in: int, n_keys: int, hidden: int = 8, *, ais_chains: int = 64,
                 ais_betas: int = 1000, gibbs_steps: int = 25):
        super().__init__()
        self.n_keys, self.hidden = n_keys, hidden
        self.ais_chains, self.ais_betas, self.gibbs_steps = ais_chains, ais_betas, gibbs_steps
        self.to_b = nn.Linear(n_in, n_keys)
        self.to_c = nn.Linear(n_in, hidden)
        self.W = nn.Parameter(torch.randn(hidden, n_keys) * 0.01)

    @property
    def exact(self) -> bool:
        return self.hidden <= MAX_ENUM_HIDDEN

    @property
    def estimator(self) -> str:
        if self.exact:
            return f"exact (log Z by enumerating the 2^{self.hidden} hidden states per frame)"
        return (f"AIS (log Z per frame from {self.ais_chains} chains x {self.ais_betas} "
                "temperatures; biased high for the log-likelihood when too short)")

    def biases(self, u):
        return self.to_b(u), self.to_c(u)  # (N, D), (N, H)

    def free_energy(self, v, b, c):
        return -(v * b).sum(-1) - F.softplus(c + v @ self.W.T).sum(-1)  # (N,)

    def _log_f_hidden(self, hs, b, c, W=None):
        """log sum_v exp(-E(v, h)) for every hidden state in hs (S, H): (N, S)."""
        W = self.W if W is None else W
        return c @ hs.T + F.softplus(b[:, None, :] + (hs @ W)[None]).sum(-1)

    def log_z(self, b, c, *, chunk_elems: int = 1 << 24):
        """log Z(u) per frame: exact enumeration (differentiable) or AIS. (N,)"""
        if not self.exact:
            with torch.no_grad():
                return self._ais_log_z(b, c)
        n_states = 1 << self.hidden
        hs = binary_states(0, n_states, self.hidden, dtype=b.dtype, device=b.device)
        rows = max(1, chunk_elems // (n_states * self.n_keys))
        out = [torch.logsumexp(self._log_f_hidden(hs, b[i:i + rows], c[i:i + rows]), dim=1)
               for i in range(0, b.shape[0], rows)]
        return torch.cat(out)

    def log_prob(self, u, v):
        b, c = self.biases(u)
        return -self.free_energy(v, b, c) - self.log_z(b, c)

    def _ais_log_z(self, b, c):
        """Per-frame AIS from the base f_0(v, h) = exp(b.v + c.h) (exact log Z_0) to beta=1."""
        N, M = b.shape[0], self.ais_chains
        betas = ais_betas(self.ais_betas).tolist()
        bM, cM = b.repeat_interleave(M, 0), c.repeat_interleave(M, 0)  # (N*M, D), (N*M, H)
        gen = torch.Generator(device=b.device).manual_seed(0)
        v = (torch.rand(bM.shape, generator=gen, device=b.device, dtype=b.dtype)
             < torch.sigmoid(bM)).to(b.dtype)

        def log_f(v, beta):  # log sum_h exp(-E_beta(v, h)), E_beta with W scaled by beta
            return (v * bM).sum(-1) + F.softplus(cM + beta * (v @ self.W.T)).sum(-1)

        log_w = torch.zeros(N * M, dtype=torch.float64, device=b.device)
        for k in range(1, len(betas)):
            log_w += (log_f(v, betas[k]) - log_f(v, betas[k - 1])).double()
            h = _bernoulli(torch.sigmoid(cM + betas[k] * (v @ self.W.T)), gen)
            v = _bernoulli(torch.sigmoid(bM + betas[k] * (h @ self.W)), gen)
        log_w = log_w.view(N, M)
        log_z0 = (F.softplus(b).sum(-1) + F.softplus(c).sum(-1)).double()
        return (log_z0 + torch.logsumexp(log_w, 1) - math.log(M)).to(b.dtype)

    def sample(self, u, gen, temperature: float = 1.0):
        b, c = self.biases(u)
        b, c, W = b / temperature, c / temperature, self.W / temperature  # energy E / T
        if self.exact:  # exact: h from its marginal p(h | u), then v | h
            n_states = 1 << self.hidden
            hs = binary_states(0, n_states, self.hidden, dtype=b.dtype, device=b.device)
            logits = self._log_f_hidden(hs, b, c, W)  # (N, S)
            idx = torch.multinomial(torch.softmax(logits.double(), 1), 1, generator=gen)[:, 0]
            return _bernoulli(torch.sigmoid(b + hs[idx] @ W), gen)
        v = _bernoulli(torch.sigmoid(b), gen)  # Gibbs chain, as the paper samples
        for _ in range(self.gibbs_steps):
            h = _bernoulli(torch.sigmoid(c + v @ W.T), gen)
            v = _bernoulli(torch.sigmoid(b + h @ W), gen)
        return v

    def cd_loss(self, u, v, gen, k: int):
        """A surrogate whose gradient is the CD-k estimate of -grad log p(v | u), summed (N,)."""
        b, c = self.biases(u)
        with torch.no_grad():
            vk = v
            for _ in range(k):
                h = _bernoulli(torch.sigmoid(c + vk @ self.W.T), gen)
                vk = _bernoulli(torch.sigmoid(b + h @ self.W), gen)
        return self.free_energy(v, b, c) - self.free_energy(vk, b, c)


def _bernoulli(p, gen):
    return (torch.rand(p.shape, generator=gen, device=p.device, dtype=p.dtype) < p).to(p.dtype)


OUTPUTS = {"bernoulli": BernoulliOutput, "nade": NADEOutput, "rbm": RBMOutput}
