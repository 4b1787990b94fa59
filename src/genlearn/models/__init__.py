"""One file per model; importing this package registers every family."""

from .hmm import HMM
from .vae import VAE

__all__ = ["HMM", "VAE"]
