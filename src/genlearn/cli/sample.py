"""``genlearn sample CHECKPOINT``: draw new examples into a .png grid, a .npy or a .csv file."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from .. import io
from ._common import add_device_flag, draw, every_class, load_checkpoint, say, scalar, seed_arg


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("sample", help="draw new examples from a checkpoint")
    p.add_argument("checkpoint")
    p.add_argument("-n", type=_positive, default=64, help="number of samples (default 64)")
    p.add_argument("-o", "--output", default="samples.png", help=".png grid, .npy or .csv")
    p.add_argument("--seed", type=seed_arg, default=None)
    p.add_argument("--label", default=None, help="class label (conditional models)")
    p.add_argument("--mean", dest="mean", action="store_true", default=None,
                   help="write E[x|z] (default for .png)")
    p.add_argument("--draw", dest="mean", action="store_false",
                   help="write draws from p(x|z) (default for .npy/.csv)")
    p.add_argument("--length", type=_positive, default=100,
                   help="symbols per sequence (sequence models; default 100)")
    add_device_flag(p)
    p.set_defaults(func=cmd_sample)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text}")
    return value


def _save_array(path: Path, array: np.ndarray) -> None:
    with io.atomic_path(path) as tmp:
        if path.suffix.lower() == ".npy":
            with open(tmp, "wb") as f:
                np.save(f, array)
        else:
            fmt = "%d" if array.dtype.kind in "biu" else "%.6g"
            np.savetxt(tmp, array.reshape(array.shape[0], -1), delimiter=",", fmt=fmt)


def cmd_sample(args) -> int:
    path = Path(args.output)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".npy", ".csv"):
        raise ValueError(f"-o {path}: use a .png (image grid), .npy or .csv file name")
    _, model = load_checkpoint(args.checkpoint, args.device)
    if type(model).input_kind == "sequences":
        return _sample_sequences(model, args, path)
    y = scalar(args.label) if args.label is not None else every_class(model, args.n)
    mean = args.mean if args.mean is not None else suffix == ".png"
    samples = draw(model, args.n, y=y, seed=args.seed, mean=mean)
    if suffix == ".png":
        shape = getattr(model, "image_shape_", None)
        if shape is None:
            raise ValueError("this model was not trained on images; write samples to a .npy or "
                             ".csv file instead")
        from .. import viz

        viz.save_image_grid(samples, path, image_shape=shape)
    else:
        _save_array(path, np.asarray(samples))
    say(f"wrote {args.n} samples to {path}")
    return 0


def _sample_sequences(model, args, path: Path) -> int:
    """n sequences of --length symbol ids: one row each in a .npy (n, length) or .csv file."""
    if path.suffix.lower() == ".png":
        raise ValueError(f"{type(model).__name__} samples sequences of symbol ids, not images; "
                         "write them to a .npy or .csv file (genlearn text generate writes "
                         "text models' samples as text)")
    if args.label is not None:
        raise ValueError(f"--label: {type(model).__name__} is not a conditional model")
    draws = model.sample(args.n, args.length, seed=args.seed)
    _save_array(path, np.stack([np.asarray(d) for d in draws]))
    say(f"wrote {args.n} sequences of {args.length} symbols to {path}")
    return 0
