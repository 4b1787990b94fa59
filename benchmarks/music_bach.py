"""Bach chorales of the music21 corpus (the `genlearn music` default): train one model, then
the held-out NLL per step and the statistics of generated chorales against held-out ones.

    python benchmarks/music_bach.py --model rnnnade --max-time 1500

Quarter-note steps, transposed to C major / A minor, the seeded split by piece (seed 0).
Writes benchmarks/results/bach_<model>.json and the run to runs/bench_bach_<model>.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

from genlearn.music import app


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", required=True, choices=tuple(app.MODELS))
    ap.add_argument("--max-time", type=float, default=1500.0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    params = {}
    if args.model in ("rnnrbm", "rnnnade", "lstm"):
        params = {"max_time": args.max_time, "epochs": 300, "seed": 0, "threads": 1}
    out = args.out or f"runs/bench_bach_{args.model}"
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    t0, c0 = time.time(), time.process_time()
    report = app.train("bach", args.model, out, **params)
    train_cpu = time.process_time() - c0
    res = app.evaluate(out, seed=0)
    result = {**report, **res, "seconds_total": round(time.time() - t0, 1),
              "train_cpu_seconds": round(train_cpu, 1),
              "cpu_seconds_total": round(time.process_time() - c0, 1),
              "load_before": load_before,
              "load_after": " ".join(f"{x:.2f}" for x in os.getloadavg()),
              "command": "python benchmarks/music_bach.py " + " ".join(sys.argv[1:])}
    path = Path(__file__).resolve().parent / "results" / f"bach_{args.model}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
