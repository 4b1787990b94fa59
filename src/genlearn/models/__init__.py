"""One file per model; importing this package registers every family."""

from .vae import VAE

__all__ = ["VAE"]
