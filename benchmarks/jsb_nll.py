"""JSB Chorales (or Nottingham): test NLL per time step of one frame model, and the
continuation NLL of the second half of each test piece given its first half.

    python benchmarks/jsb_nll.py --model rnnrbm --set hidden=8 --set epochs=60 --tag rnnrbm
    python benchmarks/jsb_nll.py --model transformer --tokens --set max_time=1500 --tag tf

``--tokens`` trains a token model (the Transformer or RNN) on the event tokens of
genlearn/music/tokens.py (each frame's keys in pitch order, then a step symbol) with the music
application's defaults; a frame's figure is the log-probability of its canonical tokens given
the past (a lower bound on the frame's log p).

The figure is the published one: nats per time step, every test frame weighted equally
(-sum of log p(v_t | v_<t) over all test frames / number of test frames). Training uses the
valid split for early stopping (``patience``) and keeps the best-validation epoch. Writes
benchmarks/results/<corpus>_<tag>.json.
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

from genlearn import registry
from genlearn.music import app
from genlearn.music.data import load_mat
from genlearn.music.tokens import TokenFrameModel

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "music"
FILES = {"jsb": "JSB_Chorales.mat", "nottingham": "Nottingham.mat"}


def load_avg() -> str:
    return " ".join(os.getloadavg().__repr__().strip("()").split(", "))


def value(text):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


def second_half_nll(steps: list[np.ndarray]) -> float:
    """NLL per step of frames T//2.. of each piece given the frames before them."""
    tail = [s[len(s) // 2:] for s in steps]
    return float(-np.concatenate(tail).sum() / sum(len(t) for t in tail))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", default="jsb", choices=tuple(FILES))
    ap.add_argument("--model", required=True)
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--tag", default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tokens", action="store_true",
                    help="a token model (transformer, rnn) on the event encoding")
    ap.add_argument("--data", default=str(DATA))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    params = dict(p.split("=", 1) for p in args.set)
    params = {k: value(v) for k, v in params.items()}
    rolls = load_mat(Path(args.data) / FILES[args.corpus], name=args.corpus)
    cls = registry.get(args.model)
    if "threads" in cls().get_params():
        params.setdefault("threads", args.threads)
    if args.tokens:  # the music application's token-model defaults, overridden by --set
        params = {**app.MODELS.get(args.model, (None, {}))[1], **params,
                  "n_symbols": rolls.train[0].shape[1] + 1}
    model = cls(**params)
    load_before = load_avg()
    t0, c0 = time.time(), time.process_time()
    if args.tokens:
        inner, model = model, TokenFrameModel.fit(model, rolls.train)
        model.get_params, model.log_prob_estimator = inner.get_params, lambda: (
            "exact log-probability of each frame's canonical tokens (a lower bound on the "
            "frame's log p)")
        model.epochs_trained_, model.history_ = inner.epochs_trained_, inner.history_
    else:
        fit_kw = {"valid": rolls.valid} if "valid" in cls.fit.__code__.co_varnames else {}
        model.fit(rolls.train, **fit_kw)
    train_s, train_cpu = time.time() - t0, time.process_time() - c0
    t1 = time.time()
    steps = model.log_prob_steps(rolls.test)
    eval_s = time.time() - t1
    n = sum(len(s) for s in steps)
    result = {
        "corpus": args.corpus, "model": args.model, "params": model.get_params(),
        "test_nll_per_step": float(-np.concatenate(steps).sum() / n), "test_steps": n,
        "valid_nll_per_step": float(-np.concatenate(model.log_prob_steps(rolls.valid)).sum()
                                    / sum(len(r) for r in rolls.valid)),
        "continuation_nll_per_step": second_half_nll(steps),
        "estimator": model.log_prob_estimator(),
        "train_seconds": round(train_s, 1), "train_cpu_seconds": round(train_cpu, 1),
        "eval_seconds": round(eval_s, 1),
        "threads": args.threads, "load_before": load_before, "load_after": load_avg(),
        "epochs_trained": getattr(model, "epochs_trained_", None),
        "history": getattr(model, "history_", None),
        "command": "python benchmarks/jsb_nll.py " + " ".join(sys.argv[1:] if argv is None
                                                              else argv),
    }
    tag = args.tag or args.model
    out = Path(__file__).resolve().parent / "results" / f"{args.corpus}_{tag}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("history", "params")},
                     indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
