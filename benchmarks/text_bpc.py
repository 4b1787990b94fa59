"""Character-level text: held-out bits per character of the HMM and n-gram baselines (issue 3).

Corpus: the English documentation that ships with CPython (``pydoc_data.topics``: the language
reference topics, ~465k characters), so the figure is reproducible offline. The first 90% of the
text trains, the last 10% is held out (a contiguous split); the vocabulary comes from the
training part, with an unknown-symbol slot. The HMM trains on 200-character sequences; every
model scores the held-out part as one sequence (exact log-likelihoods).

    python benchmarks/text_bpc.py [--chars 300000] [--states 128] [--iters 60]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from genlearn.apps.text import Vocabulary, chunk, split_text
from genlearn.models.hmm import HMM
from genlearn.models.ngram import NGram


def corpus(chars: int) -> str:
    from pydoc_data.topics import topics

    return "\n\n".join(topics[k] for k in sorted(topics))[:chars]


def bits(model, seqs) -> float:
    return float(-model.log_prob(seqs).sum() / sum(len(s) for s in seqs) / np.log(2.0))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chars", type=int, default=300_000)
    ap.add_argument("--states", type=int, nargs="+", default=[32, 128])
    ap.add_argument("--iters", type=int, default=60)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "text_bpc.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    text = corpus(args.chars)
    train_txt, test_txt = split_text(text, 0.9)
    vocab = Vocabulary.build(train_txt)
    train, test = chunk(vocab.encode(train_txt), 200), [vocab.encode(test_txt)]
    print(f"{len(text):,} characters, vocabulary {len(vocab)}, held out {len(test[0]):,}")
    rows = []
    for order in (1, 2, 3, 4, 5, 6):
        t0 = time.perf_counter()
        m = NGram(order=order, n_symbols=len(vocab), verbose=False).fit(train)
        rows.append({"model": f"{order}-gram Kneser-Ney", "train_s": time.perf_counter() - t0,
                     "bits_per_char": bits(m, test)})
        print(f"{rows[-1]['model']:<22} {rows[-1]['bits_per_char']:.4f} bits/char  "
              f"({rows[-1]['train_s']:.1f} s)", flush=True)
    for K in args.states:
        m = HMM(n_states=K, n_symbols=len(vocab), n_iter=args.iters, tol=-np.inf, floor=1e-2,
                init="random", seed=0, device="cpu", verbose=False)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m.fit(train)
        rows.append({"model": f"HMM {K} states", "train_s": time.perf_counter() - t0,
                     "iters": args.iters, "bits_per_char": bits(m, test),
                     "train_bits_per_char": bits(m, train)})
        print(f"{rows[-1]['model']:<22} {rows[-1]['bits_per_char']:.4f} bits/char  "
              f"({rows[-1]['train_s']:.1f} s for {args.iters} EM iterations; training "
              f"{rows[-1]['train_bits_per_char']:.4f})", flush=True)
        prompt = vocab.encode("The ")
        sample = vocab.decode(m.sample(1, 120, seed=0, prompt=prompt)[0])
        rows[-1]["sample"] = "The " + sample
        print("   sample:", repr("The " + sample), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"chars": len(text), "vocabulary": len(vocab),
                               "held_out_chars": len(test[0]), "rows": rows}, indent=2) + "\n")
    print(f"recorded in {out}")


if __name__ == "__main__":
    main()
