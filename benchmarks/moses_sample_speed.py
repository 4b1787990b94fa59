"""Where the time of drawing molecules goes, and valid molecules per second (issue 12).

    .venv/bin/python benchmarks/moses_sample_speed.py runs/moses_main_selfies -n 10000 \
        --threads 1

For each way of drawing token ids (the model's generic ``sample``; the batched sampler of
``genlearn.molecules.sampling`` in float32 and with bf16 products) it times, in this
process's CPU time and in wall time: the network's draws, ids -> tokens, tokens -> SMILES (the
SELFIES decoder or a join) and RDKit's canonical SMILES (the validity check), then reports
valid molecules per second end to end. ``jobs2-*`` is ``MoleculeGenerator.sample(n_jobs=2)``
(``genlearn molecules sample --jobs 2``): two worker processes, each drawing whole batches and
turning them into SMILES, timed end to end in wall time. Writes
benchmarks/results/moses_sample_speed_<tag>.json and a bar chart (ms per molecule by stage)
beside it, with the load (os.getloadavg).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

import genlearn.molecules as glm
from genlearn.molecules.generator import MoleculeGenerator
from genlearn.molecules.sampling import draw_ids

ROOT = Path(__file__).resolve().parents[1]


class Timer:
    def __init__(self):
        self.cpu, self.wall = {}, {}

    def __call__(self, name, fn, *a, **k):
        c, w = time.process_time(), time.perf_counter()
        out = fn(*a, **k)
        self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - c
        self.wall[name] = self.wall.get(name, 0.0) + time.perf_counter() - w
        return out


def run_jobs(gen, name, n, seed, reps=3):
    """``gen.sample(n_jobs=2)``: two worker processes, each drawing whole batches and turning
    them into SMILES; one figure end to end (wall time; CPU time of the workers). Wall time on
    two processes is noisier than one process's CPU time: ``reps`` runs (seeds seed,
    seed + 1, ...), the median reported and every run kept."""
    import resource

    prec = "bf16" if "bf16" in name else "float32"
    runs = []
    for r in range(reps):
        kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        c, w = time.process_time(), time.perf_counter()
        smi = gen.sample(n, seed=seed + r, precision=prec, n_jobs=2)
        wall, cpu = time.perf_counter() - w, time.process_time() - c
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_kids = (kids.ru_utime + kids.ru_stime) - (kids0.ru_utime + kids0.ru_stime)
        runs.append({"valid": sum(s is not None for s in smi), "wall": wall, "cpu": cpu,
                     "cpu_worker": cpu_kids, "load": os.getloadavg()})
    runs.sort(key=lambda x: x["valid"] / x["wall"])
    mid = runs[len(runs) // 2]
    return {"variant": name, "n": n, "valid": mid["valid"], "processes": 2, "reps": runs,
            "valid_per_wall_s_each": [x["valid"] / x["wall"] for x in runs],
            "ms_per_molecule_cpu": {"main process": 1e3 * mid["cpu"] / n,
                                    "2 workers": 1e3 * mid["cpu_worker"] / n},
            "ms_per_molecule_wall": {"end to end": 1e3 * mid["wall"] / n},
            "valid_per_cpu_s": mid["valid"] / (mid["cpu"] + mid["cpu_worker"]),
            "valid_per_wall_s": mid["valid"] / mid["wall"], "load": os.getloadavg()}


def run_variant(gen, name, n, seed):
    if name.startswith("jobs2"):
        return run_jobs(gen, name, n, seed)
    model, L = gen.model_, gen.max_length + 1
    timer = Timer()
    if name == "generic":
        rows = timer("network", model.sample, n, L, seed=seed)
    else:
        prec = "bf16" if name == "batched-bf16" else "float32"
        rows = timer("network", draw_ids, model, n, L, seed=seed, batch_size=n, precision=prec)
    toks = timer("ids->tokens", lambda: [gen.codec.decode(gen.vocab_, r, gen.max_length)
                                         for r in rows])
    rep = glm.get_repr(gen.representation)
    smi = timer("tokens->smiles", lambda: [rep.to_smiles(t) if t is not None else None
                                           for t in toks])
    can = timer("rdkit canonical", lambda: [glm.canonical(s) if s else None for s in smi])
    n_valid = sum(c is not None for c in can)
    lengths = [len(r) for r in rows]
    cpu, wall = sum(timer.cpu.values()), sum(timer.wall.values())
    return {"variant": name, "n": n, "valid": n_valid, "mean_symbols": float(np.mean(lengths)),
            "max_symbols": int(max(lengths)),
            "ms_per_molecule_cpu": {k: 1e3 * v / n for k, v in timer.cpu.items()},
            "ms_per_molecule_wall": {k: 1e3 * v / n for k, v in timer.wall.items()},
            "valid_per_cpu_s": n_valid / cpu, "valid_per_wall_s": n_valid / wall,
            "load": os.getloadavg()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("-n", type=int, default=10000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--variants", default="generic,batched,batched-bf16,jobs2-bf16",
                    help="jobs2-bf16 / jobs2-float32: gen.sample(n_jobs=2), two worker "
                    "processes each drawing whole batches (figure in wall time)")
    ap.add_argument("--tag", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    gen = MoleculeGenerator.load(args.run)
    gen.model_.set_params(threads=args.threads)  # the model's thread policy: exactly these
    draw_ids(gen.model_, 100, gen.max_length + 1, seed=0)  # warm-up (allocations, oneDNN)
    rec = {"run": args.run, "model": gen.model, "repr": gen.representation,
           "params": {k: v for k, v in gen.model_.get_params().items()
                      if k in ("cell", "n_layer", "hidden", "n_embd", "n_head")},
           "threads": args.threads, "load_before": os.getloadavg(), "variants": []}
    for v in args.variants.split(","):
        r = run_variant(gen, v, args.n, args.seed)
        rec["variants"].append(r)
        print(json.dumps({k: (round(x, 1) if isinstance(x, float) else x)
                          for k, x in r.items() if not k.startswith("ms_")}),
              {k: round(x, 3) for k, x in r["ms_per_molecule_cpu"].items()}, flush=True)
    tag = args.tag or f"{Path(args.run).name}_t{args.threads}"
    out = ROOT / "benchmarks" / "results" / f"moses_sample_speed_{tag}.json"
    out.write_text(json.dumps(rec, indent=2) + "\n")
    plot(rec, out.with_suffix(".png"))
    print(f"wrote {out}", flush=True)


def plot(rec, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = ["network", "ids->tokens", "tokens->smiles", "rdkit canonical",
              "main process", "2 workers"]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    names = [v["variant"] for v in rec["variants"]]
    left = np.zeros(len(names))
    for s in stages:
        w = np.array([v["ms_per_molecule_cpu"].get(s, 0.0) for v in rec["variants"]])
        ax.barh(names, w, left=left, label=s)
        left += w
    for i, v in enumerate(rec["variants"]):
        ax.text(left[i], i, f" {v['valid_per_cpu_s']:,.0f} valid/CPU-s, "
                f"{v['valid_per_wall_s']:,.0f} valid/s wall", va="center", fontsize=7)
    ax.set_xlabel("CPU ms per molecule drawn")
    ax.set_title(f"{rec['model']} {rec['repr']} {rec['params']}, {rec['threads']} thread(s)",
                 fontsize=8)
    ax.set_xlim(0, left.max() * 1.6)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
