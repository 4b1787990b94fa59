"""Does class-conditional generative augmentation lift a small-data classifier on digits?

scikit-learn digits (8x8, /16), k labelled images per class (k = 5, 10, 20; 5 seeds), the rest
as the test set (``--data mnist``: MNIST 28x28, k from its 50,000 training images, the 10,000
test images as test set). An RBF SVM (scikit-learn defaults) trained on:

- ``svm``: the k*10 real images; ``svm_shifts``: + their four +-1-pixel shifts;
- ``svm_cvae`` / ``svm_shifts_cvae``: + ``per_class`` decoder-mean images per class of a
  conditional VAE fitted on the real images only (the first version of this benchmark);
- ``svm_shifts_morph<N>``: + ``ImageAugmenter("morph", per_class=N)`` (``--morph-per-class``,
  default 100 and 400): N morphs per class between two labelled images of the class, no network;
- ``svm_shifts_interp``: + ``ImageAugmenter("interpolate")`` (the VAE fitted on the real and
  shifted images, ``per_class`` latent interpolations between two labelled images of a class);
- ``svm_shifts_sample``: the same VAE, decoder means at z ~ N(0, I) instead;
- ``svm_shifts_rotate``: + ``copies`` rotations of each labelled image by ~U(-10, 10) degrees
  (the issue's classic "small shifts/rotations"); ``svm_shifts_affine_thickness``: + ``copies``
  affine (rotation, scale, shear) and ``copies`` stroke-thickness copies of each (the stronger
  classic baseline, :mod:`genlearn.augment.classic`); ``svm_shifts_elastic``: + ``copies``
  random smooth (elastic) distortions of each; ``svm_shifts_affine_thickness_elastic``: all
  three; ``..._morph<N>``: the last two with N morphs per class on top (generative on top of
  classic; N the first ``--morph-per-class``, none when that is empty). ``--skip-classic``
  skips them.
- with ``--vae-on-classic``: ``svm_shifts_vae_classic_interp100`` / ``..._sample300``: a
  conditional VAE (100 epochs) fitted on the labelled images, their shifts and ``copies``
  affine, thickness and elastic copies of each (the generator trained on classic
  augmentation), its 100 interpolations or 300 prior means per class added to the shifted set
  without the copies: can a generator trained on them stand in for them?
- with ``--gan``: ``svm_shifts_gan100``: + 100 samples per class of genlearn's conditional
  ``gl.GAN`` (default recipe, 300 epochs) fitted on the labelled images, as ``genlearn augment
  images --model gan`` does; ``svm_shifts_gan_on_shifts100``: the GAN fitted on the shifted set.
- with ``--gan-on-classic``: ``svm_shifts_gan_classic300``: the GAN (100 epochs) fitted as
  ``--vae-on-classic`` fits the VAE, 300 samples per class added to the shifted set.
- ``svm_shifts_pixmix``: the control without a model: a * x_i + (1 - a) * x_j of two labelled
  images of a class, a ~ U(0, 1), as many.
- with ``--filters``: ``svm_shifts_interp_nn`` keeps the interpolations whose nearest labelled
  image (real or shifted, Euclidean) has their class, ``svm_shifts_interp_svm`` those an SVM
  trained on the shifted set gives their class with probability >= 0.5 (twice as many drawn).

    python benchmarks/augment_digits.py --seeds 0 1 2 3 4 --ks 5 10 20
    python benchmarks/augment_digits.py --data mnist --ks 100 --seeds 0 --epochs 100
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import pickle
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.svm import SVC

import genlearn as gl
from genlearn.augment import ImageAugmenter, pixel_shifts, transformed_copies
from genlearn.augment.images import same_class_interpolations

MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.pkl.gz"


def shifts(X, y, shape=(8, 8)):
    """The images followed by their four one-pixel shifts, with labels."""
    return np.concatenate([X, pixel_shifts(X, shape)]), np.tile(y, 5)


def labelled_split(y, k, seed):
    """Indices of the k labelled images per class (of 10) that seed ``seed`` picks."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.choice(np.flatnonzero(y == c), k, replace=False)
                           for c in range(10)])


def generated(X, y, per_class, seed, epochs):
    vae = gl.VAE(latent_dim=8, hidden=(128,), likelihood="bernoulli", epochs=epochs,
                 batch_size=32, seed=seed, threads=1, verbose=False, device="cpu")
    vae.fit(X, y)
    labels = np.repeat(np.unique(y), per_class)
    return vae.sample(len(labels), y=labels, seed=seed, mean=True).reshape(len(labels), -1), labels


