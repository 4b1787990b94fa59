"""Class-conditional generative augmentation of a small labelled image set.

    aug = ImageAugmenter(per_class=100, seed=0).fit(X, y)   # X: (n, H*W) or (n, H, W) in [0, 1]
    X_aug, y_aug = aug.augment(X, y)    # the real images, their +-1-pixel shifts, generated ones

A conditional ``gl.VAE`` (Bernoulli likelihood on grey levels) learns p(x | z, class) from the
labelled images and, with ``shifts=True``, their four one-pixel shifts. New images of class c
are then made in one of two ways (``method``):

- ``"interpolate"`` (default): pick two labelled images i != j of class c, encode them to their
  posterior means z_i, z_j, draw a ~ U(0, 1) and decode a z_i + (1 - a) z_j with label c (the
  decoder's mean image). The new image lies on the model's manifold between two real ones.
- ``"sample"``: decode z ~ N(0, I) with label c (the decoder's mean image).

Measured on scikit-learn's digits (benchmarks/augment_digits.py, benchmarks/README.md): with
5 labelled images per class, interpolations added to the shifted set lift an RBF SVM by about
one point over shifts alone; prior samples do not, and pixel-space averages of two same-class
images (no model) do about as well as the interpolations, so the gain is that of in-between
images more than of the generative model itself. Read the README before relying on it.
"""

from __future__ import annotations

import numpy as np

SHIFTS = ((1, 0), (-1, 0), (0, 1), (0, -1))  # (rows, columns): down, up, right, left
METHODS = ("interpolate", "sample")


def pixel_shifts(X: np.ndarray, image_shape: tuple[int, int]) -> np.ndarray:
    """The four one-pixel shifts of each image, zero-filled at the edge: ``(4 n, H*W)``, in
    the order of ``SHIFTS`` (all images shifted down, then up, right, left)."""
    H, W = image_shape
    imgs = np.asarray(X, dtype=np.float64).reshape(-1, H, W)
    out = []
    for dy, dx in SHIFTS:
        s = np.zeros_like(imgs)
        s[:, max(dy, 0):H + min(dy, 0), max(dx, 0):W + min(dx, 0)] = \
            imgs[:, max(-dy, 0):H + min(-dy, 0), max(-dx, 0):W + min(-dx, 0)]
        out.append(s.reshape(len(imgs), H * W))
    return np.concatenate(out)


