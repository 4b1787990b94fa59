"""``genlearn evaluate CHECKPOINT``: held-out log-likelihood and the other metrics of a model on
the split it was trained with (or another data set)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from ._common import (
    add_data_flags,
    add_device_flag,
    data_spec,
    load_checkpoint,
    load_data,
    mode_metrics,
    say,
)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("evaluate", help="held-out log-likelihood and other metrics")
    p.add_argument("checkpoint")
    add_data_flags(p)
    p.add_argument("-k", type=int, default=None, help="importance samples (VAE)")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_device_flag(p)
    p.set_defaults(func=cmd_evaluate)


def _is_missing_file(source) -> bool:
    """True for a saved data source that was a file path and is gone (names are not files)."""
    from .. import datasets

    text = str(source)
    if text.strip().lower() in datasets.available():
        return False
    return not Path(text.rpartition(":")[0] if ".npz:" in text else text).exists()


def cmd_evaluate(args) -> int:
    cfg, model = load_checkpoint(args.checkpoint, args.device)
    if type(model).input_kind != "rows":
        raise ValueError(f"{type(model).__name__} is a sequence model: genlearn evaluate scores "
                         "models of rows; score sequences with its application's command (e.g. "
                         "genlearn text) or model.score(sequences) in Python")
    saved = cfg.get("data") or {}
    if args.data is None and saved.get("data") and _is_missing_file(saved["data"]):
        raise ValueError(f"{args.checkpoint} was trained on {saved['data']}, which no longer "
                         "exists; pass --data to evaluate on another data set")
    spec = data_spec(args, None, saved)
    if args.k is not None and "iw_samples" in model.get_params():
        model.set_params(iw_samples=args.k)
    _, test = load_data(spec)
    labels = test.y if getattr(model, "classes_", None) is not None else None
    t0 = time.perf_counter()
    metrics = model.evaluate(test.X, labels)
    metrics.update(mode_metrics(model, test))
    metrics["seconds"] = round(time.perf_counter() - t0, 3)
    metrics["data"] = spec["data"]
    if args.json:  # NaN / inf (e.g. spread with no high-quality sample) are not JSON: null
        say(json.dumps({k: None if isinstance(v, float) and not np.isfinite(v) else v
                        for k, v in metrics.items()}, indent=2))
        return 0
    say(f"{type(model).__name__} {args.checkpoint} on {spec['data']} held-out split "
        f"({metrics['n']} examples)")
    for key, value in metrics.items():
        if key in ("n", "data"):
            continue
        say(f"  {key:<20} {value:.4f}" if isinstance(value, float) else f"  {key:<20} {value}")
    return 0
