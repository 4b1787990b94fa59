"""Sequence VAE on MOSES molecules and latent-space optimisation (issue 12, helper M2).

    # train: a random MOSES subset as SELFIES, epochs until the CPU budget is spent
    .venv/bin/python benchmarks/moses_latent.py train --subset 50000 --out runs/moses_seqvae \
        --cpu-budget 1800
    # optimise QED in its latent space with a fixed oracle budget
    .venv/bin/python benchmarks/moses_latent.py optimize runs/moses_seqvae --objective qed \
        --budget 5000

One torch thread. Each writes benchmarks/results/moses_latent_<what>.json with the exact
arguments, CPU time (``time.process_time``), wall time and the load average before/after.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

import genlearn.molecules as glm
from genlearn.molecules.generator import MoleculeGenerator
from genlearn.molecules.latent import LatentSpace, latent_optimize

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results"


def _write(name: str, rec: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / name).write_text(json.dumps(rec, indent=2, default=str) + "\n")


def train(args) -> dict:
    load0, t0, c0 = os.getloadavg(), time.time(), time.process_time()
    smiles = glm.read_smiles(args.data, subset_n=args.subset, seed=args.seed)
    data = glm.prepare(smiles, "selfies", max_length=args.max_length, strip_salts=False,
                       neutralize=False)
    prep = {"wall_s": time.time() - t0, "cpu_s": time.process_time() - c0,
            "report": data.report()}
    print(prep, flush=True)
    params = {k: json.loads(v) for k, v in (p.split("=", 1) for p in args.param)}
    gen = MoleculeGenerator(model="seqvae", representation="selfies",
                            max_length=args.max_length,
                            model_params={**params, "epochs": 1}, seed=args.seed)
    c1, t1 = time.process_time(), time.time()
    epochs = []
    # --bf16: CPU bfloat16 autocast while training (1.5x per thread on this Xeon for the
    # default net, measured); the weights and the checkpoint stay float32
    amp = lambda: torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16)  # noqa: E731
    with amp():
        gen.fit(data)
    seqs = [gen.codec.encode(gen.vocab_, t) for t in data.tokens]
    while True:
        h = gen.model_.history_[-1]
        epochs.append({"epoch": gen.model_.epochs_trained_, "cpu_s": time.process_time() - c1,
                       "wall_s": time.time() - t1, "load": os.getloadavg(),
                       **{k: h[k] for k in ("loss", "elbo", "rec", "kl", "kl_weight")}})
        print(epochs[-1], flush=True)
        gen.save(args.out)
        per_epoch = epochs[-1]["cpu_s"] / len(epochs)
        if time.process_time() - c1 + per_epoch > args.cpu_budget:
            break
        with amp():
            gen.model_.set_params(epochs=gen.model_.epochs_trained_ + 1).fit(seqs, resume=True)
    fit = {"cpu_s": time.process_time() - c1, "wall_s": time.time() - t1}
    quality = evaluate_run(gen, args)
    rec = {"command": " ".join(sys.argv), "params": gen.model_.get_params(),
           "threads": torch.get_num_threads(), "prep": prep, "fit": fit, "epochs": epochs,
           "vocab": len(gen.vocab_), "quality": quality, "load_before": load0,
           "load_after": os.getloadavg()}
    _write(f"moses_latent_train_{Path(args.out).name}.json", rec)
    return rec


def evaluate_run(gen: MoleculeGenerator, args, n_test: int = 500) -> dict:
    """Held-out ELBO and IWAE (k=100) on random test molecules, reconstruction, validity."""
    test = glm.read_smiles(DATA / "moses_test.csv.gz", subset_n=n_test, seed=1)
    data = glm.prepare(test, "selfies", max_length=args.max_length, strip_salts=False,
                       neutralize=False)
    keep = [i for i, t in enumerate(data.tokens) if all(x in gen.vocab_ for x in t)]
    seqs = [gen.codec.encode(gen.vocab_, data.tokens[i]) for i in keep]
    model = gen.model_
    c0 = time.process_time()
    elbo = model.elbo(seqs, seed=0)
    iwae = model.log_prob(seqs, k=100, seed=0)
    space = LatentSpace(gen)
    mu, lv = model.encode(seqs, return_log_var=True)
    recon = space.decode(mu)
    exact = float(np.mean([recon[j] == data.smiles[i] for j, i in enumerate(keep)]))
    draws = gen.sample(1000, seed=0)
    valid = [s for s in draws if s]
    return {"n_test": len(seqs), "test_elbo": float(np.mean(elbo)),
            "test_iwae_k100": float(np.mean(iwae)),
            "test_kl": float(np.mean(0.5 * (np.exp(lv) + mu**2 - 1.0 - lv).sum(1))),
            "active_units": int((mu.var(0) > 0.01).sum()),
            "reconstruction_exact": exact, "sample_validity": len(valid) / len(draws),
            "sample_unique": len(set(valid)) / max(1, len(valid)),
            "eval_cpu_s": time.process_time() - c0}


def optimize(args) -> dict:
    from genlearn.molecules.objectives import Objective

    load0, t0, c0 = os.getloadavg(), time.time(), time.process_time()
    gen = MoleculeGenerator.load(args.run)
    objective = Objective(args.objective)
    res = latent_optimize(gen, objective, budget=args.budget, n_init=args.n_init,
                          batch_size=args.batch_size, kappa=args.kappa, noise=args.noise,
                          seed=args.seed,
                          callback=lambda r, rec: print(rec, flush=True))
    rec = {"command": " ".join(sys.argv), "run": args.run, "objective": args.objective,
           "budget": args.budget, "oracle_calls": res.oracle_calls,
           "distinct_molecules": len(res.scores), "top1": res.top_mean(1),
           "top10_mean": res.top_mean(10), "top100_mean": res.top_mean(100),
           "calls_to_top10_094": next((h["oracle_calls"] for h in res.history
                                       if h["top10"] >= 0.94), None),
           "cpu_s": time.process_time() - c0, "wall_s": time.time() - t0,
           "threads": torch.get_num_threads(), "load_before": load0,
           "load_after": os.getloadavg(), "top": res.top(20), "history": res.history}
    tag = args.objective.replace(":", "_") + (f"_seed{args.seed}" if args.seed else "")
    _write(f"moses_latent_optimize_{tag}.json", rec)
    print({k: v for k, v in rec.items() if k not in ("history", "top")}, flush=True)
    return rec


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--subset", type=int, default=50_000)
    t.add_argument("--max-length", type=int, default=100)
    t.add_argument("--cpu-budget", type=float, default=1800.0, help="CPU seconds of training")
    t.add_argument("--param", action="append", default=[], help="key=JSON value")
    t.add_argument("--out", required=True)
    t.add_argument("--data", default=str(DATA / "moses_train.csv.gz"))
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--bf16", action="store_true", help="train under CPU bfloat16 autocast")
    o = sub.add_parser("optimize")
    o.add_argument("run")
    o.add_argument("--objective", default="qed")
    o.add_argument("--budget", type=int, default=5000)
    o.add_argument("--n-init", type=int, default=500)
    o.add_argument("--batch-size", type=int, default=100)
    o.add_argument("--kappa", type=float, default=1.0)
    o.add_argument("--noise", type=float, default=0.3)
    o.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    return train(args) if args.cmd == "train" else optimize(args)


if __name__ == "__main__":
    main()
