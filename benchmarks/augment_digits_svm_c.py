"""Does the morphs' gain survive a tuned classifier? (issue 14, images)

    .venv/bin/python benchmarks/augment_digits_svm_c.py

The protocol of ``augment_digits.py`` (scikit-learn digits, k labelled images per class, the
rest as test set, seeds 0-4), the columns SVM + shifts and SVM + shifts + 100 morphs per class,
each with an RBF SVM of every C in ``--C`` and gamma in ``--gamma`` ("scale" is scikit-learn's
default, 1 / (n_features * X.var())). Prints the mean test accuracy per setting and writes
``benchmarks/results/augment_digits_svm_c.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from augment_digits import labelled_split, shifts  # benchmarks/, beside this script
from sklearn.datasets import load_digits
from sklearn.svm import SVC

from genlearn.augment import ImageAugmenter


def gamma_value(text: str):
    return text if text == "scale" else float(text)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ks", nargs="+", type=int, default=[5, 10])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    ap.add_argument("--C", nargs="+", type=float, default=[1.0, 3.0, 10.0, 30.0])
    ap.add_argument("--gamma", nargs="+", type=gamma_value, default=["scale", 0.02, 0.05])
    args = ap.parse_args(argv)
    d = load_digits()
    X, y = d.data / 16.0, d.target
    acc: dict = {}
    load0, t0 = os.getloadavg(), time.process_time()
    for k in args.ks:
        for seed in args.seeds:
            idx = labelled_split(y, k, seed)
            test = np.setdiff1d(np.arange(len(y)), idx)
            Xs, ys, Xt, yt = X[idx], y[idx], X[test], y[test]
            cols = {"shifts": shifts(Xs, ys)}
            Xa, ya, _ = ImageAugmenter("morph", per_class=100, image_shape=(8, 8),
                                       seed=seed).fit(Xs, ys).augment(Xs, ys)
            cols["shifts_morph100"] = (Xa, ya)
            for C in args.C:
                for g in args.gamma:
                    for name, (A, b) in cols.items():
                        key = f"k={k} C={C:g} gamma={g} {name}"
                        a = float(np.mean(SVC(C=C, gamma=g).fit(A, b).predict(Xt) == yt))
                        acc.setdefault(key, []).append(a)
    rows = {key: {"mean": float(np.mean(v)), "per_seed": v} for key, v in acc.items()}
    for key, r in rows.items():
        print(f"{key}: {r['mean']:.4f}")
    out = Path(__file__).resolve().parent / "results" / "augment_digits_svm_c.json"
    out.write_text(json.dumps({"ks": args.ks, "seeds": args.seeds, "cpu_s":
                               time.process_time() - t0, "load_before": load0,
                               "load_after": os.getloadavg(), "rows": rows}, indent=1) + "\n")
    print("wrote", out)


if __name__ == "__main__":
    main()
