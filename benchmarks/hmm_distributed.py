"""HMM Baum-Welch EM with 1 and 2 processes (torch.distributed, gloo on localhost; issue 15).

Each process passes the whole data set, runs the E-step on its shard of the sequences, and the
sufficient statistics are summed with all_reduce (genlearn.models.hmm_em). Every process uses
one torch thread. Reported per process count: wall seconds per EM iteration (the slowest rank)
and CPU seconds per iteration per rank (time.process_time, less sensitive to a busy machine),
and the largest parameter difference from the 1-process fit. Target: >= 1.5x with 2 processes
on an otherwise idle 2-core machine; the machine load (uptime) is recorded beside the figures.

    python benchmarks/hmm_distributed.py [--states 64] [--symbols 100000] [--iters 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from genlearn import distributed
from genlearn.models.hmm import HMM


def make_data(n_symbols: int, vocab: int, seed: int = 0) -> list[np.ndarray]:
    """Sequences of 200-800 symbols, ``n_symbols`` in all."""
    rng = np.random.default_rng(seed)
    seqs, total = [], 0
    while total < n_symbols:
        n = int(min(rng.integers(200, 800), n_symbols - total))
        seqs.append(rng.integers(0, vocab, size=n))
        total += n
    return seqs


def fit_timed(rank, seqs, states, iters):
    m = HMM(n_states=states, n_iter=iters, tol=-np.inf, verbose=False, device="cpu", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        HMM(n_states=states, n_iter=1, tol=-np.inf, verbose=False, device="cpu").fit(
            seqs[:4] if distributed.world_size() == 1 else seqs[:8])  # warm-up
        wall, cpu = time.perf_counter(), time.process_time()
        m.fit(seqs)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"wall_s": wall, "cpu_s": cpu, "transmat": m.transmat_, "emissionprob": m.emissionprob_,
            "log_likelihood": m.history_[-1]["log_likelihood"]}


def load() -> list[float]:
    """The 1, 5 and 15-minute load averages (as uptime prints them)."""
    return [round(x, 2) for x in os.getloadavg()]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--states", type=int, default=64)
    ap.add_argument("--symbols", type=int, default=100_000)
    ap.add_argument("--vocab", type=int, default=50)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" /
                                         "hmm_distributed.json"))
    args = ap.parse_args()
    seqs = make_data(args.symbols, args.vocab)
    rows, ref = [], None
    for nprocs in (1, 2):
        before = load()
        ranks = distributed.spawn_for_test(fit_timed, nprocs, seqs, args.states, args.iters,
                                           timeout_s=3600)
        after = load()
        if ref is None:
            ref = ranks[0]
        diff = max(float(np.max(np.abs(r[k] - ref[k]))) for r in ranks
                   for k in ("transmat", "emissionprob"))
        row = {"processes": nprocs, "states": args.states, "symbols": args.symbols,
               "sequences": len(seqs), "iters": args.iters,
               "wall_s_per_iter": max(r["wall_s"] for r in ranks) / args.iters,
               "cpu_s_per_iter_per_rank": [r["cpu_s"] / args.iters for r in ranks],
               "max_abs_param_diff_vs_1_process": diff,
               "log_likelihood": ranks[0]["log_likelihood"],
               "loadavg_before": before, "loadavg_after": after}
        rows.append(row)
        print(f"{nprocs} process(es): {row['wall_s_per_iter']:.3f} s/iter wall, CPU per rank "
              f"{[round(c, 3) for c in row['cpu_s_per_iter_per_rank']]} s/iter, max param diff "
              f"{diff:.1e}  (load {before} -> {after})", flush=True)
    speed = rows[0]["wall_s_per_iter"] / rows[1]["wall_s_per_iter"]
    cpu_speed = rows[0]["cpu_s_per_iter_per_rank"][0] / max(rows[1]["cpu_s_per_iter_per_rank"])
    print(f"speed-up with 2 processes: {speed:.2f}x wall, {cpu_speed:.2f}x by CPU time per rank")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "speedup_wall": speed, "speedup_cpu": cpu_speed,
                               "cores": os.cpu_count(), "torch": torch.__version__,
                               "python": platform.python_version()}, indent=2) + "\n")
    print(f"recorded in {out}")


if __name__ == "__main__":
    main()