def pixel_mix(X, y, per_class, rng):
    out, labels = [], []
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        i, j = rng.choice(rows, per_class), rng.choice(rows, per_class)
        a = rng.random(per_class)[:, None]
        out.append(a * X[i] + (1 - a) * X[j])
        labels.append(np.full(per_class, c))
    return np.concatenate(out), np.concatenate(labels)


def filtered(aug, Xsh, ysh, Xt, yt, seed):
    """Interpolations kept by nearest-labelled-neighbour or classifier agreement."""
    Xg, yg = aug.generate(2 * aug.per_class, seed=seed + 1)
    d2 = ((Xg[:, None, :] - Xsh[None, :, :]) ** 2).sum(-1)             # (m, n) distances
    nn = ysh[d2.argmin(axis=1)] == yg
    svm = SVC(probability=True, random_state=0).fit(Xsh, ysh)
    proba = svm.predict_proba(Xg)[np.arange(len(yg)), np.searchsorted(svm.classes_, yg)]
    conf = proba >= 0.5
    return {"kept_nn": float(nn.mean()), "kept_svm": float(conf.mean()),
            "svm_shifts_interp_nn": svm_accuracy(np.r_[Xsh, Xg[nn]], np.r_[ysh, yg[nn]], Xt, yt),
            "svm_shifts_interp_svm": svm_accuracy(np.r_[Xsh, Xg[conf]], np.r_[ysh, yg[conf]],
                                                  Xt, yt)}


def classic_columns(Xs, ys, Xt, yt, shape, seed, copies, morphs):
    """The classic-augmentation columns, and ``morphs`` morphs per class on top of the two
    strongest (none when ``morphs`` is None)."""
    rec = {}
    columns = [("rotate", ("rotate",), 0), ("elastic", ("elastic",), 0)]
    for name, transforms in (("affine_thickness", ("affine", "thickness")),
                             ("affine_thickness_elastic", ("affine", "thickness", "elastic"))):
        columns.append((name, transforms, 0))
        if morphs is not None:
            columns.append((f"{name}_morph{morphs}", transforms, morphs))
    for name, transforms, per_class in columns:
        t0, w0 = time.process_time(), time.perf_counter()
        aug = ImageAugmenter("morph", per_class=per_class, image_shape=shape, seed=seed,
                             transforms=transforms, copies=copies)
        Xa, ya, _ = aug.fit(Xs, ys).augment(Xs, ys)
        rec[f"{name}_cpu_seconds"] = round(time.process_time() - t0, 1)
        rec[f"{name}_wall_seconds"] = round(time.perf_counter() - w0, 1)
        rec[f"svm_shifts_{name}"] = svm_accuracy(Xa, ya, Xt, yt)
    return rec


def with_classic_copies(Xs, ys, shape, seed, copies):
    """The labelled images, their shifts and ``copies`` affine, thickness and elastic copies of
    each (the copies drawn as ``ImageAugmenter`` draws them): the training set of the
    generators trained on classic augmentation, as DiffAugment / ADA train GANs on few images."""
    Xsh, ysh = shifts(Xs, ys, shape)
    Xc = transformed_copies(Xs, shape, ("affine", "thickness", "elastic"), copies,
                            np.random.default_rng((seed, 1)))
    return np.r_[Xsh, Xc], np.r_[ysh, np.tile(ys, 3 * copies)]


def vae_on_classic(Xs, ys, Xt, yt, shape, seed, copies, epochs=100):
    """A conditional VAE fitted on :func:`with_classic_copies`, then only its images added to
    the shifted set: 100 decoded latent interpolations per class between two labelled images,
    or 300 decoder means of prior draws per class."""
    Xsh, ysh = shifts(Xs, ys, shape)
    t0, w0 = time.process_time(), time.perf_counter()
    vae = gl.VAE(latent_dim=8, hidden=(128,), likelihood="bernoulli", epochs=epochs,
                 batch_size=32, image_shape=shape, seed=seed, threads=1, verbose=False,
                 device="cpu").fit(*with_classic_copies(Xs, ys, shape, seed, copies))
    rec = {"vae_classic_cpu_seconds": round(time.process_time() - t0, 1),
           "vae_classic_wall_seconds": round(time.perf_counter() - w0, 1)}
    Xg, yg = same_class_interpolations(vae, Xs, ys, 100, np.random.default_rng(seed))
    rec["svm_shifts_vae_classic_interp100"] = svm_accuracy(np.r_[Xsh, Xg], np.r_[ysh, yg], Xt, yt)
    yg = np.repeat(np.unique(ys), 300)
    Xg = vae.sample(len(yg), y=yg, seed=seed, mean=True).reshape(len(yg), -1)
    rec["svm_shifts_vae_classic_sample300"] = svm_accuracy(np.r_[Xsh, Xg], np.r_[ysh, yg], Xt, yt)
    return rec


