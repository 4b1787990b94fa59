"""genlearn's GuacaMol MPO and SMARTS objectives against the ``guacamol`` package's own.

    .venv/bin/pip install --no-deps guacamol==0.5.5     # benchmark only, never a test dependency
    .venv/bin/python benchmarks/guacamol_check.py -n 500

guacamol 0.5.5 imports ``scipy.histogram``, which SciPy removed (guacamol issue #33); the
one-line shim below restores it (numpy's function) before the import. Writes
benchmarks/results/guacamol_check.json: per task, the largest absolute difference between
``genlearn.molecules.objectives.Objective("guacamol:<task>")`` and
``guacamol.standard_benchmarks.<task>().objective.score`` over the same molecules.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import scipy

scipy.histogram = np.histogram  # guacamol #33: scipy.histogram was removed from SciPy

from guacamol import standard_benchmarks as sb  # noqa: E402

import genlearn.molecules as glm  # noqa: E402
from genlearn.molecules.guacamol import GUACAMOL_FACTORIES  # noqa: E402
from genlearn.molecules.objectives import Objective  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=500, help="random MOSES test molecules")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    t0, c0, load0 = time.time(), time.process_time(), os.getloadavg()
    smiles = glm.read_smiles(DATA / "moses_test.csv.gz", subset_n=args.n, seed=args.seed)
    tasks = {}
    for task in GUACAMOL_FACTORIES:
        ours = Objective(f"guacamol:{task}")(smiles)
        fn = getattr(sb, GUACAMOL_FACTORIES[task])().objective
        theirs = np.array([fn.score(s) for s in smiles])
        diff = np.abs(ours - theirs)
        tasks[task] = {"max_abs_diff": float(diff.max()), "mean_score": float(theirs.mean()),
                       "max_score": float(theirs.max()),
                       "worst": smiles[int(diff.argmax())]}
        print(task, tasks[task], flush=True)
    rec = {"command": " ".join(sys.argv), "n": len(smiles), "tasks": tasks,
           "cpu_s": time.process_time() - c0, "wall_s": time.time() - t0,
           "load_before": load0, "load_after": os.getloadavg()}
    out = Path(__file__).resolve().parent / "results" / "guacamol_check.json"
    out.write_text(json.dumps(rec, indent=2) + "\n")


if __name__ == "__main__":
    main()
