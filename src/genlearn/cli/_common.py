"""Helpers shared by the command modules: hyperparameter flags, config files, data options,
capabilities, sampling and output."""

from __future__ import annotations

import argparse
import inspect
import json
from pathlib import Path

import numpy as np

from .. import datasets, io

DATA_KEYS = ("data", "binarize", "split", "seed")
MODE_SAMPLES = 2500  # the PacGAN / VEEGAN protocol


def say(*parts) -> None:
    """Print a line of the command's output (flushed, so a pipe sees it at once)."""
    print(*parts, flush=True)


# -- hyperparameter flags ------------------------------------------------------------------
def output_file(path, force: bool, option: str = "-o/--out") -> Path:
    """``path`` as a Path when a file can be written there, checked before any work: not a
    folder, not already there unless ``force``, and not below a file."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{option} {path} is a folder; name a file")
    if path.exists() and not force:
        raise ValueError(f"{path} exists; pass --force to overwrite it")
    above = next(p for p in path.absolute().parents if p.exists())
    if not above.is_dir():
        raise ValueError(f"{option} {path} cannot be written: {above} is a file")
    return path


def parse_value(text: str, default):
    """Turn a flag's text into the type of the constructor default."""
    if isinstance(default, bool):
        low = text.lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected true or false; got {text!r}")
    if isinstance(default, tuple):
        text = text.strip().strip("()[]")
        if not text:
            return ()
        return tuple(scalar(part.strip()) for part in text.split(","))
    if isinstance(default, int):
        return int(text)
    if isinstance(default, float):
        return float(text)
    if default is None:
        return scalar(text)
    return text


def scalar(text: str):
    if text.lower() in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    if "," in text:
        return tuple(scalar(p.strip()) for p in text.split(","))
    return text


def model_defaults(cls) -> dict:
    """The hyperparameters and their defaults (scikit-learn's contract: the constructor only
    stores its keyword arguments, so a default instance's get_params lists them)."""
    return cls().get_params(deep=False)


def add_param_flags(parser: argparse.ArgumentParser, cls) -> None:
    group = parser.add_argument_group(f"{cls.__name__} hyperparameters")
    for name, default in model_defaults(cls).items():
        if name in ("verbose", "seed"):
            continue  # the command line owns these
        flag = "--" + name.replace("_", "-")
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        group.add_argument(flag, dest=f"param:{name}", default=argparse.SUPPRESS, metavar="V",
                           help=f"(default: {shown})")


