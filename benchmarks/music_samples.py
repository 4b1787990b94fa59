"""Generated chorales against held-out ones, like with like: a trained music run's pieces drawn
at several temperatures and seeds, beside the scale a perfect model of the training pieces
would reach.

    python benchmarks/music_samples.py runs/bench_bach_rnnnade_q --temperatures 1 0.9 0.8

For each temperature and seed: as many pieces as held-out chorales, each as long as one of them
(all drawn in one batch of the longest length, then cut), compared with the held-out set by
:func:`genlearn.music.metrics.compare_sets` (pitch-class histogram distance, in-key share,
copied 4-bar passages, polyphony), plus the share of pieces whose estimated key is minor and
the distance to the training set. The reference rows: 2,000 draws of as many *training*
chorales (what a model equal to the training distribution would produce) against the held-out
set, and 2,000 random halves of the held-out set. Writes benchmarks/results/bach_samples_<run
name>.json.
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

from genlearn.music import app
from genlearn.music.data import load_corpus
from genlearn.music.metrics import compare_sets, estimate_key, l1
from genlearn.music.metrics import pitch_class_histogram as pch

TARGET_FACTOR = 1.5  # the issue: distance <= 1.5 x the distance between two held-out halves


def minor_share(rolls) -> float:
    keys = [estimate_key(r)[1] for r in rolls if np.asarray(r).any()]
    return float(np.mean([k == "minor" for k in keys])) if keys else float("nan")


def references(train, test, draws: int = 2000, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    half = len(test) // 2
    target = TARGET_FACTOR * l1(pch(test[:half]), pch(test[half:]))
    subsets = [l1(pch([train[i] for i in rng.choice(len(train), len(test), replace=False)]),
                  pch(test)) for _ in range(draws)]
    halves = []
    for _ in range(draws):
        p = rng.permutation(len(test))
        halves.append(l1(pch([test[i] for i in p[:half]]), pch([test[i] for i in p[half:]])))
    return {"target_pc_distance": target,
            "training_subsets_vs_held_out": {"mean": float(np.mean(subsets)),
                                             "sd": float(np.std(subsets)),
                                             "share_meeting_target":
                                                 float(np.mean(np.array(subsets) <= target))},
            "random_held_out_halves": {"mean": float(np.mean(halves)),
                                       "sd": float(np.std(halves))},
            "train_vs_held_out": l1(pch(train), pch(test)),
            "minor_share": {"train": minor_share(train), "held_out": minor_share(test)}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("run")
    ap.add_argument("--temperatures", type=float, nargs="+", default=[1.0, 0.9, 0.8])
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    t0, c0 = time.time(), time.process_time()
    model, data = app.load_run(args.run)
    rolls = load_corpus(data["corpus"], steps_per_quarter=int(data["steps_per_quarter"]),
                        seed=int(data.get("seed", 0)))
    train, test = rolls.train, rolls.test
    window = 4 * app.steps_per_bar(int(data["steps_per_quarter"]))
    longest = max(len(r) for r in test)
    rows = []
    for temp in args.temperatures:
        per_seed = []
        for seed in range(args.seeds):
            drawn = app._draw(model, len(test), longest, seed=seed, temperature=temp)
            gen = [g[:len(r)] for g, r in zip(drawn, test, strict=True)]
            s = compare_sets(gen, test, train, window=window)
            per_seed.append({"pc_distance": s["pc_distance"],
                             "in_key_generated": s["in_key_generated"],
                             "copied_share_generated": s["copied_share_generated"],
                             "polyphony_generated": s["polyphony_generated"],
                             "interval_distance": s["interval_distance"],
                             "minor_share": minor_share(gen),
                             "pc_distance_to_train": l1(pch(gen), pch(train))})
        mean = {k: float(np.mean([p[k] for p in per_seed])) for k in per_seed[0]}
        sd = {k: float(np.std([p[k] for p in per_seed])) for k in per_seed[0]}
        rows.append({"temperature": temp, "mean": mean, "sd": sd, "per_seed": per_seed})
        print(f"T={temp}: " + ", ".join(f"{k} {mean[k]:.3f}±{sd[k]:.3f}" for k in mean),
              flush=True)
    held = compare_sets(test, test, train, window=window)
    result = {"run": args.run, "model": data.get("music_model"), "n_pieces": len(test),
              "seeds": args.seeds, "rows": rows, "reference": references(train, test),
              "held_out": {"in_key": held["in_key_held_out"],
                           "polyphony": held["polyphony_held_out"],
                           "copied_share": held["copied_share_held_out"]},
              "cpu_seconds": round(time.process_time() - c0, 1),
              "wall_seconds": round(time.time() - t0, 1), "load_before": load_before,
              "load_after": " ".join(f"{x:.2f}" for x in os.getloadavg()),
              "command": "python benchmarks/music_samples.py " + " ".join(
                  sys.argv[1:] if argv is None else argv)}
    print(json.dumps(result["reference"], indent=1))
    out = (Path(__file__).resolve().parent / "results"
           / f"bach_samples_{Path(args.run).name}.json")
    out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
