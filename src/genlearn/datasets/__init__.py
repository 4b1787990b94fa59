"""Data sets for generative models, as flat numpy arrays with the metadata models need.

    from genlearn.datasets import load
    train, test = load("digits", binarize=True, split=0.8, seed=0)   # 1,437 / 360 images
    full = load("digits", split=None)                                 # one Dataset
    train, test = load("mnist")                # official 60,000 / 10,000 split
    ring = load("ring", split=None)            # 8 Gaussians on a circle (GAN mode coverage)
    mine = load("my_data.csv", split=None)     # .npy, .npz, .csv or a folder of images

Registered names: :func:`available`. Sources: scikit-learn's bundled 8x8 digits (always
offline), MNIST (local IDX files or ``mnist.pkl.gz``, or downloaded once with SHA-256 checks),
generated 2-D sets (:func:`toy2d`), and the user's files (:func:`load_file`).
"""

from ._core import Dataset
from ._load import absolute_source, available, load
from .digits import load_digits
from .files import load_file
from .mnist import DatasetNotAvailableError, UnsafePickleError, load_mnist
from .toy2d import TOY2D_NAMES, known_modes, toy2d, toy2d_modes, toy2d_std

__all__ = [
    "TOY2D_NAMES",
    "Dataset",
    "DatasetNotAvailableError",
    "UnsafePickleError",
    "absolute_source",
    "available",
    "known_modes",
    "load",
    "load_digits",
    "load_file",
    "load_mnist",
    "toy2d",
    "toy2d_modes",
    "toy2d_std",
]
