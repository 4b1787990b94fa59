"""The n-gram (orders 1..8) and HMM baselines on the split of benchmarks/text_lm.py.

Same corpus, split and character vocabulary as text_lm.py; training text cut into
200-character sequences; the held-out part scored as one sequence (exact log-likelihoods).
Prints nats and bits per character and writes JSON with the machine load.

    python benchmarks/text_baselines.py --corpus shakespeare [--states 128 --iters 20]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
import warnings
from pathlib import Path

import torch


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default="shakespeare")
    ap.add_argument("--orders", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6, 7, 8])
    ap.add_argument("--states", type=int, nargs="*", default=[])
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from text_lm import load_corpus

    from genlearn.models.hmm import HMM, ConvergenceWarning
    from genlearn.models.ngram import NGram
    from genlearn.text import Vocabulary, chunk, split_text

    load0 = os.getloadavg()
    text = load_corpus(args.corpus)
    train_txt, test_txt = split_text(text, 0.9)
    vocab = Vocabulary.build(train_txt)
    train, test = chunk(vocab.encode(train_txt), 200), [vocab.encode(test_txt)]
    rows = []

    def record(name, model, seconds):
        nats = float(-model.log_prob(test).sum() / len(test_txt))
        rows.append({"model": name, "train_s": seconds, "nats_per_char": nats,
                     "bits_per_char": nats / math.log(2), "load": os.getloadavg()})
        print(f"{name:<24} {nats:.4f} nats/char  {nats / math.log(2):.4f} bits/char  "
              f"({seconds:.1f} s, load {os.getloadavg()[0]:.1f})", flush=True)

    for order in args.orders:
        t0 = time.perf_counter()
        m = NGram(order=order, n_symbols=len(vocab), verbose=False).fit(train)
        record(f"{order}-gram Kneser-Ney", m, time.perf_counter() - t0)
    for k in args.states:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            m = HMM(n_states=k, emission="categorical", n_symbols=len(vocab), n_iter=args.iters,
                    floor=1e-2, init="random", seed=0, device="cpu", verbose=False).fit(train)
        record(f"HMM, {k} states, {args.iters} EM iterations", m, time.perf_counter() - t0)
    out = Path(args.out or Path(__file__).parent / "results" / f"text_{args.corpus}_baselines.json")
    out.write_text(json.dumps({"corpus": args.corpus, "rows": rows, "load_before": load0},
                              indent=2) + "\n")


if __name__ == "__main__":
    main()
