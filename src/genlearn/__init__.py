"""genlearn: learn the distribution behind a data set, then generate new instances of it.

    import genlearn as gl
    train, test = gl.datasets.load("digits", binarize=True, split=0.8, seed=0)
    model = gl.VAE(latent_dim=16, hidden=(256, 256), epochs=200, seed=0).fit(train.X)
    model.sample(64); model.score(test.X); model.save("runs/vae"); gl.load("runs/vae")
"""

import logging

from . import datasets, metrics, registry
from ._version import __version__
from .base import GenerativeModel, NotFittedError
from .compare import compare
from .io import CheckpointError, load
from .models import DBN, GAN, HMM, RBM, RNN, VAE, NGram, SeqVAE, Transformer
from .training import NonFiniteLossError

try:  # the tabular synthesizer needs pandas (pip install genlearn[tables])
    from .tabular import TabularSynthesizer
except ImportError as _exc:  # pragma: no cover - only without pandas
    if getattr(_exc, "name", None) != "pandas":
        raise

    def TabularSynthesizer(*args, **kwargs):  # noqa: N802 - stands in for the class
        raise ImportError("TabularSynthesizer needs pandas: pip install genlearn[tables]")

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "DBN",
    "GAN",
    "HMM",
    "NGram",
    "RBM",
    "RNN",
    "SeqVAE",
    "TabularSynthesizer",
    "Transformer",
    "VAE",
    "CheckpointError",
    "GenerativeModel",
    "NonFiniteLossError",
    "NotFittedError",
    "__version__",
    "compare",
    "datasets",
    "load",
    "metrics",
    "registry",
]
