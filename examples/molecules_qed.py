"""Molecules end to end: train a SELFIES RNN on SMILES, sample, score with MOSES, then steer
toward drug-likeness (QED) with REINVENT on a fixed oracle budget.

    python examples/molecules_qed.py --data ../shared/data/moses_train.csv.gz --subset 20000 \
        --epochs 2 --budget 2000 --out runs/molecules_qed

Without ``--data`` it trains on the 40 molecules listed below (enough to see the pipeline run,
not to learn chemistry). Writes samples.csv, samples.png, best.csv and metrics.json to --out.
"""

import argparse
import json
from pathlib import Path

import genlearn.molecules as glm
from genlearn.metrics.molecules import moses_metrics
from genlearn.molecules.generator import MoleculeGenerator
from genlearn.molecules.objectives import Objective
from genlearn.molecules.reinvent import reinvent

BUILTIN = """CC(=O)Nc1ccc(O)cc1 CC(C)Cc1ccc(C(C)C(=O)O)cc1 CCOC(=O)c1ccccc1 Nc1ccccc1C(=O)O
O=C1CCCN1C1CC1 CN1CCN(c2ccccc2)CC1 COc1ccc(CC(N)=O)cc1 Cc1ccc(S(N)(=O)=O)cc1 OCCN1CCOCC1
CC(C)NCC(O)c1ccc(O)cc1 c1ccc2[nH]ccc2c1 CCN(CC)C(=O)c1ccccc1 O=C(O)c1ccncc1 Clc1ccc(Br)cc1
CC1=CC(=O)c2ccccc2C1=O CCCCc1ccc(O)cc1 COC(=O)C1CCCN1 Fc1ccc(C(=O)N2CCCC2)cc1 CC(=O)OCC
NC(=O)c1cccnc1 CSc1ccc(N)cc1 O=C1NC(=O)c2ccccc21 CC(C)(C)OC(=O)N1CCCC1 Oc1ccc(Cl)cc1Cl
CCOc1ccccc1C(N)=O Cc1ncc(CO)c(C)n1 O=S(=O)(N1CCCC1)c1ccccc1 CN(C)CCc1c[nH]c2ccccc12
COc1ccc2c(c1)CCN2 CC(=O)c1ccc(F)cc1 N#Cc1ccc(N2CCOCC2)cc1 O=C(Nc1ccccc1)c1ccco1
Cc1cc(C)n(-c2ccccc2)n1 OC1CCN(Cc2ccccc2)CC1 CCc1nc2ccccc2[nH]1 O=C(O)CCc1ccccc1
CC(N)Cc1ccccc1 Cn1cnc2c1c(=O)n(C)c(=O)n2C COc1cc(C=O)ccc1O c1ccc(-c2ccncc2)cc1""".split()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="CSV/.smi with a SMILES column (default: 40 built-in)")
    ap.add_argument("--subset", type=int, default=None)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--budget", type=int, default=500, help="QED oracle calls")
    ap.add_argument("--out", default="runs/molecules_qed")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    smiles = glm.read_smiles(args.data, subset_n=args.subset, seed=0) if args.data else BUILTIN
    data = glm.prepare(smiles, "selfies", max_length=100)
    print(data.report())
    gen = MoleculeGenerator(model="rnn", representation="selfies", seed=0, model_params={
        "hidden": args.hidden, "n_layer": 2, "epochs": args.epochs, "batch_size": 32,
        "val_fraction": 0.0, "patience": None}).fit(data)

    draws = gen.sample(args.samples, seed=1)
    valid = [s for s in draws if s]
    (out / "samples.csv").write_text("SMILES\n" + "".join(s + "\n" for s in valid))
    metrics = moses_metrics(draws, data.smiles, train=data.smiles, fcd=False, k=(100,))
    print("MOSES metrics (reference = the training molecules, no FCD):")
    for k, v in metrics.items():
        print(f"  {k:<12} {v:.3f}")

    from rdkit import Chem
    from rdkit.Chem import Draw

    mols = [Chem.MolFromSmiles(s) for s in valid[:12]]
    if mols:
        Draw.MolsToGridImage(mols, molsPerRow=4).save(str(out / "samples.png"))

    objective = Objective("qed")
    before = objective(valid[:200]).max() if valid else 0.0
    res = reinvent(gen, objective, budget=args.budget, batch_size=32, seed=0)
    (out / "best.csv").write_text("SMILES,qed\n" + "".join(
        f"{s},{q:.4f}\n" for s, q in res.top(20)))
    print(f"QED: best of the prior's samples {before:.3f}; after {res.oracle_calls} oracle "
          f"calls of REINVENT top-1 {res.top_mean(1):.3f}, top-10 mean {res.top_mean(10):.3f}")
    (out / "metrics.json").write_text(json.dumps(
        {"moses": metrics, "qed_top10": res.top_mean(10), "oracle_calls": res.oracle_calls},
        indent=2) + "\n")
    print(f"wrote {out}/samples.csv, samples.png, best.csv, metrics.json")


if __name__ == "__main__":
    main()
