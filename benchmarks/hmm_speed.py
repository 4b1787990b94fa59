"""HMM EM speed and parity against hmmlearn, side by side in one run, from identical parameters.

Workloads (issue 3): categorical HMM, 500 sequences x 200 steps over 32 symbols, at 16 / 64 /
128 states; Gaussian HMM with diagonal covariances, 200 sequences x 500 steps x 4 dims, at 8
and 64 states. Both libraries run the same number of EM iterations from the same starting
parameters; the script reports seconds per iteration, the speed-up, and the largest relative
difference between the two per-iteration log-likelihood curves. hmmlearn runs its faster
``implementation="scaling"``. Where pomegranate (1.x) imports, its DenseHMM runs the same
workload and iteration count from the same start (float32, its default; its model also learns
end probabilities, so only its time is comparable, not its log-likelihood).

    python benchmarks/hmm_speed.py [--iters 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from genlearn.models.hmm import HMM


def workload(kind: str, rng):
    if kind == "categorical":
        return [rng.integers(0, 32, size=200) for _ in range(500)]
    return [rng.normal(size=(500, 4)) + rng.integers(0, 4) for _ in range(200)]


def start_params(kind, K, seqs, rng):
    p = {"startprob": rng.dirichlet(np.ones(K)), "transmat": rng.dirichlet(np.ones(K), size=K)}
    if kind == "categorical":
        p["emissionprob"] = rng.dirichlet(np.ones(32), size=K)
    else:
        X = np.concatenate(seqs)
        p["means"] = X[rng.choice(len(X), K, replace=False)]
        p["covars"] = np.tile(X.var(0), (K, 1))
    return p


def run_hmmlearn(kind, K, seqs, params, iters):
    from hmmlearn import hmm

    X = np.concatenate(seqs)
    X = X[:, None] if kind == "categorical" else X
    lengths = [len(s) for s in seqs]
    cls = hmm.CategoricalHMM if kind == "categorical" else hmm.GaussianHMM
    extra = {} if kind == "categorical" else {"covariance_type": "diag"}
    model = cls(n_components=K, n_iter=iters, tol=-np.inf, init_params="",
                implementation="scaling", **extra)
    for name, value in params.items():
        setattr(model, name + "_", value.copy())
    t0 = time.perf_counter()
    model.fit(X, lengths)
    return (time.perf_counter() - t0) / iters, np.array(model.monitor_.history)


def run_genlearn(kind, K, seqs, params, iters, device):
    model = HMM(n_states=K, emission=kind, covariance_type="diag", n_iter=iters, tol=-np.inf,
                initialize=(), verbose=False, device=device)
    for name, value in params.items():
        setattr(model, name + "_", value.copy())
    if kind == "categorical":
        model.n_symbols_ = 32
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.set_params(n_iter=1).fit(seqs)  # warm-up (allocations, kernels)
        for name, value in params.items():
            setattr(model, name + "_", value.copy())
        model.set_params(n_iter=iters)
        t0 = time.perf_counter()
        model.fit(seqs)
    return (time.perf_counter() - t0) / iters, np.array([r["log_likelihood"]
                                                         for r in model.history_])


def run_pomegranate(kind, K, seqs, params, iters):
    try:
        from pomegranate.distributions import Categorical, Normal
        from pomegranate.hmm import DenseHMM
    except ImportError:
        return None
    f32 = np.float32
    if kind == "categorical":
        X = torch.tensor(np.stack(seqs)[..., None])
        dists = [Categorical(probs=p[None, :].astype(f32)) for p in params["emissionprob"]]
    else:
        X = torch.tensor(np.stack(seqs).astype(f32))
        dists = [Normal(means=m.astype(f32), covs=c.astype(f32), covariance_type="diag")
                 for m, c in zip(params["means"], params["covars"], strict=True)]
    model = DenseHMM(dists, edges=params["transmat"].astype(f32),
                     starts=params["startprob"].astype(f32), max_iter=iters, tol=0.0)
    t0 = time.perf_counter()
    model.fit(X)
    return (time.perf_counter() - t0) / iters


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads for genlearn (hmmlearn's kernel is single-threaded)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "hmm_speed.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for kind, states in (("categorical", (16, 64, 128)), ("gaussian", (8, 64))):
        for K in states:
            rng = np.random.default_rng(K)
            seqs = workload(kind, rng)
            params = start_params(kind, K, seqs, rng)
            t_ref, ll_ref = run_hmmlearn(kind, K, seqs, params, args.iters)
            t_ours, ll_ours = run_genlearn(kind, K, seqs, params, args.iters, args.device)
            t_pom = run_pomegranate(kind, K, seqs, params, args.iters)
            rel = float(np.max(np.abs(ll_ours - ll_ref) / np.abs(ll_ref)))
            row = {"emission": kind, "states": K, "iters": args.iters,
                   "hmmlearn_s_per_iter": t_ref, "genlearn_s_per_iter": t_ours,
                   "pomegranate_s_per_iter": t_pom,
                   "speedup": t_ref / t_ours, "max_rel_diff_loglik": rel,
                   "device": args.device, "threads": args.threads}
            rows.append(row)
            pom = f"  pomegranate {t_pom:7.3f} s/iter" if t_pom is not None else ""
            print(f"{kind:<11} K={K:<4} hmmlearn {t_ref:8.3f} s/iter  genlearn {t_ours:8.3f} "
                  f"s/iter  speed-up {t_ref / t_ours:6.1f}x  max rel. diff {rel:.1e}{pom}",
                  flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"recorded in {out}")


if __name__ == "__main__":
    main()