def same_class_interpolations(vae, X: np.ndarray, y: np.ndarray, per_class: int,
                              rng: np.random.Generator, low: float = 0.0,
                              high: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` decoded latent interpolations per class of ``y`` (rows of ``X``; a class
    with one image gives that image's reconstruction): ``(images (m, D), labels (m,))``."""
    Z = vae.encode(X, y)                                                  # (n, L) means
    classes = np.unique(y)
    first, second, weight = [], [], []
    for c in classes:
        rows = np.flatnonzero(y == c)
        i = rng.choice(rows, per_class)
        j = rng.choice(rows, per_class)
        while len(rows) > 1 and (i == j).any():  # two different images of the class
            same = i == j
            j[same] = rng.choice(rows, int(same.sum()))
        first.append(i), second.append(j)
        weight.append(low + (high - low) * rng.random(per_class))
    i, j, a = np.concatenate(first), np.concatenate(second), np.concatenate(weight)[:, None]
    labels = np.repeat(classes, per_class)
    images = vae.decode(a * Z[i] + (1.0 - a) * Z[j], labels)
    return images.reshape(len(labels), -1), labels


class ImageAugmenter:
    """Generated images per class from a conditional VAE fitted on a few labelled images.

    Parameters
    ----------
    method : {"interpolate", "sample"}; see the module docstring.
    per_class : int, generated images per class.
    shifts : bool, fit the VAE on the images and their one-pixel shifts, and let ``augment``
        add the shifts too.
    latent_dim, hidden, epochs, batch_size : the VAE (defaults: 8, (128,), 300, 32).
    image_shape : (H, W) or None (a square image inferred from the feature count).
    seed : int; threads : torch threads while fitting (default 1).
    """

    def __init__(self, method: str = "interpolate", per_class: int = 100, *, shifts: bool = True,
                 latent_dim: int = 8, hidden: tuple[int, ...] = (128,), epochs: int = 300,
                 batch_size: int = 32, image_shape: tuple[int, int] | None = None, seed: int = 0,
                 threads: int | None = 1):
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
        if isinstance(per_class, bool) or not isinstance(per_class, int) or per_class < 0:
            raise ValueError(f"per_class must be an integer >= 0; got {per_class!r}")
        self.method, self.per_class, self.shifts = method, per_class, shifts
        self.latent_dim, self.hidden, self.epochs = latent_dim, hidden, epochs
        self.batch_size, self.image_shape, self.seed, self.threads = (batch_size, image_shape,
                                                                      seed, threads)

    def _check(self, X, y) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y)
        if X.ndim == 3:
            shape = X.shape[1:]
            X = X.reshape(len(X), -1)
        elif X.ndim == 2:
            side = int(round(np.sqrt(X.shape[1])))
            shape = tuple(self.image_shape) if self.image_shape else (side, side)
        else:
            raise ValueError(f"X must be (n, H*W) or (n, H, W) images; got shape {X.shape}")
        if shape[0] * shape[1] != X.shape[1]:
            raise ValueError(f"images of {X.shape[1]} pixels are not {shape[0]}x{shape[1]}; "
                             "pass image_shape=(H, W)")
        if y.shape != (len(X),):
            raise ValueError(f"y must hold one label per image ({len(X)}); got shape {y.shape}")
        if not np.isfinite(X).all() or X.min() < 0 or X.max() > 1:
            raise ValueError("X must hold finite pixel values in [0, 1] (divide by the maximum "
                             "grey level first)")
        if len(np.unique(y)) < 2:
            raise ValueError(f"y has {len(np.unique(y))} class(es); conditional augmentation "
                             "needs two")
        return X, y, shape

    def fit(self, X, y) -> ImageAugmenter:
        import genlearn as gl

        X, y, shape = self._check(X, y)
        self.image_shape_ = shape
        Xf, yf = X, y
        if self.shifts:
            Xf, yf = np.concatenate([X, pixel_shifts(X, shape)]), np.tile(y, 1 + len(SHIFTS))
        self.vae_ = gl.VAE(latent_dim=self.latent_dim, hidden=tuple(self.hidden),
                           likelihood="bernoulli", epochs=self.epochs,
                           batch_size=self.batch_size, image_shape=shape, seed=self.seed,
                           threads=self.threads, verbose=False, device="cpu").fit(Xf, yf)
        self.X_, self.y_ = X, y
        return self

    def generate(self, per_class: int | None = None, *, seed: int | None = None):
        """``(images (m, H*W), labels (m,))``: ``per_class`` new images of each class."""
        if not hasattr(self, "vae_"):
            raise ValueError("this ImageAugmenter is not fitted yet; call fit(X, y) first")
        k = self.per_class if per_class is None else per_class
        seed = self.seed if seed is None else seed
        if k == 0:
            return np.zeros((0, self.X_.shape[1])), self.y_[:0]
        if self.method == "interpolate":
            return same_class_interpolations(self.vae_, self.X_, self.y_, k,
                                             np.random.default_rng(seed))
        labels = np.repeat(np.unique(self.y_), k)
        images = self.vae_.sample(len(labels), y=labels, seed=seed, mean=True)
        return images.reshape(len(labels), -1), labels

    def augment(self, X, y, *, seed: int | None = None):
        """``X`` and ``y`` (as given to ``fit``), their shifts when ``shifts``, and the
        generated images: ``(images, labels, synthetic)`` with a flag per generated row."""
        X, y, shape = self._check(X, y)
        parts, labels = [X], [y]
        if self.shifts:
            parts.append(pixel_shifts(X, shape))
            labels.append(np.tile(y, len(SHIFTS)))
        Xg, yg = self.generate(seed=seed)
        n_real = sum(len(p) for p in parts)
        synthetic = np.r_[np.zeros(n_real, bool), np.ones(len(Xg), bool)]
        return np.concatenate(parts + [Xg]), np.concatenate(labels + [yg]), synthetic
