"""Character-level language models on a fixed split: held-out nats and bits per character.

Corpora: Tiny Shakespeare (``/work/shared/data/text/tinyshakespeare.txt``; first 90% trains,
last 10% held out, as nanoGPT splits it) and the CPython docs (``pydoc_data.topics``, the first
300,000 characters as in benchmarks/text_bpc.py, 90/10). The vocabulary comes from the training
part (plus the unknown slot), or byte-level BPE tokens learned from the training part
(``--tokenizer bpe --vocab-size N``). The neural models train on the training part cut into
sequences of ``--seq-len`` tokens, hold out ``--val`` of them for early stopping, and score
the held-out part as one sequence: an exact log-likelihood (the Transformer's strided window,
see genlearn.models.autoregressive). Figures are per **character** whatever the tokenizer
(total nats / characters). ``--max-minutes`` is a budget on ``--clock`` (``cpu``: this
process's CPU time, the default, which a busy machine does not change; or ``wall``), and the
learning-rate schedule (warm-up, cosine) ends when it does. Prints and writes JSON with CPU
time, wall time and the machine load.

    python benchmarks/text_lm.py --corpus shakespeare --model transformer --epochs 6
    python benchmarks/text_lm.py --corpus docs --model rnn --epochs 10
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import torch

SHAKESPEARE = "/work/shared/data/text/tinyshakespeare.txt"


def load_corpus(name: str) -> str:
    from genlearn.text import docs_corpus, read_text

    if name == "shakespeare":
        return read_text(os.environ.get("TINYSHAKESPEARE", SHAKESPEARE))
    if name == "docs":
        return docs_corpus(300_000)
    return read_text(name)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default="shakespeare")
    ap.add_argument("--model", default="transformer", choices=["transformer", "rnn"])
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--n-layer", type=int, default=4)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--n-embd", type=int, default=128)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--block", type=int, default=128)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--seq-len", type=int, default=2048, help="training sequences, in tokens")
    ap.add_argument("--tokenizer", default="char", choices=["char", "bpe"])
    ap.add_argument("--vocab-size", type=int, default=None, help="BPE vocabulary (default 1024)")
    ap.add_argument("--positions", default="learned", choices=["learned", "rotary"])
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--min-lr-ratio", type=float, default=0.1)
    ap.add_argument("--patience", type=int, default=2, help="early-stopping patience in epochs "
                    "(0: none)")
    ap.add_argument("--clock", default="cpu", choices=["cpu", "wall"])
    ap.add_argument("--val", type=float, default=0.02)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-minutes", type=float, default=None,
                    help="stop training after this many minutes on --clock (the schedule "
                    "follows the clock)")
    ap.add_argument("--tag", default="")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    import genlearn as gl
    from genlearn.text import build_tokenizer, chunk, split_text

    load0 = os.getloadavg()
    text = load_corpus(args.corpus)
    train_txt, test_txt = split_text(text, 0.9)
    vocab = build_tokenizer(args.tokenizer, train_txt, args.vocab_size)
    train_ids = vocab.encode(train_txt)
    train = chunk(train_ids, args.seq_len)
    test = vocab.encode(test_txt)
    common = dict(n_symbols=len(vocab), end_symbol=False, block_size=args.block,
                  epochs=args.epochs, batch_size=args.batch, lr=args.lr, warmup=args.warmup,
                  min_lr_ratio=args.min_lr_ratio, dropout=args.dropout, val_fraction=args.val,
                  patience=args.patience or None, seed=args.seed,
                  max_time=None if args.max_minutes is None else 60.0 * args.max_minutes,
                  clock=args.clock, device=args.device, threads=args.threads, verbose=False)
    if args.model == "transformer":
        model = gl.Transformer(n_layer=args.n_layer, n_head=args.n_head, n_embd=args.n_embd,
                               positions=args.positions, weight_decay=args.weight_decay,
                               **common)
    else:
        model = gl.RNN(n_layer=args.n_layer, hidden=args.hidden, weight_decay=0.0, **common)
    print(f"{args.corpus}: {len(text):,} chars, {args.tokenizer} vocabulary {len(vocab)}, "
          f"train {len(train_txt):,} chars = {len(train_ids):,} tokens, held out "
          f"{len(test_txt):,} chars = {len(test):,} tokens; load {load0}", flush=True)

    def report(epoch, record):
        print(f"epoch {epoch}: loss {record['loss']:.4f} nats/token, val "
              f"{record.get('val_bits_per_symbol', float('nan')):.4f} bits/token, "
              f"{record['tokens_per_s']:,.0f} tok/s, {record['time']:.0f} s, CPU "
              f"{time.process_time() - c0:.0f} s, load {os.getloadavg()[0]:.1f}", flush=True)

    t0, c0 = time.perf_counter(), time.process_time()
    model.fit(train, callback=report)
    train_s, train_cpu = time.perf_counter() - t0, time.process_time() - c0
    t1 = time.perf_counter()
    nats = float(-model.log_prob([test])[0] / len(test_txt))
    eval_s = time.perf_counter() - t1
    load1 = os.getloadavg()
    n_params = sum(p.numel() for p in model.net_.parameters())
    result = {"corpus": args.corpus, "model": args.model, "args": vars(args),
              "vocabulary": len(vocab), "train_tokens": int(len(train_ids)),
              "test_tokens": int(len(test)), "test_characters": len(test_txt),
              "parameters": n_params, "epochs_trained": model.epochs_trained_,
              "stop_reason": model.stop_reason_, "train_seconds": train_s,
              "train_cpu_seconds": train_cpu, "steps": model.steps_,
              "tokens_seen": model.steps_ * args.batch * args.block,
              "eval_seconds": eval_s, "heldout_nats_per_char": nats,
              "heldout_bits_per_char": nats / math.log(2), "history": model.history_,
              "load_before": load0, "load_after": load1, "torch_threads": args.threads,
              "sample": vocab.decode(model.sample(1, 300, seed=0, temperature=0.8,
                                                  prompt=vocab.encode("\n"))[0])}
    print(f"held out: {nats:.4f} nats/char = {nats / math.log(2):.4f} bits/char; trained "
          f"{train_s:.0f} s wall, {train_cpu:.0f} s CPU ({model.steps_} steps, "
          f"{model.epochs_trained_} full epochs, {model.stop_reason_}, {n_params:,} "
          f"parameters); load {load1}", flush=True)
    print(result["sample"])
    name = f"text_{Path(args.corpus).stem}_{args.model}{args.tag}.json"
    out = Path(args.out or Path(__file__).parent / "results" / name)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
