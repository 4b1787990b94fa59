"""Training time of the default VAE on the binarized digits with 1 and with 2 torch threads.

Issue 10 defect 12: torch's default of one thread per core made small models 5-10x slower on a
busy machine. genlearn's policy (``genlearn._threads``) picks one thread for small work; this
script measures what that choice is worth. Each repetition trains ``gl.VAE(epochs=30)`` (the
defaults otherwise, seed 0, CPU) once with ``threads=1`` and once with ``threads=2``,
alternating so both see the same load; the load average (``os.getloadavg``) is recorded before
and after each run. ``--busy N`` adds N busy-looping processes for a loaded figure on a quiet
machine.

    python benchmarks/threads.py [--reps 2] [--epochs 30] [--busy 0]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import time
from pathlib import Path

import torch

import genlearn as gl


def _spin() -> None:  # pragma: no cover - a load generator
    while True:
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--busy", type=int, default=0, help="busy-looping processes to add")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "threads.json"))
    args = ap.parse_args()
    train, _ = gl.datasets.load("digits", binarize=True, split=0.8, seed=0)
    spinners = [mp.Process(target=_spin, daemon=True) for _ in range(args.busy)]
    for p in spinners:
        p.start()
    runs = []
    try:
        for rep in range(args.reps):
            for threads in (1, 2):
                load_before = os.getloadavg()[0]
                t0 = time.perf_counter()
                model = gl.VAE(epochs=args.epochs, threads=threads, device="cpu", verbose=False,
                               seed=0).fit(train.X)
                seconds = time.perf_counter() - t0
                runs.append({"rep": rep, "threads": threads, "seconds": seconds,
                             "load_before": load_before, "load_after": os.getloadavg()[0],
                             "final_elbo": model.history_[-1]["elbo"]})
                print(f"rep {rep} threads {threads}: {seconds:.1f} s (load "
                      f"{load_before:.1f} -> {runs[-1]['load_after']:.1f})", flush=True)
    finally:
        for p in spinners:
            p.terminate()
    out = {"command": "python benchmarks/threads.py " + " ".join(
               f"--{k} {v}" for k, v in vars(args).items() if k != "out"),
           "cpu_count": os.cpu_count(), "torch_default_threads": torch.get_num_threads(),
           "policy_threads_for_this_model": 1, "runs": runs}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
