"""MOSES metrics of a trained molecule generator, and its sampling speed (issue 12).

    .venv/bin/python benchmarks/moses_eval.py runs/moses_rnn_selfies -n 30000 --ref-size 30000

Draws ``-n`` molecules (timed: valid molecules per second), scores them with
``genlearn.metrics.molecules.moses_metrics`` against a random ``--ref-size`` subset of the MOSES
test set (the full 176,074 when 0; ChemNet on CPU makes the full set slow, and the reference
size changes FCD a little: say which was used), novelty against the run's training molecules.
``--copier`` scores ``-n`` random *training* molecules instead (the floor a perfect copier
reaches at that size). Reference statistics are cached in runs/ as .npz + JSON (no pickle).
Writes benchmarks/results/moses_eval_<tag>.json with the load (os.getloadavg) and threads.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

import genlearn.molecules as glm
from genlearn.metrics import molecules as mm
from genlearn.molecules.generator import MoleculeGenerator

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ROOT = Path(__file__).resolve().parents[1]


def reference(size: int, seed: int, wait: bool = False) -> mm.ReferenceStats:
    cache = ROOT / "runs" / f"moses_ref_{size}_{seed}"
    while wait and not (cache / "ref.json").is_file():  # another process is computing it
        time.sleep(10)
    if (cache / "ref.npz").is_file():
        ref = mm.ReferenceStats.__new__(mm.ReferenceStats)
        z = np.load(cache / "ref.npz")
        meta = json.loads((cache / "ref.json").read_text())
        ref.fps, ref.chemnet = z["fps"], (z["mu"], z["sigma"])
        ref.props = {k: z[f"prop_{k}"] for k in mm.MOSES_PROPERTIES}
        ref.frag, ref.scaf = Counter(meta["frag"]), Counter(meta["scaf"])
        ref.canonical, ref.n_invalid = meta["canonical"], meta["n_invalid"]
        return ref
    test = glm.read_smiles(DATA / "moses_test.csv.gz", subset_n=size or None, seed=seed)
    t = time.time()
    ref = mm.ReferenceStats(test)
    print(f"reference statistics of {len(test)} test molecules: {time.time() - t:.0f} s",
          flush=True)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(cache / "ref.npz", fps=ref.fps, mu=ref.chemnet[0], sigma=ref.chemnet[1],
             **{f"prop_{k}": v for k, v in ref.props.items()})
    (cache / "ref.json").write_text(json.dumps({"frag": ref.frag, "scaf": ref.scaf,
                                                "canonical": ref.canonical,
                                                "n_invalid": ref.n_invalid}))
    return ref


def structure(smiles, limit=2000) -> dict:
    """Means over the first ``limit`` valid molecules: heavy atoms, rings, fully aromatic
    rings, the share with a ring of 8+ atoms (MOSES's filters reject those) and the share
    passing the filters: where samples and training molecules differ, and why filters fail."""
    from genlearn.molecules._chem import chem

    Chem = chem()
    mols = [m for m in (Chem.MolFromSmiles(s) for s in smiles if s) if m is not None][:limit]
    rings = [m.GetRingInfo().AtomRings() for m in mols]
    return {"n": len(mols),
            "atoms": float(np.mean([m.GetNumAtoms() for m in mols])),
            "rings": float(np.mean([len(r) for r in rings])),
            "aromatic_rings": float(np.mean([
                sum(all(m.GetAtomWithIdx(i).GetIsAromatic() for i in ring) for ring in r)
                for m, r in zip(mols, rings, strict=True)])),
            "ring_8_or_more": float(np.mean([any(len(x) >= 8 for x in r) for r in rings])),
            "filters": float(np.mean([mm.passes_filters(m) for m in mols]))}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", nargs="?")
    ap.add_argument("-n", type=int, default=30000)
    ap.add_argument("--ref-size", type=int, default=30000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sample-seed", type=int, default=None, help="the sampling seed alone "
                    "(default: --seed), against --seed's reference: FCD's draw-to-draw noise")
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--top-p", type=float, default=None, help="nucleus sampling (rnn, "
                    "transformer)")
    ap.add_argument("--copier", action="store_true")
    ap.add_argument("--precision", choices=("float32", "bf16"), default="float32",
                    help="sampling precision (bf16: the RNN's products in bfloat16)")
    ap.add_argument("--ref-intdiv", action="store_true", help="also the reference (test) "
                    "set's own IntDiv / IntDiv2, the figure a model's IntDiv is compared with")
    ap.add_argument("--no-fcd", action="store_true")
    ap.add_argument("--tag", default=None)
    ap.add_argument("--wait-ref", action="store_true", help="wait for the cached reference "
                    "statistics that another run is computing")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    load0 = os.getloadavg()
    rec = {"n": args.n, "seed": args.seed, "sample_seed": args.sample_seed,
           "ref_size": args.ref_size, "threads": args.threads, "temperature": args.temperature,
           "top_p": args.top_p, "load_before": load0}
    if args.copier:
        draws = glm.read_smiles(DATA / "moses_train.csv.gz", subset_n=args.n, seed=args.seed + 1)
        train = None
        tag = args.tag or "copier"
    else:
        gen = MoleculeGenerator.load(args.run)
        t = time.time()
        seed = args.seed if args.sample_seed is None else args.sample_seed
        draws = gen.sample(args.n, seed=seed, temperature=args.temperature,
                           top_p=args.top_p, precision=args.precision)
        dt = time.time() - t
        n_valid = sum(d is not None for d in draws)
        rec.update(run=args.run, model=gen.model, repr=gen.representation,
                   precision=args.precision,
                   sample_s=dt, valid_per_s=n_valid / dt, load_during_sampling=os.getloadavg())
        print(f"sampled {args.n} in {dt:.0f} s: {n_valid / dt:.0f} valid molecules/s",
              flush=True)
        train = gen.train_smiles_
        tag = args.tag or Path(args.run).name
    ref = reference(args.ref_size, args.seed, args.wait_ref)
    if args.ref_intdiv:
        rec["reference_intdiv"] = {"IntDiv": mm.internal_diversity(ref.fps, 1),
                                   "IntDiv2": mm.internal_diversity(ref.fps, 2),
                                   "n": int(len(ref.fps))}
        print("reference set:", rec["reference_intdiv"], flush=True)
    t = time.time()
    m = mm.moses_metrics(draws, ref, train=train, fcd=not args.no_fcd)
    rec["structure"] = {"samples": structure(draws)}
    if train:
        rec["structure"]["training"] = structure(train)
    print("structure (first 2,000 valid):", json.dumps(rec["structure"]), flush=True)
    rec.update(metrics=m, metrics_s=time.time() - t, load_after=os.getloadavg())
    for k, v in m.items():
        print(f"  {k:<14} {v:.4f}" if isinstance(v, float) else f"  {k:<14} {v}", flush=True)
    out = ROOT / "benchmarks" / "results" / f"moses_eval_{tag}.json"
    out.write_text(json.dumps(rec, indent=2) + "\n")
    print(f"wrote {out}", flush=True)


if __name__ == "__main__":
    main()
