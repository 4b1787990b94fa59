"""Network building blocks shared by the neural families (VAE now, GAN next).

The networks are kept apart from the generative procedures that use them: a model asks for an
MLP or a convolutional stack of a given shape and owns what it means.
"""

from __future__ import annotations

import torch
from torch import nn

ACTIVATIONS = {
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "tanh": nn.Tanh,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "softplus": nn.Softplus,
    "gelu": nn.GELU,
}


def mlp(sizes: list[int], activation: str = "relu", final_activation: bool = False,
        dropout: float = 0.0) -> nn.Sequential:
    """Linear layers of ``sizes[i] -> sizes[i+1]`` with ``activation`` (and dropout) between."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or final_activation:
            layers.append(ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def conv_downsampler(image_shape: tuple[int, int], channels: tuple[int, ...] = (32, 64),
                     activation: str = "relu") -> tuple[nn.Sequential, int]:
    """Strided 4x4 convolutions halving H and W per layer, then flatten.

    Input (B, H*W) -> output (B, C_last * H/2^L * W/2^L). Returns the network and its output
    width. H and W must be divisible by 2^L.
    """
    h, w = image_shape
    layers: list[nn.Module] = [nn.Unflatten(1, (1, h, w))]
    c_in = 1
    for c in channels:
        layers += [nn.Conv2d(c_in, c, 4, stride=2, padding=1), ACTIVATIONS[activation]()]
        c_in, h, w = c, h // 2, w // 2
    layers.append(nn.Flatten())
    return nn.Sequential(*layers), c_in * h * w


def conv_upsampler(image_shape: tuple[int, int], in_dim: int, channels: tuple[int, ...] = (64, 32),
                   activation: str = "relu", out_channels: int = 1) -> nn.Sequential:
    """Mirror of :func:`conv_downsampler`: (B, in_dim) -> (B, out_channels * H * W).

    A linear layer makes a (C_0, H/2^L, W/2^L) map; transposed 4x4 convolutions double it
    back; the last one has ``out_channels`` maps (e.g. 2 for a mean and a log-variance).
    """
    h, w = image_shape
    L = len(channels)
    h0, w0 = h // 2**L, w // 2**L
    layers: list[nn.Module] = [nn.Linear(in_dim, channels[0] * h0 * w0), ACTIVATIONS[activation](),
                               nn.Unflatten(1, (channels[0], h0, w0))]
    for i, c in enumerate(channels):
        last = i == L - 1
        c_out = out_channels if last else channels[i + 1]
        layers.append(nn.ConvTranspose2d(c, c_out, 4, stride=2, padding=1))
        if not last:
            layers.append(ACTIVATIONS[activation]())
    layers.append(_ChannelsLast(out_channels, h * w))
    return nn.Sequential(*layers)


class _ChannelsLast(nn.Module):
    """(B, C, H, W) -> (B, C * H * W) with each channel's pixels contiguous."""

    def __init__(self, channels: int, pixels: int):
        super().__init__()
        self.channels, self.pixels = channels, pixels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], self.channels * self.pixels)
