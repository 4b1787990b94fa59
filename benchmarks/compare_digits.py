"""`genlearn compare` on the binarized digits: every registered family under one time budget.

Writes the report folder benchmarks/results/compare_digits/ (report.md, results.json, PNGs) and
benchmarks/results/compare_digits.json (the records and settings), and prints the table.

    python benchmarks/compare_digits.py --budget 60s [--models vae,gan,rbm,dbn,hmm]

The same run from the command line:
    genlearn compare --data digits --models vae,gan,rbm,dbn,hmm --budget 60s \
        --out benchmarks/results/compare_digits --force
"""

import argparse
import json
import platform
import time
from pathlib import Path

import torch

import genlearn as gl

HERE = Path(__file__).resolve().parent


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", default="60s")
    ap.add_argument("--models", default=None, help="default: every registered model")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    out = HERE / "results" / "compare_digits"
    t0 = time.perf_counter()
    records = gl.compare("digits", models=args.models, budget=args.budget, out=out, force=True,
                         seed=args.seed, as_frame=False)
    total = time.perf_counter() - t0
    settings = json.loads((out / "results.json").read_text())["settings"]
    settings.update(total_seconds=round(total, 1), torch=torch.__version__,
                    python=platform.python_version(), torch_threads=torch.get_num_threads())
    path = HERE / "results" / "compare_digits.json"
    path.write_text(json.dumps({"settings": settings, "records": records}, indent=2))
    print((out / "report.md").read_text())
    print(f"total {total:.0f} s; wrote {path} and {out}/")


if __name__ == "__main__":
    main()
