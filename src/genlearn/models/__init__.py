"""One file per model; importing this package registers every family."""

from .dbn import DBN
from .hmm import HMM
from .rbm import RBM
from .vae import VAE

__all__ = ["DBN", "HMM", "RBM", "VAE"]
