"""``genlearn compare``: train several models under one budget and compare them on held-out data
(the work is :func:`genlearn.compare.compare`; this module only parses and prints)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import read_config_file, say, seed_arg


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("compare", help="train several models under one budget and "
                              "compare them on held-out data (report.md + PNGs)")
    p.add_argument("--data", default="digits", help="data set name or file (default digits)")
    p.add_argument("--models", default=None, help="comma-separated model names (default: every "
                   "registered model)")
    p.add_argument("--budget", default=None, help="training time per model: 120s, 2m, 1h "
                   "(default 60s unless --epochs is given)")
    p.add_argument("--epochs", type=int, default=None, help="epochs per model (with --budget: "
                   "at most this many)")
    p.add_argument("--out", default=None, help="report folder (default reports/DATA)")
    p.add_argument("--force", action="store_true", help="write into an existing folder that "
                   "is not a report")
    p.add_argument("--config", default=None, help="JSON/YAML file of hyperparameters per model: "
                   '{"vae": {"latent_dim": 8}}')
    p.add_argument("--no-binarize", dest="binarize", action="store_false", default="auto",
                   help="keep grey levels (default: binarize images in [0, 1])")
    p.add_argument("--split", type=_split_arg, default="auto", help="training fraction "
                   "(default: the official split where there is one, e.g. MNIST, else 0.8)")
    p.add_argument("--seed", type=seed_arg, default=0, help="seed for the split, models, samples")
    p.add_argument("--samples", type=int, default=None, help="samples per model (default "
                   "min(train rows, max(test rows, 1000)))")
    p.add_argument("--feature-cache", default=None, help="folder of the cached feature "
                   "classifier (default ~/.cache/genlearn/features)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_compare)


def _split_arg(text: str):
    if text in ("auto", "official"):
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a training fraction such as 0.8, or "
                                         "auto") from None


def _fmt(value, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def cmd_compare(args) -> int:
    from ..compare import compare

    params = read_config_file(args.config) if args.config else None
    budget = args.budget if args.budget is not None else (None if args.epochs else "60s")
    name = Path(str(args.data)).stem if args.data else "data"
    out = Path(args.out) if args.out else Path("reports") / name
    rows = compare(args.data, args.models, budget=budget, epochs=args.epochs, out=out,
                   force=args.force, params=params, binarize=args.binarize, split=args.split,
                   seed=args.seed, n_samples=args.samples, feature_cache=args.feature_cache,
                   verbose=not args.quiet, as_frame=False)
    say(f"{'model':<20} {'log-lik':>9} {'Fréchet':>9} {'prec':>6} {'recall':>6} "
        f"{'memo':>6} {'train s':>8}")
    for r in rows:
        if r["status"] in ("ok", "floor"):
            say(f"{r['model']:<20} {_fmt(r['log_likelihood'], 2):>9} "
                f"{_fmt(r['frechet_distance'], 2):>9} {_fmt(r['precision']):>6} "
                f"{_fmt(r['recall']):>6} {_fmt(r['memorisation_share']):>6} "
                f"{_fmt(r['train_time_s'], 1):>8}")
        else:
            say(f"{r['model']:<20} {r['status']}: {r['reason']}")
    say(f"wrote {out / 'report.md'} (and samples.png, metrics.png, results.json)")
    return 0
