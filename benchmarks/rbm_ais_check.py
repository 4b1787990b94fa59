"""AIS against the exact log Z of trained digit RBMs, at several AIS settings (issue 4).

Trains ``gl.RBM(n_hidden=20)`` with its defaults on the binarized digits (80/20 split, seed 0)
for seeds 0, 1, 2, computes the exact log Z by enumeration, then AIS with (chains,
temperatures) = (100, 10,000) (the default), (100, 30,000) and (400, 30,000), and prints each
difference in nats and in units of AIS's own reported standard error.

    python benchmarks/rbm_ais_check.py
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

import genlearn as gl

SETTINGS = ((100, 10_000), (100, 30_000), (400, 30_000))


def main() -> None:
    torch.set_num_threads(1)
    train, _ = gl.datasets.load("digits", binarize=True, split=0.8, seed=0)
    rows = []
    for seed in (0, 1, 2):
        m = gl.RBM(n_hidden=20, seed=seed, verbose=False, device="cpu").fit(train.X)
        exact = m.log_partition("exact").log_z
        for chains, temps in SETTINGS:
            t0 = time.perf_counter()
            ais = m.log_partition("ais", n_chains=chains, n_betas=temps, seed=seed)
            d = ais.log_z - exact
            rows.append({"seed": seed, "chains": chains, "temperatures": temps,
                         "exact": exact, "ais": ais.log_z, "stderr": ais.stderr,
                         "difference": d, "in_stderrs": abs(d) / ais.stderr,
                         "seconds": time.perf_counter() - t0})
            print(f"seed {seed}, {chains} chains, {temps} temperatures: AIS - exact {d:+.4f} "
                  f"nats, s.e. {ais.stderr:.4f} ({abs(d) / ais.stderr:.2f} s.e.)", flush=True)
    out = Path(__file__).resolve().parent / "results" / "rbm_ais_check.json"
    out.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