def gan_column(name, Xf, yf, Xs, ys, Xt, yt, shape, seed, epochs, per_class):
    """genlearn's conditional GAN (its default recipe, ``epochs`` epochs) fitted on ``Xf``,
    ``per_class`` samples per class added to the labelled images' shifted set."""
    Xsh, ysh = shifts(Xs, ys, shape)
    t0, w0 = time.process_time(), time.perf_counter()
    gan = gl.GAN(epochs=epochs, seed=seed, threads=1, verbose=False, device="cpu",
                 image_shape=shape).fit(Xf, yf)
    rec = {f"{name}_cpu_seconds": round(time.process_time() - t0, 1),
           f"{name}_wall_seconds": round(time.perf_counter() - w0, 1)}
    yg = np.repeat(np.unique(ys), per_class)
    Xg = gan.sample(len(yg), y=yg, seed=seed).reshape(len(yg), -1)
    rec[f"{name}_range"] = [float(Xg.min()), float(Xg.max())]
    rec[f"svm_shifts_{name}{per_class}"] = svm_accuracy(np.r_[Xsh, Xg], np.r_[ysh, yg], Xt, yt)
    return rec


def gan_columns(Xs, ys, Xt, yt, shape, seed, epochs=300, per_class=100):
    """The GAN fitted on the labelled images alone (as ``genlearn augment images --model gan``
    does) or on them and their shifts."""
    rec = {}
    for name, (Xf, yf) in (("gan", (Xs, ys)), ("gan_on_shifts", shifts(Xs, ys, shape))):
        rec.update(gan_column(name, Xf, yf, Xs, ys, Xt, yt, shape, seed, epochs, per_class))
    return rec


def gan_on_classic(Xs, ys, Xt, yt, shape, seed, copies, epochs=100, per_class=300):
    """The GAN fitted on :func:`with_classic_copies`, its samples added without the copies."""
    Xf, yf = with_classic_copies(Xs, ys, shape, seed, copies)
    return gan_column("gan_classic", Xf, yf, Xs, ys, Xt, yt, shape, seed, epochs, per_class)


def svm_accuracy(X, y, Xt, yt):
    return float(np.mean(SVC().fit(X, y).predict(Xt) == yt))


