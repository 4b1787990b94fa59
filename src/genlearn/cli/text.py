"""``genlearn text train`` and ``genlearn text generate``: text models from the command line.

    genlearn text train corpus.txt --model transformer --epochs 5 --out runs/text
    genlearn text train --data docs --model transformer --tokenizer bpe --vocab-size 512
    genlearn text generate runs/text --prompt "def " --temperature 0.8 --top-p 0.95
"""

from __future__ import annotations

import sys

MODELS = ("transformer", "rnn", "hmm", "ngram")


def add_parser(sub) -> None:
    p = sub.add_parser("text", help="text models: train (transformer, rnn, hmm, ngram), "
                       "generate")
    text_sub = p.add_subparsers(dest="text_command", required=True, metavar="ACTION")
    t = text_sub.add_parser("train", help="learn a text model of a UTF-8 file or a named corpus")
    t.add_argument("corpus", nargs="?", default=None, help="a UTF-8 text file")
    t.add_argument("--data", default=None,
                   help="a named corpus instead of a file: 'docs' (CPython's pydoc_data.topics, "
                   "in every Python install)")
    t.add_argument("--model", default="transformer", choices=MODELS)
    t.add_argument("--tokenizer", default="char", choices=("char", "bpe"),
                   help="characters (default) or byte-level BPE")
    t.add_argument("--vocab-size", type=int, default=None,
                   help="BPE vocabulary (default 1024); for char, the most characters kept")
    t.add_argument("--chars", type=int, default=None, help="use the first N characters only")
    t.add_argument("--epochs", type=int, default=5, help="transformer/rnn epochs (default 5)")
    t.add_argument("--max-minutes", type=float, default=None,
                   help="transformer/rnn: stop training after this many minutes (the learning "
                   "rate schedule follows the clock)")
    t.add_argument("--clock", default="wall", choices=("wall", "cpu"),
                   help="what --max-minutes counts: wall time (default) or this process's CPU "
                   "time (the same on a quiet one-thread run; not slowed by a busy machine)")
    t.add_argument("--threads", type=int, default=None,
                   help="torch threads (default: chosen by the size of the network)")
    t.add_argument("--warmup", type=int, default=100,
                   help="transformer/rnn learning-rate warm-up steps (default 100)")
    t.add_argument("--n-layer", type=int, default=4, help="transformer/rnn layers (default 4)")
    t.add_argument("--n-head", type=int, default=4, help="attention heads (default 4)")
    t.add_argument("--n-embd", type=int, default=128, help="transformer width (default 128)")
    t.add_argument("--hidden", type=int, default=256, help="rnn units per layer (default 256)")
    t.add_argument("--cell", default="lstm", choices=("lstm", "gru"))
    t.add_argument("--block-size", type=int, default=128,
                   help="transformer window / rnn training window, in tokens (default 128)")
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--lr", type=float, default=None,
                   help="peak learning rate (default 2e-3 transformer, 3e-3 rnn)")
    t.add_argument("--dropout", type=float, default=0.1)
    t.add_argument("--states", type=int, default=128, help="HMM hidden states (default 128)")
    t.add_argument("--order", type=int, default=5, help="n-gram order (default 5)")
    t.add_argument("--iters", type=int, default=100, help="HMM EM iterations (default 100)")
    t.add_argument("--seq-len", type=int, default=None,
                   help="training sequences are cut to this many tokens")
    t.add_argument("--split", type=float, default=0.9, help="training fraction (default 0.9)")
    t.add_argument("--out", default="runs/text", help="checkpoint folder (default runs/text)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="auto")
    t.add_argument("--no-baseline", dest="baseline", action="store_false",
                   help="skip the 5-gram baseline on the same split")
    t.add_argument("--force", action="store_true", help="replace a checkpoint in --out")
    t.add_argument("--resume", action="store_true",
                   help="continue the transformer/rnn checkpoint in --out up to --epochs")
    t.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    t.add_argument("--nproc", type=int, default=1, metavar="N",
                   help="train in N processes on this machine (starts torchrun; gloo on CPUs, "
                   "NCCL with one GPU each); rank 0 writes --out")
    t.set_defaults(func=_cmd_train)
    g = text_sub.add_parser("generate", help="continue a prompt with a trained text model, "
                            "printing as it goes")
    g.add_argument("checkpoint")
    g.add_argument("--length", type=int, default=400, help="tokens to generate (default 400)")
    g.add_argument("--prompt", default="", help="text to continue")
    g.add_argument("--temperature", type=float, default=1.0,
                   help="below 1 sharper, above 1 more random (default 1)")
    g.add_argument("--top-k", type=int, default=None, help="draw from the k likeliest tokens")
    g.add_argument("--top-p", type=float, default=None,
                   help="draw from the smallest set of tokens with this probability")
    g.add_argument("-n", type=int, default=1, help="number of continuations")
    g.add_argument("--seed", type=int, default=None)
    g.add_argument("--tokenizer", default=None,
                   help="a tokenizer JSON file (only for a checkpoint saved without one)")
    g.set_defaults(func=_cmd_generate)


def _cmd_train(args) -> int:
    from ..training import launch

    return launch.run(args, _train, args.device)


def _train(args) -> int:
    from .. import distributed
    from ..text import train_text

    options = {"epochs": args.epochs, "n_layer": args.n_layer, "n_head": args.n_head,
               "n_embd": args.n_embd, "hidden": args.hidden, "cell": args.cell,
               "block_size": args.block_size, "batch_size": args.batch_size,
               "dropout": args.dropout, "states": args.states, "order": args.order,
               "n_iter": args.iters, "seed": args.seed, "device": args.device,
               "max_time": None if args.max_minutes is None else 60.0 * args.max_minutes,
               "clock": args.clock, "threads": args.threads, "warmup": args.warmup,
               "verbose": not args.quiet}
    if args.lr is not None:
        options.update(lr=args.lr, lr_rnn=args.lr)
    report = train_text(args.corpus, data=args.data, model=args.model,
                        tokenizer=args.tokenizer, vocab_size=args.vocab_size, chars=args.chars,
                        seq_len=args.seq_len, split=args.split, out=args.out,
                        baseline=args.baseline, force=args.force, resume=args.resume,
                        **options)
    if distributed.rank() != 0:  # under torchrun: rank 0 reports
        return 0
    procs = f" in {report['processes']} processes" if report["processes"] > 1 else ""
    print(f"trained a {report['model']} on {report['train_characters']:,} characters "
          f"({report['train_tokens']:,} tokens, {report['tokenizer']} vocabulary of "
          f"{report['vocabulary']}) in {report['train_seconds']:.1f} s ("
          f"{report['train_cpu_seconds']:.1f} s CPU){procs}", flush=True)
    print(f"held-out bits per character: {report['bits_per_char']:.4f} "
          f"({report['test_characters']:,} characters)", flush=True)
    if not report["converged"]:
        print(f"(EM used all {args.iters} iterations without converging; --iters raises the "
              "budget)", flush=True)
    if "ngram5_bits_per_char" in report:
        print(f"5-gram Kneser-Ney baseline on the same split: "
              f"{report['ngram5_bits_per_char']:.4f}", flush=True)
    print(f"checkpoint: {args.out}", flush=True)
    return 0


def _cmd_generate(args) -> int:
    from .._utils import check_int
    from ..text import iter_generate

    check_int(args.n, "-n", low=1)
    for i in range(args.n):
        seed = None if args.seed is None else args.seed + i
        sys.stdout.write(args.prompt)
        for piece in iter_generate(args.checkpoint, prompt=args.prompt, length=args.length,
                                   temperature=args.temperature, top_k=args.top_k,
                                   top_p=args.top_p, seed=seed, tokenizer_file=args.tokenizer):
            sys.stdout.write(piece)
            sys.stdout.flush()
        sys.stdout.write("\n")
        sys.stdout.flush()
    return 0
