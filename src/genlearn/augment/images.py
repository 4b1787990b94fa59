"""Class-conditional generative augmentation of a small labelled image set.

    aug = ImageAugmenter(per_class=100, seed=0).fit(X, y)   # X: (n, H*W) or (n, H, W) in [0, 1]
    X_aug, y_aug = aug.augment(X, y)    # the real images, their +-1-pixel shifts, generated ones

New images of class c are made in one of three ways (``method``, a strategy class each):

- ``"morph"`` (default; :class:`Morph`): a deformable-template model of each class. For two
  labelled images i != j of class c, :func:`genlearn.augment.deform.register` fits the smooth
  displacement fields (a coarse lattice of control points) that carry i onto j and j onto i;
  a new image is the morph a fraction t ~ U(0, 1) of the way between them (both images
  deformed to the in-between shape, their grey levels blended). The new image has the
  in-between *shape* of two real digits, where a pixel average of the two shows both strokes.
- ``"interpolate"`` (:class:`LatentInterpolation`): a conditional ``gl.VAE`` (Bernoulli
  likelihood on grey levels) learns p(x | z, class) from the labelled images and, with
  ``shifts=True``, their four one-pixel shifts; pick two labelled images i != j of class c,
  encode them to their posterior means z_i, z_j, draw a ~ U(0, 1) and decode
  a z_i + (1 - a) z_j with label c (the decoder's mean image).
- ``"sample"`` (:class:`PriorDraws`): the same VAE, decoding z ~ N(0, I) with label c.

Measured on scikit-learn's digits (benchmarks/augment_digits.py, benchmarks/README.md), RBF
SVM, 5 seeds, 100 new images per class added to the labelled images and their shifts: morphs
give 0.908 / 0.945 / 0.970 with 5 / 10 / 20 labelled images per class (shifts alone 0.894 /
0.936 / 0.961), VAE interpolations 0.905 / 0.942 / 0.964, prior draws nothing (0.890 / 0.940 /
0.961). Pixel averages of two same-class images, no model at all, give 0.908 / 0.943 / 0.970:
what helps is in-between images; morphing makes them in about a second, the VAE in 4-19 s.
Classic transforms (``transforms=("affine", "thickness", "elastic")``,
:mod:`genlearn.augment.classic`) help more than any generated images there (0.921 / 0.952 /
0.977), and morphs on top of them add nothing (0.920 / 0.952 / 0.977).
"""

from __future__ import annotations

import numpy as np
import torch

from .._utils import check_float, check_int
from . import deform
from .classic import get_transform, transformed_copies

SHIFTS = ((1, 0), (-1, 0), (0, 1), (0, -1))  # (rows, columns): down, up, right, left


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


def same_class_pairs(y: np.ndarray, per_class: int, rng: np.random.Generator,
                     low: float = 0.0, high: float = 1.0):
    """``per_class`` pairs of row indices of ``y`` per class, two different rows of the class
    (the same row twice only for a class with one row), and a weight a ~ U(low, high) each:
    ``(i, j, a, labels)``, classes in sorted order."""
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
    return (np.concatenate(first), np.concatenate(second), np.concatenate(weight),
            np.repeat(classes, per_class))