def read_config_file(path: str) -> dict:
    """A JSON or YAML file holding a mapping (hyperparameters)."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"config file {path} does not exist")
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"config file {path} could not be read: {exc}") from None
    if p.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise ValueError("reading a YAML config needs PyYAML: pip install pyyaml "
                             "(or write the config as JSON)") from None
        try:
            cfg = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"config file {path} is not valid YAML: "
                             f"{str(exc).splitlines()[0]}") from None
    else:
        try:
            cfg = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"config file {path} is not valid JSON: {exc}") from None
    if not isinstance(cfg, dict):
        raise ValueError(f"config file {path} must hold a mapping of hyperparameters")
    return cfg


def collect_params(args, cls) -> tuple[dict, dict]:
    """Hyperparameters from --config then flags; returns (model params, data options)."""
    defaults = model_defaults(cls)
    params, data = {}, {}
    if args.config:
        for key, value in read_config_file(args.config).items():
            key = key.replace("-", "_")
            if key in DATA_KEYS:
                data[key] = value
            elif key in defaults:
                params[key] = tuple(value) if isinstance(value, list) else value
            else:
                raise ValueError(f"config file {args.config}: unknown hyperparameter {key!r} for "
                                 f"{cls.__name__}")
    for dest, text in vars(args).items():
        if dest.startswith("param:"):
            name = dest[6:]
            try:
                # a tuple parameter whose default is None (chosen by the data) parses as one
                tuple_param = name in getattr(cls, "_tuple_params", ())
                params[name] = parse_value(text, () if tuple_param else defaults[name])
            except ValueError as exc:
                flag = "--" + name.replace("_", "-")
                raise ValueError(f"{flag}: {exc}") from None
    return params, data


# -- data ----------------------------------------------------------------------------------
def add_data_flags(p) -> None:
    p.add_argument("--data", default=None, help="data set name (digits, mnist, ring, grid, "
                   "moons, spirals) or a .npy/.npz/.csv file or image folder (default digits); "
                   "FILE.npz:KEY picks one array of an .npz")
    p.add_argument("--binarize", nargs="?", const="threshold", default=None,
                   type=binarize_arg, help="binarize pixels: threshold (0.5) or stochastic")
    p.add_argument("--split", default=None, help="training fraction (default 0.8; MNIST: "
                   "its official split)")
    p.add_argument("--seed", type=seed_arg, default=None, help="seed for the split and training")


def add_device_flag(p) -> None:
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N or auto (default: the "
                   "saved device, or the CPU when it is a GPU this machine lacks)")


def seed_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"expected an integer in [0, 2**32 - 1]; got {text}")
    return value


def binarize_arg(text: str):
    if text in ("threshold", "stochastic"):
        return text
    if text.lower() in ("false", "no", "none", "off"):
        return False
    raise argparse.ArgumentTypeError("expected 'threshold' (the default) or 'stochastic'")


def data_spec(args, from_config: dict | None = None, saved: dict | None = None) -> dict:
    """How the data are made: saved spec < config file < flags; file paths made absolute."""
    spec = dict(saved or {})
    spec.update(from_config or {})
    for key in DATA_KEYS:
        value = getattr(args, key, None)
        if value is not None:
            spec[key] = value
    spec.setdefault("data", "digits")
    spec.setdefault("binarize", False)
    spec.setdefault("split", "auto")
    spec.setdefault("seed", 0)
    spec["data"] = datasets.absolute_source(spec["data"])
    return spec


def load_data(spec: dict):
    split = spec["split"]
    if isinstance(split, str) and split not in ("auto", "official"):
        try:
            split = float(split)
        except ValueError:
            raise ValueError(f"--split takes a training fraction such as 0.8, or auto; got "
                             f"{split!r}") from None
    return datasets.load(spec["data"], binarize=spec["binarize"], split=split, seed=spec["seed"])


# -- models ----------------------------------------------------------------------------------
def load_checkpoint(path, device: str | None = None):
    """(config, model) of a checkpoint folder, on ``device`` (see io.load)."""
    cfg = io.read_config(path)
    return cfg, io.load(path, device=device)


def every_class(model, n: int):
    """n labels cycling through a conditional model's classes; None for other models."""
    classes = getattr(model, "classes_", None)
    return None if classes is None else np.resize(classes, n)


def draw(model, n, *, y=None, seed=None, mean=False):
    """``model.sample(n)`` for a model of rows, with the mean and labels where it takes them."""
    if type(model).input_kind != "rows":
        raise ValueError(f"{type(model).__name__} is a sequence model: it samples sequences, "
                         "not rows (use its application's command, e.g. genlearn text generate)")
    kwargs = {"seed": seed}
    if "mean" in inspect.signature(model.sample).parameters:  # E[x|z] (the VAE's option)
        kwargs["mean"] = mean
    if y is not None:
        kwargs["y"] = y
    return np.asarray(model.sample(n, **kwargs))  # a table model returns a DataFrame


def mode_metrics(model, data) -> dict:
    """Mode coverage of 2,500 samples when ``data`` is a mixture with known modes, else {}."""
    from ..metrics import mode_coverage

    modes = datasets.known_modes(data)
    if modes is None or type(model).input_kind != "rows":
        return {}
    fake = draw(model, MODE_SAMPLES, y=every_class(model, MODE_SAMPLES), seed=0)
    fake = fake.reshape(MODE_SAMPLES, -1)
    r = mode_coverage(fake, *modes)
    return {k: r[k] for k in ("modes_captured", "n_modes", "high_quality", "reverse_kl",
                              "spread")}
