"""genlearn's MOSES metrics against MOSES's own code on the same samples (issue 12).

    pip install --no-deps --target /tmp/moses molsets fcd_torch
    PYTHONPATH=/tmp/moses .venv/bin/python benchmarks/moses_check.py runs/moses_ngram_smiles

``molsets`` 0.3.1 does not install with its dependencies on Python 3.11 (its pinned pomegranate
does not build); with ``--no-deps`` it imports after two shims set here (moses issues #107 and
#108): ``rdkit.six`` (gone from RDKit) for its SA scorer, and ``DataFrame.append`` (gone from
pandas 2) for its filter table. Draws ``-n`` molecules from the run (or takes random training
molecules with ``--copier``), scores them with both implementations against ``--ref-size``
random test molecules, and writes benchmarks/results/moses_check.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import types
import warnings
from pathlib import Path

import torch

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ROOT = Path(__file__).resolve().parents[1]


def _shims() -> None:
    six = types.ModuleType("rdkit.six")
    six.iteritems = lambda d: iter(d.items())
    six.PY3 = True
    sys.modules["rdkit.six"] = six
    import pandas as pd

    if not hasattr(pd.DataFrame, "append"):
        pd.DataFrame.append = lambda self, other, sort=False: pd.concat([self, other],
                                                                        sort=sort)


def moses_reference(gen, test, train):
    """MOSES's own functions, called as its get_all_metrics calls them."""
    _shims()
    import moses.metrics.metrics as M
    from fcd_torch import FCD

    out = {"valid": M.fraction_valid(gen)}
    valid = M.remove_invalid(gen, canonize=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["unique@1000"] = M.fraction_unique(valid, 1000)
    mols = [M.get_mol(s) for s in valid]
    test_mols = [M.get_mol(s) for s in test]
    out["FCD/Test"] = float(FCD(device="cpu", n_jobs=1)(gen=valid, ref=test))
    out["SNN/Test"] = M.SNNMetric()(gen=mols, ref=test_mols)
    out["Frag/Test"] = M.FragMetric()(gen=mols, ref=test_mols)
    out["Scaf/Test"] = M.ScafMetric()(gen=mols, ref=test_mols)
    out["IntDiv"] = M.internal_diversity(mols)
    out["IntDiv2"] = M.internal_diversity(mols, p=2)
    out["Filters"] = M.fraction_passes_filters(mols)
    for name, fn in (("logP", M.logP), ("SA", M.SA), ("QED", M.QED), ("weight", M.weight)):
        out[name] = M.WassersteinMetric(fn)(gen=mols, ref=test_mols)
    out["Novelty"] = M.novelty(mols, train)
    return {k: float(v) for k, v in out.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", nargs="?")
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("--ref-size", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    import genlearn.molecules as glm
    from genlearn.metrics.molecules import canonical_valid, moses_metrics
    from genlearn.molecules.generator import MoleculeGenerator

    test = glm.read_smiles(DATA / "moses_test.csv.gz", subset_n=args.ref_size, seed=args.seed)
    if args.run:
        g = MoleculeGenerator.load(args.run)
        gen = [s if s else "" for s in g.sample(args.n, seed=args.seed)]
        # MOSES's novelty compares with canonical training SMILES, as ours does
        train = canonical_valid(g.train_smiles_)
    else:
        gen = glm.read_smiles(DATA / "moses_train.csv.gz", subset_n=args.n, seed=args.seed + 1)
        train = canonical_valid(glm.read_smiles(DATA / "moses_train.csv.gz", subset_n=20000,
                                                seed=args.seed + 2))
    ours = moses_metrics(gen, test, train=train, k=(1000,))
    theirs = moses_reference(gen, test, train)
    rows = {k: {"genlearn": ours[k], "moses": theirs[k],
                "abs_diff": abs(ours[k] - theirs[k])} for k in theirs}
    for k, r in rows.items():
        print(f"{k:<12} genlearn {r['genlearn']:.6f}  moses {r['moses']:.6f}  "
              f"|diff| {r['abs_diff']:.2e}", flush=True)
    out = ROOT / "benchmarks" / "results" / "moses_check.json"
    out.write_text(json.dumps({"run": args.run, "n": args.n, "ref_size": args.ref_size,
                               "rows": rows}, indent=2, default=float) + "\n")
    print(f"wrote {out}; largest |diff| {max(r['abs_diff'] for r in rows.values()):.2e}")


if __name__ == "__main__":
    main()
