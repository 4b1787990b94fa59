"""Feature spaces in which the sample-based metrics compare real and generated examples.

For images with class labels (digits, MNIST) the features are the penultimate layer of a small
MLP classifier trained on the training split, as FID uses an Inception network's pool layer --
but trained on the data at hand, so it is meaningful for 8x8 digits too and needs no download.
The classifier is cached by a hash of its training data and settings (default folder
``~/.cache/genlearn/features``), so every later evaluation on the same split reuses it. For
tabular data the features are the raw columns standardized with the training split's mean and
standard deviation.

    space = feature_space(train)            # picks one of the two for a Dataset
    fa, fb = space(samples), space(test.X)  # (n, d) float64 feature vectors
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from pathlib import Path

import numpy as np

from .._utils import check_array, check_int, check_labels

log = logging.getLogger(__name__)

FEATURES_VERSION = 1  # bump when the classifier or its training changes: old caches are ignored


def default_cache_dir() -> Path:
    """``$GENLEARN_FEATURES_CACHE`` or ``~/.cache/genlearn/features``."""
    env = os.environ.get("GENLEARN_FEATURES_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "genlearn" / "features"


class FeatureSpace:
    """Maps examples (rows) to feature vectors; call it on an array to get ``(n, d)`` float64."""

    name = "features"

    def __call__(self, X) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:
        """One line for reports: what the features are."""
        return self.name


class StandardizedFeatures(FeatureSpace):
    """The raw columns, standardized by the mean and std of the data given at construction."""

    name = "standardized raw features"

    def __init__(self, X_train):
        flat, _ = check_array(X_train, name="X_train")
        self.n_features = flat.shape[1]
        self.mean_ = flat.mean(0)
        std = flat.std(0)
        self.std_ = np.where(std > 0, std, 1.0)  # a constant column stays 0, not NaN

    def __call__(self, X) -> np.ndarray:
        flat, _ = check_array(X, n_features=self.n_features)
        return (flat - self.mean_) / self.std_

    def describe(self) -> str:
        return f"{self.name} ({self.n_features} columns, train-split mean and std)"


class ClassifierFeatures(FeatureSpace):
    """Penultimate-layer activations of a small MLP classifier trained on labelled data.

    Build it with :func:`digit_features` (trains or loads from the cache). ``train_accuracy_``
    is the classifier's accuracy on its training data, a sanity check that the features
    separate the classes.
    """

    name = "classifier features"

    def __init__(self, net, n_features: int, feature_dim: int, key: str,
                 train_accuracy: float, from_cache: bool):
        self.net = net.eval()
        self.n_features = n_features
        self.feature_dim = feature_dim
        self.key = key
        self.train_accuracy_ = train_accuracy
        self.from_cache = from_cache

    def _forward(self, X, upto_logits: bool) -> np.ndarray:
        import torch

        flat, _ = check_array(X, n_features=self.n_features)
        body = self.net[:-1] if not upto_logits else self.net
        out = []
        with torch.no_grad():
            for start in range(0, flat.shape[0], 4096):
                xb = torch.as_tensor(flat[start:start + 4096], dtype=torch.float32)
                out.append(body(xb).double().numpy())
        return np.concatenate(out)

    def __call__(self, X) -> np.ndarray:
        return self._forward(X, upto_logits=False)

    def predict(self, X) -> np.ndarray:
        """Class index (0..n_classes-1, in sorted label order) for each row."""
        return self._forward(X, upto_logits=True).argmax(1)

    def describe(self) -> str:
        return (f"penultimate layer ({self.feature_dim} units) of an MLP classifier trained on "
                f"the training split (train accuracy {self.train_accuracy_:.3f})")


def _data_key(flat: np.ndarray, labels: np.ndarray, settings: dict) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({**settings, "shape": list(flat.shape),
                         "version": FEATURES_VERSION}, sort_keys=True).encode())
    h.update(np.ascontiguousarray(flat, dtype=np.float32).tobytes())
    h.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    return h.hexdigest()[:32]


def _build_net(n_features: int, hidden: tuple[int, ...], n_classes: int):
    from ..nets import mlp

    # the last hidden layer, after its ReLU, is the feature layer; the final Linear is the head
    return mlp([n_features, *hidden, n_classes], "relu")


def digit_features(X_train, y_train, *, hidden: tuple[int, ...] = (256, 64),
                   epochs: int | None = None, batch_size: int = 256, lr: float = 1e-3,
                   seed: int = 0, cache_dir: str | os.PathLike | None = None,
                   use_cache: bool = True) -> ClassifierFeatures:
    """Train (or load from the cache) the classifier whose penultimate layer is the feature space.

    Parameters
    ----------
    X_train : array (n, d)
        Training images, flattened (digits: 64 pixels, MNIST: 784).
    y_train : array (n,)
        Their class labels.
    hidden : tuple of int, default (256, 64)
        Hidden widths; the last one is the feature dimension.
    epochs : int or None
        Passes over the data; None picks about 1,000 steps, at most 30 epochs: 30 on the 1,437
        training digits (180 steps; held-out accuracy 0.92 on the binarized digits), 5 on
        MNIST's 60,000.
    batch_size, lr : Adam settings.
    seed : int
        Seeds the initialisation and the batch order (a repeatable classifier).
    cache_dir : path, optional
        Where classifiers are kept (default :func:`default_cache_dir`); the file name is a hash
        of the data, labels and settings, so a different split trains a new one.
    use_cache : bool
        False trains afresh and writes nothing.
    """
    import torch
    from safetensors.torch import load_file, save_file

    from ..io import atomic_path

    flat, _ = check_array(X_train, name="X_train")
    labels = check_labels(y_train, flat.shape[0], name="y_train")
    classes, target = np.unique(labels, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"the feature classifier needs at least 2 classes; y_train has "
                         f"{len(classes)}")
    hidden = tuple(int(h) for h in hidden)
    if not hidden:
        raise ValueError("hidden must name at least one layer (the feature layer)")
    for h in hidden:
        check_int(h, "hidden (each width)", low=1)
    check_int(batch_size, "batch_size", low=1)
    check_int(seed, "seed", low=0)
    steps_per_epoch = math.ceil(flat.shape[0] / batch_size)
    if epochs is None:
        epochs = int(min(30, max(1, math.ceil(1000 / steps_per_epoch))))
    check_int(epochs, "epochs", low=1)
    settings = {"hidden": list(hidden), "epochs": epochs, "batch_size": batch_size,
                "lr": float(lr), "seed": seed, "n_classes": len(classes)}
    key = _data_key(flat, labels, settings)
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    weights_path, meta_path = folder / f"{key}.safetensors", folder / f"{key}.json"
    net = _build_net(flat.shape[1], hidden, len(classes))

    if use_cache and weights_path.is_file() and meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text())
            net.load_state_dict(load_file(str(weights_path)))
            log.info("feature classifier loaded from %s", weights_path)
            return ClassifierFeatures(net, flat.shape[1], hidden[-1], key,
                                      float(meta["train_accuracy"]), from_cache=True)
        except Exception as exc:  # safetensors raises its own error type on a corrupt file
            log.warning("ignoring the unreadable feature cache %s (%s); retraining", weights_path,
                        exc)

    X = torch.as_tensor(flat, dtype=torch.float32)
    t = torch.as_tensor(target, dtype=torch.int64)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = _build_net(flat.shape[1], hidden, len(classes))
        gen = torch.Generator().manual_seed(seed)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        net.train()
        for _ in range(epochs):
            perm = torch.randperm(X.shape[0], generator=gen)
            for start in range(0, X.shape[0], batch_size):
                idx = perm[start:start + batch_size]
                loss = torch.nn.functional.cross_entropy(net(X[idx]), t[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        net.eval()
        with torch.no_grad():
            accuracy = float((net(X).argmax(1) == t).double().mean())
    if use_cache:
        with atomic_path(weights_path) as tmp:
            save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp))
        with atomic_path(meta_path) as tmp:
            tmp.write_text(json.dumps({"settings": settings, "train_accuracy": accuracy,
                                       "n_train": int(flat.shape[0]),
                                       "version": FEATURES_VERSION}, indent=2))
    return ClassifierFeatures(net, flat.shape[1], hidden[-1], key, accuracy, from_cache=False)


def feature_space(train, *, cache_dir: str | os.PathLike | None = None,
                  seed: int = 0) -> FeatureSpace:
    """The feature space for a :class:`genlearn.datasets.Dataset` (its training split).

    Images with labels get :func:`digit_features`; everything else
    :class:`StandardizedFeatures`.
    """
    if getattr(train, "image_shape", None) is not None and getattr(train, "y", None) is not None:
        return digit_features(train.X, train.y, cache_dir=cache_dir, seed=seed)
    return StandardizedFeatures(train.X)
