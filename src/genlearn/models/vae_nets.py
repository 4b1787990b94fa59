"""The VAE's network: encoder q(z | x, c), decoder p(x | z, c) and the prior p(z).

MLPs, or strided convolutions for square images (``nets.conv_downsampler`` /
``conv_upsampler``); the prior is N(0, I), a learned mixture of Gaussians, or the VampPrior
(the encoder's posteriors at learned pseudo-inputs). ``c`` is a one-hot label (width 0 for an
unconditional model).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..nets import conv_downsampler, conv_upsampler, mlp
from ..ops import bernoulli_log_prob, gaussian_log_prob, standard_normal_log_prob


class VAENet(nn.Module):
    """Encoder q(z | x, c) and decoder p(x | z, c); ``c`` is a one-hot label or empty."""

    def __init__(self, n_features: int, latent_dim: int, hidden: tuple[int, ...], architecture: str,
                 conv_channels: tuple[int, ...], activation: str, likelihood: str,
                 gaussian_variance: str, n_classes: int, image_shape: tuple[int, int] | None,
                 min_std: float, dropout: float = 0.0, prior: str = "normal",
                 prior_components: int = 1):
        super().__init__()
        self.prior = prior
        self.latent_dim = latent_dim
        self.likelihood = likelihood
        self.decoder_variance = likelihood == "gaussian" and gaussian_variance == "decoder"
        self.log_min_var = 2.0 * math.log(min_std)
        self.n_features = n_features
        n_out = 2 if self.decoder_variance else 1
        hidden = tuple(hidden)
        if architecture == "conv":
            self.enc_conv, width = conv_downsampler(image_shape, conv_channels, activation)
        else:
            self.enc_conv, width = nn.Identity(), n_features
        self.enc_body = mlp([width + n_classes, *hidden], activation, final_activation=True,
                            dropout=dropout)
        self.enc_head = nn.Linear(hidden[-1] if hidden else width + n_classes, 2 * latent_dim)
        dec_hidden = hidden[::-1]
        if architecture == "conv":
            self.dec = nn.Sequential(
                mlp([latent_dim + n_classes, *dec_hidden], activation, final_activation=True,
                    dropout=dropout),
                conv_upsampler(image_shape,
                               dec_hidden[-1] if dec_hidden else latent_dim + n_classes,
                               conv_channels[::-1], activation, out_channels=n_out))
        else:
            self.dec = mlp([latent_dim + n_classes, *dec_hidden, n_out * n_features], activation,
                           dropout=dropout)
        if likelihood == "gaussian" and not self.decoder_variance:
            self.feature_log_var = nn.Parameter(torch.zeros(n_features))
        K = prior_components
        if prior == "mog":  # learned mixture of Gaussians, spread out at the start
            self.prior_means = nn.Parameter(torch.randn(K, latent_dim))
            self.prior_log_vars = nn.Parameter(torch.zeros(K, latent_dim))
            self.prior_logits = nn.Parameter(torch.zeros(K))
        elif prior == "vamp":  # VampPrior: the posterior at K learned pseudo-inputs
            self.pseudo_inputs = nn.Parameter(0.5 + 0.01 * torch.randn(K, n_features))
            self.n_classes = n_classes

    def prior_components(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
        """(log weights (K,), means (K, L), log-variances (K, L)); None for N(0, I)."""
        if self.prior == "mog":
            return (torch.log_softmax(self.prior_logits, 0), self.prior_means,
                    self.prior_log_vars)
        if self.prior == "vamp":
            u = self.pseudo_inputs
            if self.likelihood == "bernoulli":
                u = torch.clamp(u, 0.0, 1.0)  # pseudo-inputs live where the data do
            c = torch.zeros(u.shape[0], self.n_classes, device=u.device, dtype=u.dtype)
            means, log_vars = self.encode(u, c)
            K = u.shape[0]
            return torch.full((K,), -math.log(K), device=u.device), means, log_vars
        return None

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) for z of shape (..., L)."""
        comps = self.prior_components()
        if comps is None:
            return standard_normal_log_prob(z)
        log_w, means, log_vars = comps
        per = gaussian_log_prob(z.unsqueeze(-2), means, log_vars)  # (..., K)
        return torch.logsumexp(per + log_w, dim=-1)

    def sample_prior(self, n: int, generator: torch.Generator | None, device) -> torch.Tensor:
        comps = self.prior_components()
        eps = torch.randn((n, self.latent_dim), generator=generator, device=device)
        if comps is None:
            return eps
        log_w, means, log_vars = comps
        k = torch.multinomial(torch.exp(log_w), n, replacement=True, generator=generator)
        return means[k] + torch.exp(0.5 * log_vars[k]) * eps

    def encode(self, x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.enc_body(torch.cat([self.enc_conv(x), c], dim=-1))
        mean, log_var = self.enc_head(h).chunk(2, dim=-1)
        return mean, log_var

    def decode(self, z: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, L) -> logits (Bernoulli) or (mean, log_var) (Gaussian), each (B, D)."""
        out = self.dec(torch.cat([z, c], dim=-1))
        if self.likelihood == "bernoulli":
            return out, None
        if self.decoder_variance:
            mean, raw = out[:, : self.n_features], out[:, self.n_features:]
        else:
            mean, raw = out, self.feature_log_var.expand_as(out)
        # variance = min_var + exp(raw), in log space: a floor keeps the density bounded
        log_var = torch.logaddexp(raw, torch.full_like(raw, self.log_min_var))
        return mean, log_var

    def log_lik(self, x: torch.Tensor, params: tuple[torch.Tensor, torch.Tensor | None]):
        first, log_var = params
        if self.likelihood == "bernoulli":
            return bernoulli_log_prob(x, first)
        return gaussian_log_prob(x, first, log_var)
