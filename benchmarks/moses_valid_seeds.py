"""Validity of a molecule run over several sampling seeds (issue 12: is a validity difference
bigger than the draw-to-draw noise?).

    .venv/bin/python benchmarks/moses_valid_seeds.py runs/moses_hmm300_split \
        runs/moses_hmm200_smiles_more --seeds 1 2 3 4 5

For each run and seed: ``n`` draws at temperature 1 (MOSES's protocol), the share that decode
to a valid molecule (``moses_eval.py``'s "valid"), and per run the mean and standard deviation
over the seeds. Writes ``benchmarks/results/moses_valid_seeds.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from genlearn.molecules.generator import MoleculeGenerator


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+")
    ap.add_argument("-n", type=int, default=30000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    args = ap.parse_args(argv)
    out = {"n": args.n, "seeds": args.seeds, "load_before": os.getloadavg(), "runs": {}}
    for run in args.runs:
        gen = MoleculeGenerator.load(run)
        valid = []
        for seed in args.seeds:
            t = time.time()
            draws = gen.sample(args.n, seed=seed)
            valid.append(sum(d is not None for d in draws) / args.n)
            print(f"{run} seed {seed}: valid {valid[-1]:.4f} ({time.time() - t:.0f} s)",
                  flush=True)
        out["runs"][run] = {"valid": valid, "mean": float(np.mean(valid)),
                            "sd": float(np.std(valid, ddof=1)) if len(valid) > 1 else None}
        print(f"{run}: mean {np.mean(valid):.4f}", flush=True)
    out["load_after"] = os.getloadavg()
    res = Path(__file__).resolve().parent / "results" / "moses_valid_seeds.json"
    res.write_text(json.dumps(out, indent=1) + "\n")
    print("wrote", res)


if __name__ == "__main__":
    main()
