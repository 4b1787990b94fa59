"""Held-out log-likelihood of the VAE on binarized digits (threshold 0.5, 80/20 split, seed 0).

Prints and records (benchmarks/results/vae_digits.json) the negative log-likelihood in nats per
image (importance-weighted, k=1000) and the training time, for the library defaults and for the
recommended configuration, beside two exact references computed in the same run: independent
pixels (a Bernoulli per pixel) and scikit-learn's 20-unit BernoulliRBM with its partition
function summed exactly over the 2^20 hidden states.

    python benchmarks/vae_digits.py [--seeds 0 1 2] [--quick]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from scipy.special import logsumexp

import genlearn as gl

CONFIGS = {
    "default": {},
    # what `make demo` and examples/vae_digits.py use
    "recommended": dict(prior="mog", objective="iwae", train_samples=10, weight_decay=1e-4),
}


def independent_pixels_nll(train, test) -> float:
    p = (train.sum(0) + 1.0) / (len(train) + 2.0)  # Laplace-smoothed pixel means
    lp = test @ np.log(p) + (1 - test) @ np.log1p(-p)
    return float(-lp.mean())


def sklearn_rbm_nll(train, test, seed: int) -> tuple[float, float]:
    """Exact held-out NLL of scikit-learn's BernoulliRBM (20 hidden units, its defaults)."""
    from sklearn.neural_network import BernoulliRBM

    t0 = time.perf_counter()
    rbm = BernoulliRBM(n_components=20, learning_rate=0.06, batch_size=10, n_iter=100,
                       random_state=seed).fit(train)
    seconds = time.perf_counter() - t0
    W, b, c = rbm.components_, rbm.intercept_visible_, rbm.intercept_hidden_
    # log Z = log sum_h exp(c.h) prod_j (1 + exp(b_j + W_j.h)), over all 2^20 hidden states
    H = ((np.arange(2**20)[:, None] >> np.arange(20)) & 1).astype(np.float64)
    log_z = -np.inf
    for start in range(0, len(H), 1 << 16):
        h = H[start:start + (1 << 16)]
        terms = h @ c + np.logaddexp(0, h @ W + b).sum(1)
        log_z = np.logaddexp(log_z, logsumexp(terms))
    free = -(test @ b) - np.logaddexp(0, test @ W.T + c).sum(1)
    return float((free + log_z).mean()), seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--k", type=int, default=1000)
    ap.add_argument("--quick", action="store_true", help="10 epochs, k=50: a smoke run")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "vae_digits.json"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    train, test = gl.datasets.load("digits", binarize=True, split=0.8, seed=0)
    rows = []
    ref = {"independent_pixels_nll": independent_pixels_nll(train.X, test.X)}
    ref["sklearn_rbm20_nll"], ref["sklearn_rbm20_train_s"] = sklearn_rbm_nll(train.X, test.X, 0)
    print(f"independent pixels: {ref['independent_pixels_nll']:.2f} nats")
    print(f"scikit-learn BernoulliRBM(20), exact log Z: {ref['sklearn_rbm20_nll']:.2f} nats "
          f"({ref['sklearn_rbm20_train_s']:.1f} s)")
    k = 50 if args.quick else args.k
    for name, cfg in CONFIGS.items():
        for seed in args.seeds:
            extra = {"epochs": 10} if args.quick else {}
            model = gl.VAE(seed=seed, verbose=False, device="cpu", **cfg, **extra)
            t0 = time.perf_counter()
            model.fit(train.X)
            seconds = time.perf_counter() - t0
            t1 = time.perf_counter()
            nll = -model.score(test.X) if k == model.iw_samples else -model.log_prob(
                test.X, k=k).mean()
            eval_s = time.perf_counter() - t1
            elbo = float(-model.elbo(test.X).mean())
            row = {"config": name, "seed": seed, "nll": float(nll), "neg_elbo": elbo, "k": k,
                   "train_s": seconds, "eval_s": eval_s, "epochs": model.epochs_trained_,
                   "params": {key: list(v) if isinstance(v, tuple) else v
                              for key, v in cfg.items()}}
            rows.append(row)
            print(f"VAE {name:<12} seed {seed}: NLL {nll:.3f} nats (IWAE k={k}), -ELBO "
                  f"{elbo:.3f}, train {seconds:.1f} s, eval {eval_s:.1f} s", flush=True)
    for name in CONFIGS:
        vals = [r["nll"] for r in rows if r["config"] == name]
        if len(vals) > 1:
            print(f"VAE {name:<12} mean NLL {np.mean(vals):.3f} +- "
                  f"{np.std(vals, ddof=1) / np.sqrt(len(vals)):.3f} over {len(vals)} seeds")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"reference": ref, "runs": rows, "torch_threads":
                               torch.get_num_threads()}, indent=2) + "\n")
    print(f"recorded in {out}")


if __name__ == "__main__":
    main()