def same_class_interpolations(vae, X: np.ndarray, y: np.ndarray, per_class: int,
                              rng: np.random.Generator, low: float = 0.0,
                              high: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` decoded latent interpolations per class of ``y`` (rows of ``X``; a class
    with one image gives that image's reconstruction): ``(images (m, D), labels (m,))``."""
    Z = vae.encode(X, y)                                                  # (n, L) means
    i, j, a, labels = same_class_pairs(y, per_class, rng, low, high)
    a = a[:, None]
    images = vae.decode(a * Z[i] + (1.0 - a) * Z[j], labels)
    return images.reshape(len(labels), -1), labels


def same_class_morphs(X: np.ndarray, y: np.ndarray, image_shape: tuple[int, int],
                      per_class: int, rng: np.random.Generator, *, grid: int = 4,
                      penalty: float = 0.02, steps: int = 200, upsample: int = 2,
                      flows: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` morphs per class of ``y`` between two of its images (rows of ``X``), each
    a fraction t ~ U(0, 1) of the way: ``(images (m, H*W) in [0, 1], labels (m,))``. Only the
    pairs drawn are registered, both ways. ``flows`` caches them across calls on the same
    ``X``: keyed by (i, j, grid, penalty, steps, upsample), so other settings register anew.
    A class with one image has no pair: its "morphs" are that image, warped by a zero flow
    (with ``upsample > 1``, slightly blurred)."""
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[1] != image_shape[0] * image_shape[1]:
        raise ValueError(f"X must be (n, H*W) with H, W = {tuple(image_shape)}; got shape "
                         f"{X.shape}")
    flows = {} if flows is None else flows
    i, j, t, labels = same_class_pairs(y, per_class, rng)
    imgs = torch.as_tensor(X.reshape(-1, *image_shape))
    setting = (grid, float(penalty), steps, upsample)
    pairs = list(zip(i.tolist(), j.tolist(), strict=True))
    todo = sorted({p + setting for a, b in pairs for p in ((a, b), (b, a))} - flows.keys())
    if todo:
        src, dst = np.array([key[:2] for key in todo]).T
        new = deform.register(imgs[src], imgs[dst], grid=grid, penalty=penalty, steps=steps,
                              upsample=upsample)
        flows.update(zip(todo, new, strict=True))
    flow_ij = torch.stack([flows[(a, b) + setting] for a, b in pairs])
    flow_ji = torch.stack([flows[(b, a) + setting] for a, b in pairs])
    out = deform.morph(imgs[i], imgs[j], flow_ij, flow_ji, torch.as_tensor(t), upsample)
    return out.reshape(len(labels), -1).clamp(0.0, 1.0).double().numpy(), labels


class Morph:
    """Morphs between two labelled images of a class (no network; see the module docstring)."""

    name, uses_vae = "morph", False

    def generate(self, aug, k: int, seed: int):
        return same_class_morphs(aug.X_, aug.y_, aug.image_shape_, k,
                                 np.random.default_rng(seed), grid=aug.grid,
                                 penalty=aug.penalty, upsample=aug.upsample,
                                 flows=aug.flows_)


class LatentInterpolation:
    """Decoded interpolations between the VAE codes of two labelled images of a class."""

    name, uses_vae = "interpolate", True

    def generate(self, aug, k: int, seed: int):
        return same_class_interpolations(aug.vae_, aug.X_, aug.y_, k,
                                         np.random.default_rng(seed))


class PriorDraws:
    """Decoder means at z ~ N(0, I) of the conditional VAE."""

    name, uses_vae = "sample", True

    def generate(self, aug, k: int, seed: int):
        labels = np.repeat(np.unique(aug.y_), k)
        images = aug.vae_.sample(len(labels), y=labels, seed=seed, mean=True)
        return images.reshape(len(labels), -1), labels


METHODS = {m.name: m for m in (Morph, LatentInterpolation, PriorDraws)}


class ImageAugmenter:
    """Generated images per class from a few labelled images.

    Parameters
    ----------
    method : {"morph", "interpolate", "sample"}; see the module docstring.
    per_class : int, generated images per class.
    shifts : bool, let ``augment`` add the images' four one-pixel shifts (and, for the VAE
        methods, fit the VAE on them too).
    transforms : classic transforms (:mod:`genlearn.augment.classic`: "rotate", "affine",
        "thickness", "elastic", or transform objects) whose random copies ``augment`` adds
        too, ``copies`` of each labelled image per transform (default none: the measured best
        on digits is ``("affine", "thickness", "elastic")``, which helps more than the
        generated images do).
    grid, penalty, upsample : the morphs' deformations: control points a side, the weight of
        the mean squared displacement against the mean squared pixel difference, and the
        finer grid the images are warped on (see :func:`genlearn.augment.deform.warp`).
    latent_dim, hidden, epochs, batch_size : the VAE of "interpolate" and "sample" (defaults:
        8, (128,), 300, 32).
    image_shape : (H, W) or None (a square image inferred from the feature count).
    seed : int; threads : torch threads while fitting the VAE (default 1; the morphs run on
        torch's current thread setting).
    """

    def __init__(self, method: str = "morph", per_class: int = 100, *, shifts: bool = True,
                 grid: int = 4, penalty: float = 0.02, upsample: int = 2, latent_dim: int = 8,
                 hidden: tuple[int, ...] = (128,), epochs: int = 300, batch_size: int = 32,
                 image_shape: tuple[int, int] | None = None, seed: int = 0,
                 threads: int | None = 1, transforms=(), copies: int = 10):
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
        check_int(per_class, "per_class", low=0)
        check_int(grid, "grid", low=2)
        check_int(upsample, "upsample", low=1)
        check_float(penalty, "penalty", low=0.0)
        check_int(copies, "copies", low=0)
        if isinstance(transforms, str):
            raise ValueError(f"transforms must be a list of transforms; got the string "
                             f"{transforms!r} (write [{transforms!r}])")
        try:
            transforms = tuple(transforms)
        except TypeError:
            raise ValueError(f"transforms must be a list of transforms (names or objects); "
                             f"got {transforms!r}") from None
        for t in transforms:
            get_transform(t)  # an unknown name fails here, not after a fit
        self.transforms, self.copies = transforms, copies
        self.method, self.per_class, self.shifts = method, per_class, shifts
        self.grid, self.penalty, self.upsample = grid, penalty, upsample
        self.latent_dim, self.hidden, self.epochs = latent_dim, hidden, epochs
        self.batch_size, self.image_shape, self.seed, self.threads = (batch_size, image_shape,
                                                                      seed, threads)

    def _check(self, X, y) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y)
        if X.ndim == 3:
            shape = X.shape[1:]
            if self.image_shape and tuple(self.image_shape) != shape:
                raise ValueError(f"X holds {shape[0]}x{shape[1]} images but image_shape is "
                                 f"{tuple(self.image_shape)}")
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
        """Keep the labelled images; for the VAE methods, fit the conditional VAE."""
        X, y, shape = self._check(X, y)
        self.image_shape_ = shape
        self.X_, self.y_, self.flows_ = X, y, {}
        self.__dict__.pop("vae_", None)  # a refit never keeps the VAE of other images
        if METHODS[self.method].uses_vae:
            self._fit_vae()
        return self

    def _fit_vae(self) -> None:
        import genlearn as gl

        Xf, yf = self.X_, self.y_
        if self.shifts:
            Xf = np.concatenate([Xf, pixel_shifts(Xf, self.image_shape_)])
            yf = np.tile(yf, 1 + len(SHIFTS))
        self.vae_ = gl.VAE(latent_dim=self.latent_dim, hidden=tuple(self.hidden),
                           likelihood="bernoulli", epochs=self.epochs,
                           batch_size=self.batch_size, image_shape=self.image_shape_,
                           seed=self.seed, threads=self.threads, verbose=False,
                           device="cpu").fit(Xf, yf)

    def generate(self, per_class: int | None = None, *, seed: int | None = None):
        """``(images (m, H*W), labels (m,))``: ``per_class`` new images of each class."""
        if not hasattr(self, "X_"):
            raise ValueError("this ImageAugmenter is not fitted yet; call fit(X, y) first")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}; got {self.method!r}")
        if per_class is not None:
            check_int(per_class, "per_class", low=0)
        k = self.per_class if per_class is None else per_class
        seed = self.seed if seed is None else seed
        if k == 0:
            return np.zeros((0, self.X_.shape[1])), self.y_[:0]
        strategy = METHODS[self.method]()
        if strategy.uses_vae and not hasattr(self, "vae_"):
            self._fit_vae()  # the method was switched after fit
        return strategy.generate(self, k, seed)

    def augment(self, X, y, *, seed: int | None = None):
        """``X`` and ``y`` (as given to ``fit``), their shifts when ``shifts``, the classic
        ``transforms``' copies, and the generated images, in that order: ``(images, labels,
        synthetic)`` with a flag per generated row."""
        X, y, shape = self._check(X, y)
        parts, labels = [X], [y]
        if self.shifts:
            parts.append(pixel_shifts(X, shape))
            labels.append(np.tile(y, len(SHIFTS)))
        if self.transforms and self.copies:
            rng = np.random.default_rng((self.seed if seed is None else seed, 1))
            parts.append(transformed_copies(X, shape, self.transforms, self.copies, rng))
            labels.append(np.tile(y, len(self.transforms) * self.copies))
        Xg, yg = self.generate(seed=seed)
        n_real = sum(len(p) for p in parts)
        synthetic = np.r_[np.zeros(n_real, bool), np.ones(len(Xg), bool)]
        return np.concatenate(parts + [Xg]), np.concatenate(labels + [yg]), synthetic
