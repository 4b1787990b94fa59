"""One file per model; importing this package registers every family."""

from .dbn import DBN
from .gan import GAN
from .hmm import HMM
from .ngram import NGram
from .rbm import RBM
from .vae import VAE

__all__ = ["DBN", "GAN", "HMM", "NGram", "RBM", "VAE"]
