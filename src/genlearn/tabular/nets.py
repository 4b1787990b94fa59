"""Networks and losses for mixed-type rows laid out in blocks by ``TableTransformer``.

A row is a run of blocks ``(activation, start, width)``: ``tanh``/``linear`` numbers and
``softmax`` one-hots. The TVAE-like decoder gives a mean per number (squashed by tanh for a
mode-normalised value) with a learned per-column sigma, and logits per one-hot block; its loss is
the Gaussian negative log-likelihood of the numbers plus the cross-entropy of the blocks (Xu et
al., 2019, TVAE). The CTGAN-like generator ends with tanh / identity on numbers and a
Gumbel-softmax (temperature 0.2) on each block; the critic sees ``pac`` rows at once.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..nets import mlp

Blocks = list[tuple[str, int, int]]


def numeric_mask(blocks: Blocks, width: int) -> torch.Tensor:
    """Boolean (width,) mask of the number columns of an encoded row."""
    mask = torch.zeros(width, dtype=torch.bool)
    for act, start, w in blocks:
        if act != "softmax":
            mask[start:start + w] = True
    return mask


def apply_numeric(out: torch.Tensor, blocks: Blocks) -> torch.Tensor:
    """Squash the ``tanh`` blocks of a raw network output; leave the rest as they are."""
    parts = []
    for act, start, w in blocks:
        piece = out[:, start:start + w]
        parts.append(torch.tanh(piece) if act == "tanh" else piece)
    return torch.cat(parts, dim=1)


def one_hot_draw(logits: torch.Tensor, blocks: Blocks, generator: torch.Generator | None,
                 argmax: bool = False) -> torch.Tensor:
    """Replace each softmax block of ``logits`` by a one-hot drawn from it (or its argmax)."""
    out = logits.clone()
    for act, start, w in blocks:
        if act != "softmax":
            continue
        piece = logits[:, start:start + w]
        if argmax:
            k = piece.argmax(dim=1)
        else:
            k = torch.multinomial(torch.softmax(piece, dim=1), 1, generator=generator)[:, 0]
        out[:, start:start + w] = F.one_hot(k, w).to(out.dtype)
    return out


class TabularVAENet(nn.Module):
    """TVAE: an MLP encoder to (mu, log var) and an MLP decoder to block outputs."""

    def __init__(self, width: int, blocks: Blocks, hidden: tuple[int, ...], latent_dim: int):
        super().__init__()
        self.blocks = blocks
        self.encoder = mlp([width, *hidden], final_activation=True)
        self.to_stats = nn.Linear(hidden[-1], 2 * latent_dim)
        self.decoder = mlp([latent_dim, *reversed(hidden), width])
        self.sigma = nn.Parameter(torch.full((width,), 0.1))
        self.register_buffer("numeric", numeric_mask(blocks, width))
        self.latent_dim = latent_dim

    def loss(self, x: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, dict]:
        """Negative ELBO per row (TVAE weights the reconstruction by 2) and its parts."""
        mu, log_var = self.to_stats(self.encoder(x)).chunk(2, dim=1)      # (B, L) each
        z = mu + torch.exp(0.5 * log_var) * torch.randn(mu.shape, generator=generator)
        out = self.decoder(z)                                              # (B, D)
        mean = apply_numeric(out, self.blocks)
        sig = self.sigma[self.numeric]
        diff = (x - mean)[:, self.numeric]
        rec = (diff ** 2 / (2 * sig ** 2) + torch.log(sig)).sum(dim=1)     # (B,)
        for act, start, w in self.blocks:
            if act == "softmax":
                target = x[:, start:start + w].argmax(dim=1)
                rec = rec + F.cross_entropy(out[:, start:start + w], target, reduction="none")
        kl = 0.5 * (mu ** 2 + log_var.exp() - 1 - log_var).sum(dim=1)
        loss = (2.0 * rec + kl).mean()
        return loss, {"loss": float(loss.detach()), "reconstruction": float(rec.detach().mean()),
                      "kl": float(kl.detach().mean())}

    def clamp_(self) -> None:
        with torch.no_grad():
            self.sigma.clamp_(0.01, 1.0)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        z = torch.randn((n, self.latent_dim), generator=generator)
        out = self.decoder(z)
        mean = apply_numeric(out, self.blocks)
        noise = torch.randn(mean.shape, generator=generator) * self.sigma
        out = torch.where(self.numeric, mean + noise, out)
        return one_hot_draw(out, self.blocks, generator)


class _Residual(nn.Module):
    """CTGAN's generator layer: Linear -> BatchNorm -> ReLU, concatenated to its input."""

    def __init__(self, d_in: int, d_out: int):
        super().__init__()
        self.fc, self.bn = nn.Linear(d_in, d_out), nn.BatchNorm1d(d_out)

    def forward(self, x):
        return torch.cat([F.relu(self.bn(self.fc(x))), x], dim=1)


class TabularGenerator(nn.Module):
    """z (B, L) + condition (B, C) -> a row (B, D) with activations applied per block."""

    def __init__(self, latent_dim: int, cond_dim: int, hidden: tuple[int, ...], width: int,
                 blocks: Blocks):
        super().__init__()
        layers, d = [], latent_dim + cond_dim
        for h in hidden:
            layers.append(_Residual(d, h))
            d += h
        self.body = nn.Sequential(*layers, nn.Linear(d, width))
        self.blocks = blocks

    def forward(self, z, cond, generator: torch.Generator | None = None, tau: float = 0.2):
        out = self.body(torch.cat([z, cond], dim=1))                      # (B, D)
        parts = []
        for act, start, w in self.blocks:
            piece = out[:, start:start + w]
            if act == "tanh":
                piece = torch.tanh(piece)
            elif act == "softmax":
                u = torch.rand(piece.shape, generator=generator).clamp_(1e-10, 1 - 1e-10)
                piece = torch.softmax((piece - torch.log(-torch.log(u))) / tau, dim=1)
            parts.append(piece)
        return torch.cat(parts, dim=1), out


class TabularCritic(nn.Module):
    """``pac`` rows (with their conditions) at once -> one score (WGAN critic)."""

    def __init__(self, d_in: int, hidden: tuple[int, ...], pac: int):
        super().__init__()
        self.pac = pac
        self.net = mlp([d_in * pac, *hidden, 1], activation="leaky_relu", dropout=0.5)

    def forward(self, x):
        return self.net(x.reshape(-1, x.shape[1] * self.pac))

    def gradient_penalty(self, real, fake, generator: torch.Generator) -> torch.Tensor:
        """Gulrajani et al. (2017): (||grad D(x_hat)|| - 1)^2 on pac-group interpolates."""
        b = real.shape[0] // self.pac
        alpha = torch.rand((b, 1, 1), generator=generator).expand(b, self.pac, real.shape[1])
        alpha = alpha.reshape(-1, real.shape[1])
        x_hat = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        grad, = torch.autograd.grad(self(x_hat).sum(), x_hat, create_graph=True)
        norm = grad.reshape(-1, self.pac * real.shape[1]).norm(dim=1)
        return ((norm - 1) ** 2).mean()


def log_frequency(counts: torch.Tensor) -> torch.Tensor:
    """CTGAN's training-by-sampling weights: p(level) proportional to log(1 + count)."""
    w = torch.log1p(counts.to(torch.float64))
    return w / w.sum()

