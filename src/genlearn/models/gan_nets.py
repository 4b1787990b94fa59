"""The GAN's networks: MLP and DCGAN-style generators and discriminators.

Generators map (z, one-hot label) to a flat example. Discriminators take flat examples in
groups of ``pack`` (PacGAN: the m samples of a group are concatenated, or stacked as channels
for images) and return one score per group; a conditional discriminator sees the labels at its
input and through a projection term <embed(y), phi(x)> (Miyato & Koyama 2018).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _sn

from ..nets import ACTIVATIONS, mlp


class MLPGenerator(nn.Module):
    """(B, L), (B, K) -> (B, D); ``tanh`` output for data scaled to [-1, 1]."""

    def __init__(self, latent_dim: int, n_classes: int, hidden: tuple[int, ...], n_out: int,
                 tanh: bool):
        super().__init__()
        self.net = mlp([latent_dim + n_classes, *hidden, n_out], "relu")
        self.tanh = tanh

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        x = self.net(torch.cat([z, c], dim=1))
        return torch.tanh(x) if self.tanh else x


class ConvGenerator(nn.Module):
    """DCGAN generator (Radford et al. 2016): a linear map to a (C_0, H/2^L, W/2^L) tensor,
    then transposed 4x4 convolutions with batch norm and ReLU doubling it up to (1, H, W)."""

    def __init__(self, latent_dim: int, n_classes: int, image_shape: tuple[int, int],
                 channels: tuple[int, ...], tanh: bool):
        super().__init__()
        h, w = image_shape
        L = len(channels)
        h0, w0 = h // 2**L, w // 2**L
        layers: list[nn.Module] = [
            nn.Linear(latent_dim + n_classes, channels[0] * h0 * w0, bias=False),
            nn.BatchNorm1d(channels[0] * h0 * w0), nn.ReLU(),
            nn.Unflatten(1, (channels[0], h0, w0))]
        for i, c in enumerate(channels):
            last = i == L - 1
            c_out = 1 if last else channels[i + 1]
            layers.append(nn.ConvTranspose2d(c, c_out, 4, stride=2, padding=1, bias=last))
            if not last:
                layers += [nn.BatchNorm2d(c_out), nn.ReLU()]
        layers.append(nn.Flatten())
        self.net = nn.Sequential(*layers)
        self.tanh = tanh

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        x = self.net(torch.cat([z, c], dim=1))
        return torch.tanh(x) if self.tanh else x


class FourierFeatures(nn.Module):
    """Fixed random Fourier features (Tancik et al. 2020): (B, D) -> (B, D + 2F).

    [x, sin(x W), cos(x W)]: column j of W is a random direction times a frequency spread
    log-uniformly between 1 and ``scale``, drawn once and stored as a buffer, so the network
    sees both coarse (x itself, low frequencies) and fine structure. An MLP on
    low-dimensional inputs learns sharp detail very slowly (its spectral bias); on these
    features it resolves modes far narrower than the data's spread, which a discriminator must
    do to reject samples between the modes of a mixture.
    """

    def __init__(self, n_in: int, n_features: int, scale: float):
        super().__init__()
        direction = torch.nn.functional.normalize(torch.randn(n_in, n_features), dim=0)
        freq = torch.exp(torch.rand(n_features) * math.log(scale))  # in [1, scale)
        self.register_buffer("weight", direction * freq)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        proj = x @ self.weight
        return torch.cat([x, torch.sin(proj), torch.cos(proj)], dim=1)


class Discriminator(nn.Module):
    """Scores groups of ``pack`` examples: (B, D), (B, K) -> (B / pack,).

    ``body`` is an MLP on the concatenated group (and its labels), optionally on random
    Fourier features of each example, or a strided-convolution stack on the group's images
    stacked as channels; a linear head gives the score and, when conditional, the projection
    of the group's concatenated one-hot labels is added.
    """

    def __init__(self, kind: str, n_features: int, n_classes: int, pack: int,
                 hidden: tuple[int, ...], image_shape: tuple[int, int] | None,
                 channels: tuple[int, ...], spectral_norm: bool, fourier_features: int = 0,
                 fourier_scale: float = 10.0):
        super().__init__()
        self.kind, self.pack, self.n_features = kind, pack, n_features
        act = ACTIVATIONS["leaky_relu"]
        self.fourier = None
        if kind == "mlp":
            n_in = n_features
            if fourier_features:
                self.fourier = FourierFeatures(n_features, fourier_features, fourier_scale)
                n_in = n_features + 2 * fourier_features
            self.body = mlp([pack * (n_in + n_classes), *hidden], "leaky_relu",
                            final_activation=True)
            width = hidden[-1] if hidden else pack * (n_in + n_classes)
        else:
            h, w = image_shape
            layers: list[nn.Module] = [nn.Unflatten(1, (pack, h, w))]
            c_in = pack
            for c in channels:
                layers += [nn.Conv2d(c_in, c, 4, stride=2, padding=1), act()]
                c_in, h, w = c, h // 2, w // 2
            layers.append(nn.Flatten())
            self.body = nn.Sequential(*layers)
            width = c_in * h * w
        self.head = nn.Linear(width, 1)
        self.project = nn.Linear(pack * n_classes, width, bias=False) if n_classes else None
        if spectral_norm:
            for module in [*self.body.modules(), self.head]:
                if isinstance(module, (nn.Linear, nn.Conv2d)):
                    _sn(module)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        G = x.shape[0] // self.pack
        if self.fourier is not None:
            x = self.fourier(x)
        c_packed = c.reshape(G, -1)  # (G, pack * K): the group's one-hot labels side by side
        if self.kind == "mlp":
            h = self.body(torch.cat([x.reshape(G, self.pack, -1),
                                     c.reshape(G, self.pack, -1)], dim=2).reshape(G, -1))
        else:
            h = self.body(x.reshape(G, -1))  # (G, pack * H * W) -> (G, width)
        out = self.head(h).squeeze(1)
        if self.project is not None:
            out = out + (self.project(c_packed) * h).sum(1)
        return out


# -- the losses ---------------------------------------------------------------------------
def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor,
                     pack: int = 1) -> torch.Tensor:
    """E[(||grad_x critic(x_hat)||_2 - 1)^2] at x_hat = eps * real + (1 - eps) * fake.

    ``real``, ``fake``: (B, D); ``eps``: (B / pack, 1), one mixing weight per packed group, so
    x_hat lies on the segment between a real and a generated group. ``critic`` maps (B, D) to
    one score per group; the gradient's norm is taken over the whole group (the critic's
    input). Differentiable, so it can be minimised.
    """
    w = eps.repeat_interleave(pack, dim=0)  # (B, 1)
    x_hat = (w * real + (1 - w) * fake).detach().requires_grad_(True)
    scores = critic(x_hat)
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    norms = grad.reshape(grad.shape[0] // pack, -1).norm(dim=1)  # (B / pack,)
    return ((norms - 1.0) ** 2).mean()


def _losses(kind: str, s_real: torch.Tensor | None, s_fake: torch.Tensor):
    """Discriminator loss (needs s_real) or generator loss (s_real is None), to minimise."""
    if s_real is None:
        if kind == "ns":
            return F.softplus(-s_fake).mean()  # -log sigmoid(D(G(z)))
        if kind == "lsgan":
            return 0.5 * ((s_fake - 1.0) ** 2).mean()
        return -s_fake.mean()  # wgan-gp, hinge
    if kind == "ns":
        return F.softplus(-s_real).mean() + F.softplus(s_fake).mean()
    if kind == "wgan-gp":
        return s_fake.mean() - s_real.mean()
    if kind == "hinge":
        return F.relu(1.0 - s_real).mean() + F.relu(1.0 + s_fake).mean()
    return 0.5 * ((s_real - 1.0) ** 2).mean() + 0.5 * (s_fake ** 2).mean()  # lsgan
