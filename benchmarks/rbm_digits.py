"""RBMs on binarized digits: genlearn's defaults against scikit-learn's BernoulliRBM, measured.

Data: scikit-learn's 8x8 digits thresholded at 0.5, 80/20 split with seed 0 (1,437 / 360).
Every log-likelihood here is exact (log Z by enumerating the 2^20 hidden states) unless marked
AIS, including scikit-learn's: its ``score_samples`` is a random pseudo-likelihood, so its
weights are scored with genlearn's exact enumeration. Figures, side by side in one run:

1. held-out log-likelihood of ``gl.RBM(n_hidden=20)`` with its defaults, of scikit-learn's
   BernoulliRBM(n_components=20) with its documented settings (lr 0.06, batch 10, 100 epochs),
   tuned (lr 0.03, 200 epochs), and given the same wall-clock budget as genlearn, and of
   genlearn given scikit-learn's budget; the independent-pixel model as the floor;
2. AIS log Z against the exact value for trained n_hidden=20 models (three seeds);
3. AIS held-out log-likelihood for larger n_hidden (exact enumeration is out of reach);
4. seconds per epoch of both at the same batch size (PCD with batch-size chains, as sklearn).

    python benchmarks/rbm_digits.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.neural_network import BernoulliRBM
from threadpoolctl import threadpool_limits

import genlearn as gl


def exact_ll_of_weights(W, b, c, X) -> float:
    """Mean exact log-likelihood of an RBM given as arrays (W (D, H)): wraps it in a gl.RBM."""
    model = gl.RBM(n_hidden=W.shape[1], epochs=1, verbose=False, device="cpu").fit(X[:2])
    return float(model.set_weights(W, b, c).score(X))


def sklearn_run(Xtr, Xte, **kw):
    t0 = time.perf_counter()
    sk = BernoulliRBM(n_components=20, random_state=0, **kw).fit(Xtr)
    seconds = time.perf_counter() - t0
    return exact_ll_of_weights(sk.components_.T, sk.intercept_visible_, sk.intercept_hidden_,
                               Xte), seconds


def genlearn_run(Xtr, Xte, **kw):
    t0 = time.perf_counter()
    model = gl.RBM(verbose=False, device="cpu", **kw).fit(Xtr)
    seconds = time.perf_counter() - t0
    return model, float(model.score(Xte)), seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer seeds and sizes (a smoke run)")
    ap.add_argument("--epoch-time-only", action="store_true",
                    help="only part 4, the epoch time against scikit-learn (to results/"
                         "rbm_epoch_time.json unless --out)")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"
                                         / "rbm_digits.json"))
    args = ap.parse_args()
    if args.epoch_time_only and args.out.endswith("rbm_digits.json"):
        args.out = str(Path(args.out).with_name("rbm_epoch_time.json"))
    # tiny matrices: one thread each for torch and NumPy's BLAS is the fastest and the fairest
    torch.set_num_threads(1)
    threadpool_limits(1)
    train, test = gl.datasets.load("digits", binarize=True, split=0.8, seed=0)
    Xtr, Xte = train.X, test.X
    res: dict = {"data": "digits, threshold 0.5, 80/20 split seed 0", "n_train": len(Xtr),
                 "n_test": len(Xte), "threads": 1,
                 "note": "timings on a shared 2-core machine with other jobs running "
                         "(inflated; the comparisons are side by side in one run)"}
    if not args.epoch_time_only:
        figures(res, Xtr, Xte, args)
    epoch_time(res, Xtr)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {args.out}")


def figures(res: dict, Xtr, Xte, args) -> None:
    """1-3: log-likelihoods against scikit-learn, AIS against exact, n_hidden by AIS."""
    p = Xtr.mean(0).clip(1e-3, 1 - 1e-3)
    res["independent_pixels"] = float((Xte * np.log(p) + (1 - Xte) * np.log1p(-p)).sum(1).mean())
    print(f"independent pixels                       {res['independent_pixels']:8.3f}")

    # 1. log-likelihood, side by side ------------------------------------------------------
    model, ll, secs = genlearn_run(Xtr, Xte, n_hidden=20, seed=0)
    res["genlearn_default"] = {"test_ll": ll, "seconds": secs, "params": {
        k: v for k, v in model.get_params().items() if k not in ("verbose", "device")}}
    print(f"genlearn RBM(n_hidden=20) defaults        {ll:8.3f}  ({secs:.1f} s)")
    ll_sk, s_sk = sklearn_run(Xtr, Xte, learning_rate=0.06, batch_size=10, n_iter=100)
    res["sklearn_default"] = {"test_ll": ll_sk, "seconds": s_sk,
                              "params": "lr 0.06, batch 10, 100 epochs"}
    print(f"sklearn lr 0.06, batch 10, 100 epochs     {ll_sk:8.3f}  ({s_sk:.1f} s)")
    ll_t, s_t = sklearn_run(Xtr, Xte, learning_rate=0.03, batch_size=10, n_iter=200)
    res["sklearn_tuned"] = {"test_ll": ll_t, "seconds": s_t, "params": "lr 0.03, 200 epochs"}
    print(f"sklearn tuned lr 0.03, 200 epochs         {ll_t:8.3f}  ({s_t:.1f} s)")
    # scikit-learn given genlearn's wall-clock budget: as many epochs as fit in it
    n_same = max(1, int(round(200 * secs / s_t)))
    ll_b, s_b = sklearn_run(Xtr, Xte, learning_rate=0.03, batch_size=10, n_iter=n_same)
    res["sklearn_same_budget"] = {"test_ll": ll_b, "seconds": s_b,
                                  "params": f"lr 0.03, batch 10, {n_same} epochs"}
    print(f"sklearn lr 0.03, {n_same} epochs (same budget) {ll_b:8.3f}  ({s_b:.1f} s)")
    # genlearn given scikit-learn's default budget
    per_epoch = secs / model.epochs
    n_small = max(1, int(s_sk / per_epoch))
    _, ll_g, s_g = genlearn_run(Xtr, Xte, n_hidden=20, seed=0, epochs=n_small)
    res["genlearn_sklearn_budget"] = {"test_ll": ll_g, "seconds": s_g, "epochs": n_small}
    print(f"genlearn defaults, {n_small} epochs (sklearn's budget) {ll_g:8.3f}  ({s_g:.1f} s)")

    # 2. AIS against exact, trained models -------------------------------------------------
    res["ais_vs_exact"] = []
    for seed in ([0] if args.quick else [0, 1, 2]):
        m = model if seed == 0 else genlearn_run(Xtr, Xte, n_hidden=20, seed=seed)[0]
        exact = m.log_partition("exact")
        t0 = time.perf_counter()
        ais = m.log_partition("ais", seed=seed)
        row = {"seed": seed, "exact": exact.log_z, "ais": ais.log_z, "ais_stderr": ais.stderr,
               "difference": ais.log_z - exact.log_z, "ais_seconds": time.perf_counter() - t0,
               "ais_setting": ais.detail}
        res["ais_vs_exact"].append(row)
        print(f"seed {seed}: exact log Z {exact.log_z:.4f}, AIS {ais.log_z:.4f} +- "
              f"{ais.stderr:.4f} ({ais.detail}), difference {row['difference']:+.4f}")

    # 3. larger models with AIS --------------------------------------------------------------
    res["n_hidden_ais"] = []
    for H in ([20, 100] if args.quick else [20, 50, 100, 200, 400]):
        m, _, s = genlearn_run(Xtr, Xte, n_hidden=H, seed=0, batch_size=20)
        ais = m.log_partition("ais", n_chains=200)
        ll_ais = float(np.mean(m.log_prob(Xte, method="ais", n_chains=200)))
        res["n_hidden_ais"].append({"n_hidden": H, "test_ll_ais": ll_ais, "log_z": ais.log_z,
                                    "log_z_stderr": ais.stderr, "fit_seconds": s})
        print(f"n_hidden {H:4d}: AIS test log-likelihood {ll_ais:8.3f} (log Z se "
              f"{ais.stderr:.3f}; fit {s:.1f} s)")
    best = max(res["n_hidden_ais"], key=lambda r: r["test_ll_ais"])
    res["best_n_hidden_ais"] = best["n_hidden"]


def epoch_time(res: dict, Xtr) -> None:
    """4. epoch time at the same batch size, interleaved."""
    res["epoch_seconds"] = []
    for bs in (10, 20, 100):
        gl_t, sk_t = [], []
        for _ in range(3):
            t0 = time.perf_counter()
            BernoulliRBM(n_components=20, batch_size=bs, n_iter=20, random_state=0).fit(Xtr)
            sk_t.append((time.perf_counter() - t0) / 20)
            t0 = time.perf_counter()
            gl.RBM(n_hidden=20, batch_size=bs, n_chains=bs, epochs=20, verbose=False,
                   device="cpu").fit(Xtr)
            gl_t.append((time.perf_counter() - t0) / 20)
        row = {"batch_size": bs, "genlearn_ms": 1e3 * float(np.median(gl_t)),
               "sklearn_ms": 1e3 * float(np.median(sk_t))}
        res["epoch_seconds"].append(row)
        print(f"batch {bs:3d}: ms per epoch genlearn {row['genlearn_ms']:.2f}, sklearn "
              f"{row['sklearn_ms']:.2f} (median of 3 interleaved runs of 20 epochs)")


if __name__ == "__main__":
    main()
