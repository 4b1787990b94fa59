"""Training throughput with random against length-bucketed batches (issue 12).

    .venv/bin/python benchmarks/length_buckets.py --subset 20000 --threads 2 --bf16

The same LSTM (2x384, SELFIES of a random N MOSES training molecules, batch 128) trains one
epoch with random batches (``length_buckets=0``) and one with batches cut from length-sorted
chunks of 100 batches (``length_buckets=100``), in one process, alternating ``--repeats``
times; prints and records real (non-padding) tokens per second of wall and CPU time, and the
padding share of each batching. Writes ``benchmarks/results/length_buckets.json``.
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
from genlearn.models.rnn import RNN
from genlearn.training.loop import LengthBuckets, minibatches

HERE = Path(__file__).resolve().parent
TRAIN = HERE.parents[1] / "shared" / "data" / "moses_train.csv.gz"


def real_share(lengths, batches) -> float:
    """Real tokens over the tokens a batch of its longest row's length holds."""
    return float(lengths.sum() / sum(int(lengths[b.numpy()].max()) * len(b) for b in batches))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subset", type=int, default=20000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=100)
    ap.add_argument("--bf16", action="store_true", help="CPU bfloat16 autocast, as "
                    "moses_train.py --bf16")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.bf16:
        from moses_train import use_bf16_autocast

        use_bf16_autocast()
    smiles = glm.read_smiles(str(TRAIN), subset_n=args.subset, seed=0)
    data = glm.prepare(smiles, "selfies")
    vocab = sorted({t for row in data.tokens for t in row})
    index = {t: i for i, t in enumerate(vocab)}
    seqs = [np.array([index[t] for t in row]) for row in data.tokens]
    lengths = np.array([len(s) + 2 for s in seqs])  # BOS and EOS
    gen = torch.Generator().manual_seed(0)
    shares = {0: real_share(lengths, list(minibatches(len(seqs), 128, gen))),
              args.chunk: real_share(lengths, list(LengthBuckets(lengths, args.chunk)(
                  len(seqs), 128, gen)))}
    print(f"{len(seqs)} molecules, {lengths.mean():.1f} tokens on average, {lengths.max()} at "
          f"most; real-token share: random {shares[0]:.3f}, bucketed {shares[args.chunk]:.3f}")
    runs = []
    for rep in range(args.repeats):
        for buckets in (0, args.chunk):
            model = RNN(n_layer=2, hidden=384, epochs=1, batch_size=128, lr=1.5e-3, warmup=20,
                        val_fraction=0.0, patience=None, seed=rep, verbose=False,
                        device="cpu", threads=args.threads, length_buckets=buckets)
            load0 = os.getloadavg()
            t0, c0 = time.perf_counter(), time.process_time()
            model.fit(seqs)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            n_tok = int((lengths - 1).sum())
            runs.append({"repeat": rep, "length_buckets": buckets, "wall_s": wall,
                         "cpu_s": cpu, "tokens": n_tok, "tokens_per_wall_s": n_tok / wall,
                         "tokens_per_cpu_s": n_tok / cpu, "steps": model.steps_,
                         "loss": model.history_[-1]["loss"], "load_before": load0,
                         "load_after": os.getloadavg()})
            print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in runs[-1].items()},
                  flush=True)
    out = HERE / "results" / "length_buckets.json"
    out.write_text(json.dumps({"subset": args.subset, "threads": args.threads, "bf16": args.bf16,
                               "chunk": args.chunk, "real_share": shares, "runs": runs},
                              indent=1))
    print("wrote", out)


if __name__ == "__main__":
    main()
