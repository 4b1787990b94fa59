"""``gl.GAN().fit(grid)`` with every default, one seed: what a user who writes the README's
first line gets on the 25-Gaussian grid (25,600 points, the gan_modes.py protocol).

Records modes captured, high-quality share, reverse KL and training time in
benchmarks/results/gan_defaults.json, with the load average before and after.

    python benchmarks/gan_defaults.py [--seed 0] [--data grid]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import genlearn as gl
from genlearn.datasets import toy2d, toy2d_modes, toy2d_std
from genlearn.metrics import mode_coverage


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default="grid", choices=["ring", "grid"])
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "gan_defaults.json"))
    args = ap.parse_args()
    X = toy2d(args.data, n_samples=25_600, seed=1000 + args.seed).X
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    model = gl.GAN(seed=args.seed, verbose=False).fit(X)  # every default
    seconds = time.perf_counter() - t0
    r = mode_coverage(model.sample(2500, seed=args.seed), toy2d_modes(args.data),
                      toy2d_std(args.data))
    out = {"data": args.data, "seed": args.seed, "recipe": model.recipe_,
           "settings": {k: list(v) if isinstance(v, tuple) else v
                        for k, v in model.settings_.items()},
           "seconds": seconds, "load_before": load_before, "load_after": os.getloadavg()[0],
           **{k: r[k] for k in ("modes_captured", "n_modes", "high_quality", "reverse_kl",
                                "spread")}}
    print(f"{args.data} seed {args.seed}: {r['modes_captured']}/{r['n_modes']} modes, "
          f"{100 * r['high_quality']:.1f}% high quality, reverse KL {r['reverse_kl']:.4f}, "
          f"{seconds:.0f} s (load {load_before:.1f})")
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
