"""Sampling speed with and without the key/value cache (issue 11: >= 5x at 512 tokens on CPU).

A Transformer of the text benchmark's shape (4 layers, 128 wide, 4 heads) with a 512-token
window draws 512 tokens after BOS, once with the cache (one new token per forward pass) and
once recomputing the whole context every step; both runs use the same seed and must draw the
same tokens. Random weights suffice: the cost does not depend on them. Timed as wall-clock and
as process CPU time (the machine is shared), alternating the two modes.

    python benchmarks/text_kv_cache.py [--tokens 512] [--repeats 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--n", type=int, nargs="+", default=[1, 8], help="draws per call")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "text_kv_cache.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    import genlearn as gl

    load0 = os.getloadavg()
    model = gl.Transformer(n_layer=4, n_head=4, n_embd=128, block_size=args.tokens,
                           end_symbol=False, epochs=1, val_fraction=0.0, device="cpu", seed=0,
                           verbose=False, threads=args.threads)
    rng = np.random.default_rng(0)
    model.fit([rng.integers(0, 65, size=64) for _ in range(4)])  # builds the network
    result = {"tokens": args.tokens, "threads": args.threads, "load_before": load0,
              "by_n": {}}
    for n in args.n:
        times = {True: [], False: []}
        draws = {}
        for _ in range(args.repeats):
            for cached in (True, False):
                t0, c0 = time.perf_counter(), time.process_time()
                draws[cached] = model.sample(n, args.tokens, seed=1, use_cache=cached)
                times[cached].append((time.perf_counter() - t0, time.process_time() - c0))
                print(f"n={n} cache={cached}: {times[cached][-1][0]:.2f} s wall, "
                      f"{times[cached][-1][1]:.2f} s CPU", flush=True)
        assert all(np.array_equal(a, b) for a, b in zip(draws[True], draws[False], strict=True))
        best = {k: (min(w for w, _ in v), min(c for _, c in v)) for k, v in times.items()}
        toks = n * args.tokens
        result["by_n"][n] = {
            "cached_tokens_per_s_wall": toks / best[True][0],
            "uncached_tokens_per_s_wall": toks / best[False][0],
            "cached_tokens_per_s_cpu": toks / best[True][1],
            "uncached_tokens_per_s_cpu": toks / best[False][1],
            "speedup_wall": best[False][0] / best[True][0],
            "speedup_cpu": best[False][1] / best[True][1],
            "runs": {str(k): v for k, v in times.items()}}
    result["load_after"] = os.getloadavg()
    for n, r in result["by_n"].items():
        print(f"n={n}: cached {r['cached_tokens_per_s_cpu']:.0f} tok/s, uncached "
              f"{r['uncached_tokens_per_s_cpu']:.0f} tok/s (CPU time): {r['speedup_cpu']:.1f}x; "
              f"wall {r['speedup_wall']:.1f}x")
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
