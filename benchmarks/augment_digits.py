"""Does class-conditional generative augmentation lift a small-data classifier on digits?

scikit-learn digits (8x8, /16), k labelled images per class (k = 5, 10, 20; 5 seeds), the rest
as the test set. An RBF SVM (scikit-learn defaults) trained on: the k*10 real images; + their
+-1-pixel shifts (4 per image); + per_class images per class drawn from a conditional VAE
(gl.VAE fit(X, y), Bernoulli likelihood on grey levels, decoder means); + both.

    python benchmarks/augment_digits.py --seeds 0 1 2 3 4 --ks 5 10 20
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.svm import SVC

import genlearn as gl


def shifts(X, y):
    imgs = X.reshape(-1, 8, 8)
    out, labels = [X], [y]
    for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        s = np.roll(imgs, (dy, dx), axis=(1, 2))
        if dy == 1:
            s[:, 0] = 0
        if dy == -1:
            s[:, -1] = 0
        if dx == 1:
            s[:, :, 0] = 0
        if dx == -1:
            s[:, :, -1] = 0
        out.append(s.reshape(len(X), -1))
        labels.append(y)
    return np.concatenate(out), np.concatenate(labels)


def generated(X, y, per_class, seed, epochs):
    vae = gl.VAE(latent_dim=8, hidden=(128,), likelihood="bernoulli", epochs=epochs,
                 batch_size=32, seed=seed, threads=1, verbose=False, device="cpu")
    vae.fit(X, y)
    labels = np.repeat(np.unique(y), per_class)
    return vae.sample(len(labels), y=labels, seed=seed, mean=True).reshape(len(labels), -1), labels


def svm_accuracy(X, y, Xt, yt):
    return float(np.mean(SVC().fit(X, y).predict(Xt) == yt))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    ap.add_argument("--ks", nargs="+", type=int, default=[5, 10, 20])
    ap.add_argument("--per-class", type=int, default=50)
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--out", default=str(Path(__file__).with_name("results")
                                         / "augment_digits.json"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    d = load_digits()
    X, y = d.data / 16.0, d.target
    rows = []
    for k in args.ks:
        for seed in args.seeds:
            rng = np.random.default_rng(seed)
            idx = np.concatenate([rng.choice(np.flatnonzero(y == c), k, replace=False)
                                  for c in range(10)])
            test = np.setdiff1d(np.arange(len(y)), idx)
            Xs, ys, Xt, yt = X[idx], y[idx], X[test], y[test]
            t0 = time.perf_counter()
            Xg, yg = generated(Xs, ys, args.per_class, seed, args.epochs)
            fit_s = time.perf_counter() - t0
            Xsh, ysh = shifts(Xs, ys)
            rec = {"k": k, "seed": seed, "vae_seconds": round(fit_s, 1), "load": os.getloadavg()[0],
                   "svm": svm_accuracy(Xs, ys, Xt, yt),
                   "svm_shifts": svm_accuracy(Xsh, ysh, Xt, yt),
                   "svm_cvae": svm_accuracy(np.r_[Xs, Xg], np.r_[ys, yg], Xt, yt),
                   "svm_shifts_cvae": svm_accuracy(np.r_[Xsh, Xg], np.r_[ysh, yg], Xt, yt)}
            rows.append(rec)
            print(json.dumps(rec), flush=True)
    summary = {}
    for k in args.ks:
        sel = [r for r in rows if r["k"] == k]
        summary[k] = {m: float(np.mean([r[m] for r in sel]))
                      for m in ("svm", "svm_shifts", "svm_cvae", "svm_shifts_cvae")}
    print(json.dumps(summary, indent=1))
    Path(args.out).write_text(json.dumps({"runs": rows, "mean": summary,
                                          "per_class": args.per_class,
                                          "epochs": args.epochs}, indent=1) + "\n")


if __name__ == "__main__":
    main()
