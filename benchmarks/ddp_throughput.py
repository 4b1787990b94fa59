"""VAE on MNIST with 1 and 2 processes (data-parallel fit, gloo on localhost; issue 15).

Every process passes the same MNIST rows; each global mini-batch is split across the processes
and the gradients are averaged before every optimizer step (genlearn.training.distributed_fit).
Every process uses one torch thread; a 1-process run with 2 threads is the fair one-process
comparison on a 2-core machine. Reported per configuration: training samples per second (rows
per epoch / the mean epoch time after the first, slowest rank), CPU seconds per epoch per rank,
and whether every rank ended with the same weights. The machine load (uptime) goes beside them.

    python benchmarks/ddp_throughput.py [--rows 20000] [--epochs 3] [--configs 1x1,2x1,1x2]
                                        [--step-costs]

MNIST comes from /work/shared/data/mnist.pkl.gz (a trusted file: the one place pickle is read).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import pickle
import platform
import time
from pathlib import Path

import numpy as np
import torch

from genlearn import distributed
from genlearn.models.vae import VAE

MNIST = Path("/work/shared/data/mnist.pkl.gz")


def load_mnist(rows: int) -> np.ndarray:
    with gzip.open(MNIST) as f:
        (x, _), _, _ = pickle.load(f, encoding="latin1")  # trusted file (see docstring)
    return (x[:rows] > 0.5).astype(np.float32)  # binarized, as the VAE benchmarks do


def fit_timed(rank, rows, epochs, batch_size, threads):
    torch.set_num_threads(threads)
    X = load_mnist(rows)
    m = VAE(latent_dim=16, hidden=(256, 256), epochs=epochs, batch_size=batch_size, seed=0,
            device="cpu", verbose=False, threads=threads)
    cpu = time.process_time()
    m.fit(X)
    cpu = time.process_time() - cpu
    times = [r["time"] for r in m.history_]
    weights = torch.cat([p.detach().reshape(-1) for p in m.net_.parameters()]).numpy()
    return {"epoch_s": times, "cpu_s_per_epoch": cpu / epochs, "loss": m.history_[-1]["loss"],
            "weights_digest": distributed.fingerprint(weights)}


def step_costs(rows: int, batch_size: int, nprocs: int) -> dict:
    """CPU ms of one training step at ``batch_size`` and at ``batch_size / nprocs`` rows (one
    process, one thread), and of one all-reduce of the gradients in ``nprocs`` gloo processes:
    the fixed per-step cost that data parallelism does not divide, and the best speed-up N idle
    cores could give, step(b) / (step(b / N) + all-reduce)."""
    torch.set_num_threads(1)
    X = load_mnist(min(rows, 2000))
    out = {}
    for b in (batch_size, batch_size // nprocs):
        m = VAE(latent_dim=16, hidden=(256, 256), epochs=1, batch_size=b, seed=0, device="cpu",
                verbose=False, threads=1, early_stopping=False).fit(X[:b])
        data = m._check_data(X, None, continuing=True)
        plan = m._plan(data, 1, torch.Generator().manual_seed(0))
        idx = torch.arange(b)
        for _ in range(5):
            m._train_step(plan.data, idx, 0)
        t = time.process_time()
        for _ in range(100):
            m._train_step(plan.data, idx, 0)
        out[f"step_cpu_ms_batch_{b}"] = (time.process_time() - t) / 100 * 1e3
    n_grad = sum(p.numel() for p in m.net_.parameters())
    ar = distributed.spawn_for_test(_allreduce_cpu_ms, nprocs, n_grad, timeout_s=300)
    out["allreduce_cpu_ms"] = max(ar)
    out["gradient_numbers"] = n_grad
    small = out[f"step_cpu_ms_batch_{batch_size // nprocs}"]
    out["best_speedup_on_idle_cores"] = out[f"step_cpu_ms_batch_{batch_size}"] / (
        small + out["allreduce_cpu_ms"])
    return out


def _allreduce_cpu_ms(rank, n):
    torch.set_num_threads(1)
    g = torch.randn(n)
    for _ in range(5):
        torch.distributed.all_reduce(g)
    t = time.process_time()
    for _ in range(50):
        torch.distributed.all_reduce(g)
    return (time.process_time() - t) / 50 * 1e3


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--configs", default="1x1,2x1,1x2",
                    help="processes x threads per process, comma-separated")
    ap.add_argument("--out", default="benchmarks/results/ddp_throughput.json")
    ap.add_argument("--step-costs", action="store_true",
                    help="also measure the CPU cost of one step at batch b and b/N and of one "
                         "all-reduce (why N processes give what they give)")
    args = ap.parse_args()
    costs = None
    if args.step_costs:
        costs = step_costs(args.rows, args.batch_size, 2)
        costs["load"] = load()
        print("step costs (CPU ms):", json.dumps({k: round(v, 3) if isinstance(v, float) else v
                                                   for k, v in costs.items()}), flush=True)
    runs = []
    for nprocs, threads in (map(int, c.split("x")) for c in args.configs.split(",")):
        before = load()
        res = distributed.spawn_for_test(fit_timed, nprocs, args.rows, args.epochs,
                                         args.batch_size, threads, timeout_s=1800)
        # epochs after the first (warm-up); the slowest rank sets the pace
        epoch_s = max(float(np.mean(r["epoch_s"][1:] or r["epoch_s"])) for r in res)
        run = {"processes": nprocs, "threads_per_process": threads,
               "samples_per_s": args.rows / epoch_s, "epoch_s": epoch_s,
               "cpu_s_per_epoch_per_rank": [r["cpu_s_per_epoch"] for r in res],
               "final_loss": res[0]["loss"],
               "same_weights_on_every_rank": len({r["weights_digest"] for r in res}) == 1,
               "load_before": before, "load_after": load()}
        runs.append(run)
        print(f"{nprocs} process(es) x {threads} thread(s): {run['samples_per_s']:.0f} "
              f"samples/s ({epoch_s:.2f} s/epoch), CPU {run['cpu_s_per_epoch_per_rank']} "
              f"s/epoch/rank, same weights: {run['same_weights_on_every_rank']}, load "
              f"{before} -> {run['load_after']}", flush=True)
    out = {"rows": args.rows, "epochs": args.epochs, "batch_size": args.batch_size,
           "cpus": os.cpu_count(), "torch": torch.__version__, "machine": platform.machine(),
           "runs": runs, "step_costs": costs}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
