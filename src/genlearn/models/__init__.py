"""One file per model; importing this package registers every family."""

from .dbn import DBN
from .gan import GAN
from .hmm import HMM
from .ngram import NGram
from .rbm import RBM
from .rnn import RNN
from .transformer import Transformer
from .vae import VAE

__all__ = ["DBN", "GAN", "HMM", "NGram", "RBM", "VAE", "RNN", "Transformer"]