def load(name):
    """(pool X, pool y, test X or None, test y or None, image shape)."""
    if name == "digits":
        d = load_digits()
        return d.data / 16.0, d.target, None, None, (8, 8)
    with gzip.open(MNIST) as f:  # the trusted shared file (see /work/shared/data/README.md)
        train, _valid, test = pickle.load(f, encoding="latin1")
    return (train[0].astype(np.float64), train[1], test[0].astype(np.float64), test[1],
            (28, 28))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", choices=["digits", "mnist"], default="digits")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    ap.add_argument("--ks", nargs="+", type=int, default=[5, 10, 20])
    ap.add_argument("--per-class", type=int, default=50, help="first version's cVAE images")
    ap.add_argument("--interp-per-class", type=int, default=100)
    ap.add_argument("--morph-per-class", nargs="*", type=int, default=[100, 400])
    ap.add_argument("--skip-vae", action="store_true", help="skip the VAE columns (interp, "
                    "sample, filters)")
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--skip-old", action="store_true", help="skip the svm_*cvae columns")
    ap.add_argument("--filters", action="store_true", help="add the filtered-interpolation "
                    "columns")
    ap.add_argument("--skip-classic", action="store_true", help="skip the classic-transform "
                    "columns (rotate, elastic, affine + thickness, + elastic)")
    ap.add_argument("--vae-on-classic", action="store_true", help="add the columns of a VAE "
                    "fitted on the shifts and classic copies, its images added alone")
    ap.add_argument("--gan", action="store_true", help="add the conditional GAN's columns")
    ap.add_argument("--gan-on-classic", action="store_true", help="add the column of a GAN "
                    "fitted on the shifts and classic copies, its images added alone")
    ap.add_argument("--copies", type=int, default=10, help="classic copies of each labelled "
                    "image per transform")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    X, y, Xtest, ytest, shape = load(args.data)
    out = Path(args.out or Path(__file__).with_name("results") / f"augment_{args.data}.json")
    rows = []
    for k in args.ks:
        for seed in args.seeds:
            idx = labelled_split(y, k, seed)
            if Xtest is None:
                test = np.setdiff1d(np.arange(len(y)), idx)
                Xt, yt = X[test], y[test]
            else:
                Xt, yt = Xtest, ytest
            Xs, ys = X[idx], y[idx]
            Xsh, ysh = shifts(Xs, ys, shape)
            rec = {"k": k, "seed": seed, "load": os.getloadavg()[0],
                   "svm": svm_accuracy(Xs, ys, Xt, yt),
                   "svm_shifts": svm_accuracy(Xsh, ysh, Xt, yt)}
            if not args.skip_old:
                t0 = time.process_time()
                Xg, yg = generated(Xs, ys, args.per_class, seed, args.epochs)
                rec["vae_cpu_seconds"] = round(time.process_time() - t0, 1)
                rec["svm_cvae"] = svm_accuracy(np.r_[Xs, Xg], np.r_[ys, yg], Xt, yt)
                rec["svm_shifts_cvae"] = svm_accuracy(np.r_[Xsh, Xg], np.r_[ysh, yg], Xt, yt)
            for n in args.morph_per_class:
                t0, w0 = time.process_time(), time.perf_counter()
                morph = ImageAugmenter("morph", per_class=n, image_shape=shape, seed=seed)
                Xa, ya, _ = morph.fit(Xs, ys).augment(Xs, ys)
                rec[f"morph{n}_cpu_seconds"] = round(time.process_time() - t0, 1)
                rec[f"morph{n}_wall_seconds"] = round(time.perf_counter() - w0, 1)
                rec[f"svm_shifts_morph{n}"] = svm_accuracy(Xa, ya, Xt, yt)
            if not args.skip_classic:
                rec.update(classic_columns(Xs, ys, Xt, yt, shape, seed, args.copies,
                                           (args.morph_per_class or [None])[0]))
            if args.vae_on_classic:
                rec.update(vae_on_classic(Xs, ys, Xt, yt, shape, seed, args.copies))
            if args.gan:
                rec.update(gan_columns(Xs, ys, Xt, yt, shape, seed))
            if args.gan_on_classic:
                rec.update(gan_on_classic(Xs, ys, Xt, yt, shape, seed, args.copies))
            Xm, ym = pixel_mix(Xs, ys, args.interp_per_class, np.random.default_rng(seed))
            rec["svm_shifts_pixmix"] = svm_accuracy(np.r_[Xsh, Xm], np.r_[ysh, ym], Xt, yt)
            if args.skip_vae:
                rows.append(rec)
                print(json.dumps(rec), flush=True)
                summary = write(out, rows, args)
                continue
            t0, w0 = time.process_time(), time.perf_counter()
            aug = ImageAugmenter("interpolate", per_class=args.interp_per_class, epochs=args.epochs,
                                 hidden=(args.hidden,), image_shape=shape, seed=seed).fit(Xs, ys)
            Xa, ya, _ = aug.augment(Xs, ys)
            rec["augmenter_cpu_seconds"] = round(time.process_time() - t0, 1)
            rec["augmenter_wall_seconds"] = round(time.perf_counter() - w0, 1)
            rec["svm_shifts_interp"] = svm_accuracy(Xa, ya, Xt, yt)
            if args.filters:
                rec.update(filtered(aug, Xsh, ysh, Xt, yt, seed))
            aug.method = "sample"
            Xg, yg = aug.generate()
            rec["svm_shifts_sample"] = svm_accuracy(np.r_[Xsh, Xg], np.r_[ysh, yg], Xt, yt)
            rows.append(rec)
            print(json.dumps(rec), flush=True)
            summary = write(out, rows, args)
    print(json.dumps(summary, indent=1))


def write(out, rows, args):
    """Write every run so far and the per-k means; return the means."""
    summary = {}
    for kk in sorted({r["k"] for r in rows}):
        sel = [r for r in rows if r["k"] == kk]
        summary[kk] = {m: float(np.mean([r[m] for r in sel])) for m in sel[0]
                       if m.startswith("svm")}
        summary[kk]["seeds"] = len(sel)
    out.write_text(json.dumps({"data": args.data, "runs": rows, "mean": summary,
                               "per_class": args.per_class,
                               "interp_per_class": args.interp_per_class,
                               "morph_per_class": args.morph_per_class,
                               "epochs": args.epochs, "hidden": args.hidden,
                               "copies": args.copies}, indent=1) + "\n")
    return summary


if __name__ == "__main__":
    main()
