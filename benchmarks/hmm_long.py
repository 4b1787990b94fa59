"""One HMM sequence of 1,000,000 steps: no underflow, memory bounded by the chunk (issue 3).

Each run happens in a fresh process so its peak resident memory (ru_maxrss) is its own: one EM
iteration and the exact log-likelihood of a single categorical sequence of 10^6 steps at 64
states, with different ``chunk_size`` values (time steps the recursions hold at once; longer
sequences go through the checkpointed forward-backward in blocks). The log-likelihood must be
finite and the same for every chunk size, and the peak memory should grow with the chunk, not
with the sequence.

    python benchmarks/hmm_long.py [--steps 1000000] [--states 64]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, resource, sys, time, warnings
import numpy as np, torch
from genlearn.models.hmm import HMM
torch.set_num_threads(1)
steps, K, chunk = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
chunk = None if chunk == "none" else int(chunk)
x = np.random.default_rng(0).integers(0, 32, size=steps)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
m = HMM(n_states=K, n_symbols=32, n_iter=1, tol=-np.inf, chunk_size=chunk, verbose=False,
        device="cpu", seed=0)
t0 = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    m.fit([x])
fit_s = time.perf_counter() - t0
t0 = time.perf_counter()
ll = float(m.log_prob([x])[0])
print(json.dumps({"steps": steps, "states": K, "chunk_size": chunk, "em_iteration_s": fit_s,
                  "log_prob_s": time.perf_counter() - t0, "log_likelihood": ll,
                  "em_log_likelihood": m.history_[0]["log_likelihood"],
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rss_before_fit_mb": base / 1024}))
"""


HMMLEARN = r"""
import json, resource, sys, time, warnings
import numpy as np
from hmmlearn import hmm
steps, K = int(sys.argv[1]), int(sys.argv[2])
x = np.random.default_rng(0).integers(0, 32, size=steps)
m = hmm.CategoricalHMM(n_components=K, n_iter=1, tol=-np.inf, implementation="scaling",
                       random_state=0)
t0 = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    m.fit(x[:, None])
fit_s = time.perf_counter() - t0
print(json.dumps({"em_iteration_s": fit_s, "log_likelihood": float(m.score(x[:, None])),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1_000_000)
    ap.add_argument("--states", type=int, default=64)
    ap.add_argument("--chunks", default="10000,100000,1000000")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "hmm_long.json"))
    args = ap.parse_args()
    rows = []
    for chunk in args.chunks.split(","):
        res = subprocess.run([sys.executable, "-c", CHILD, str(args.steps), str(args.states),
                              chunk], capture_output=True, text=True, check=True)
        row = json.loads(res.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"{row['steps']:,} steps, K={row['states']}, chunk {chunk:>8}: log-likelihood "
              f"{row['log_likelihood']:.6f} (EM pass {row['em_log_likelihood']:.6f}), one EM "
              f"iteration {row['em_iteration_s']:.1f} s, log_prob {row['log_prob_s']:.1f} s, "
              f"peak RSS {row['peak_rss_mb']:.0f} MB (before fit {row['rss_before_fit_mb']:.0f})",
              flush=True)
    lls = [r["log_likelihood"] for r in rows]
    spread = (max(lls) - min(lls)) / abs(lls[0])
    print(f"relative spread of the log-likelihood across chunk sizes: {spread:.1e}")
    res = subprocess.run([sys.executable, "-c", HMMLEARN, str(args.steps), str(args.states)],
                         capture_output=True, text=True, check=True)
    ref = json.loads(res.stdout.strip().splitlines()[-1])
    print(f"hmmlearn (scaling), same sequence and states, its own random start: one EM "
          f"iteration {ref['em_iteration_s']:.1f} s, peak RSS {ref['peak_rss_mb']:.0f} MB")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"runs": rows, "rel_spread_loglik": spread, "hmmlearn": ref},
                              indent=2) + "\n")
    print(f"recorded in {out}")


if __name__ == "__main__":
    main()
