"""One file per model; importing this package registers every family."""

from .dbn import DBN
from .frame_baselines import ChordHMM, KeyBernoulli
from .frame_rnn import FrameRNN
from .gan import GAN
from .hmm import HMM
from .ngram import NGram
from .rbm import RBM
from .rnn import RNN
from .rnnrbm import RNNNADE, RNNRBM
from .seq_vae import SeqVAE
from .transformer import Transformer
from .vae import VAE

__all__ = ["DBN", "GAN", "HMM", "RBM", "RNN", "RNNNADE", "RNNRBM", "VAE", "ChordHMM", "FrameRNN",
           "KeyBernoulli", "NGram", "SeqVAE", "Transformer"]
