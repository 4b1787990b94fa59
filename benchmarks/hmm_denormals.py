"""One EM iteration of a trained molecule HMM with and without denormals flushed to zero.

EM drives an HMM's transition probabilities towards zero; the scaled forward-backward then
multiplies denormal floats, which x86 CPUs handle in microcode. ``genlearn.ops.hmm`` runs its
recursions under :func:`~genlearn.ops.hmm.flush_denormals`; this script switches that off for
the "without" runs (by making ``torch.set_flush_denormal`` a no-op), alternating, from the same
parameters, and checks that the log-likelihoods agree.

    .venv/bin/python benchmarks/hmm_denormals.py runs/moses_hmm200_smiles_more --n 10000
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
import torch

import genlearn.molecules as glm
from genlearn.molecules.generator import MoleculeGenerator


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", help="a molecules run whose model is an HMM")
    ap.add_argument("--n", type=int, default=10000, help="training molecules used")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")  # one iteration never converges
    gen = MoleculeGenerator.load(args.run)
    rep = glm.get_repr(gen.representation)
    seqs = [gen.codec.encode(gen.vocab_, rep.tokenize(s)) for s in gen.train_smiles_[:args.n]]
    model = gen.model_
    start = {n: np.array(getattr(model, n + "_")) for n in model._param_names()}
    real = torch.set_flush_denormal
    rec = {"run": args.run, "sequences": len(seqs), "n_states": model.n_states,
           "load_before": os.getloadavg(), "iterations": []}
    try:
        for _ in range(args.repeats):
            for flush in (True, False):
                torch.set_flush_denormal = real if flush else (lambda on: True)
                for name, value in start.items():
                    setattr(model, name + "_", value.copy())
                model.set_params(initialize=(), n_iter=1, tol=-np.inf)
                c0 = time.process_time()
                model.fit(seqs)
                rec["iterations"].append({"flush": flush, "cpu_s": time.process_time() - c0,
                                          "log_likelihood": model.history_[-1]["log_likelihood"]})
                print(rec["iterations"][-1], flush=True)
    finally:
        torch.set_flush_denormal = real
    lls = {it["log_likelihood"] for it in rec["iterations"]}
    rec["same_log_likelihood"] = len(lls) == 1
    rec["load_after"] = os.getloadavg()
    for flush in (True, False):
        rec[f"mean_cpu_s_flush_{flush}"] = float(np.mean(
            [it["cpu_s"] for it in rec["iterations"] if it["flush"] is flush]))
    print(json.dumps({k: v for k, v in rec.items() if k != "iterations"}, default=str))
    out = Path(__file__).resolve().parent / "results" / f"hmm_denormals_{Path(args.run).name}.json"
    out.write_text(json.dumps(rec, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
