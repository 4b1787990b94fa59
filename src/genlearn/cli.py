"""The ``genlearn`` command line: train, sample, evaluate, info, compare.

    genlearn train vae --data digits --binarize --epochs 200 --out runs/vae
    genlearn sample runs/vae -n 64 -o grid.png
    genlearn evaluate runs/vae --data digits
    genlearn info runs/vae
    genlearn compare --data digits --models vae,gan,rbm,hmm --budget 120s --out reports/digits

Every model's hyperparameters become flags (``--latent-dim 16``, ``--hidden 256,256``) or come
from a JSON/YAML file (``--config cfg.yaml``); flags win. Errors print one line on stderr and
exit non-zero; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

from . import datasets, io, registry
from ._version import __version__

log = logging.getLogger("genlearn")

DATA_KEYS = ("data", "binarize", "split", "seed")


# -- hyperparameter flags ------------------------------------------------------------------
def _parse_value(text: str, default):
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
        return tuple(_scalar(part.strip()) for part in text.split(","))
    if isinstance(default, int):
        return int(text)
    if isinstance(default, float):
        return float(text)
    if default is None:
        return _scalar(text)
    return text


def _scalar(text: str):
    if text.lower() in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    if "," in text:
        return tuple(_scalar(p.strip()) for p in text.split(","))
    return text


def _model_defaults(cls) -> dict:
    sig = inspect.signature(cls.__init__).parameters
    return {k: p.default for k, p in sig.items() if k != "self"}


def _add_param_flags(parser: argparse.ArgumentParser, cls) -> None:
    group = parser.add_argument_group(f"{cls.__name__} hyperparameters")
    for name, default in _model_defaults(cls).items():
        if name in ("verbose", "seed"):
            continue  # the command line owns these
        flag = "--" + name.replace("_", "-")
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        group.add_argument(flag, dest=f"param:{name}", default=argparse.SUPPRESS, metavar="V",
                           help=f"(default: {shown})")


def _read_config_file(path: str) -> dict:
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"config file {path} does not exist")
    text = p.read_text()
    if p.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise ValueError("reading a YAML config needs PyYAML: pip install pyyaml "
                             "(or write the config as JSON)") from None
        cfg = yaml.safe_load(text)
    else:
        try:
            cfg = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"config file {path} is not valid JSON: {exc}") from None
    if not isinstance(cfg, dict):
        raise ValueError(f"config file {path} must hold a mapping of hyperparameters")
    return cfg


def _collect_params(args, cls) -> tuple[dict, dict]:
    """Hyperparameters from --config then flags; returns (model params, data options)."""
    defaults = _model_defaults(cls)
    params, data = {}, {}
    if args.config:
        for key, value in _read_config_file(args.config).items():
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
                params[name] = _parse_value(text, defaults[name])
            except ValueError as exc:
                flag = "--" + name.replace("_", "-")
                raise ValueError(f"{flag}: {exc}") from None
    return params, data


# -- data ----------------------------------------------------------------------------------
def _data_spec(args, from_config: dict | None = None, saved: dict | None = None) -> dict:
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
    return spec


def _load_data(spec: dict):
    split = spec["split"]
    if isinstance(split, str) and split not in ("auto", "official"):
        split = float(split)
    return datasets.load(spec["data"], binarize=spec["binarize"], split=split, seed=spec["seed"])


def _binarize_arg(text: str):
    if text in ("threshold", "stochastic"):
        return text
    if text.lower() in ("false", "no", "none", "off"):
        return False
    raise argparse.ArgumentTypeError("--binarize takes 'threshold' (default) or 'stochastic'")


# -- commands ------------------------------------------------------------------------------
def _print(*parts) -> None:
    print(*parts, flush=True)


def cmd_train(args) -> int:
    cls = registry.get(args.model)
    params, cfg_data = _collect_params(args, cls)
    out = Path(args.out or f"runs/{args.model}")
    resuming = args.resume and io.is_checkpoint(out)
    saved_data = io.read_config(out).get("data") if resuming else None
    spec = _data_spec(args, cfg_data, saved_data)
    train, test = _load_data(spec)
    if resuming:
        model = io.load(out)
        if model._registry_name != cls._registry_name:
            raise ValueError(f"--resume: {out} holds a {model._registry_name} model, not "
                             f"{cls._registry_name}")
        model.set_params(**params, verbose=not args.quiet)
        _print(f"resuming {out} from epoch {model.epochs_trained_}")
    else:
        if out.exists() and any(out.iterdir()) and not args.force:
            raise ValueError(f"output folder {out} exists and is not empty; use --force to "
                             "overwrite it or --resume to continue training")
        if train.image_shape is not None and "image_shape" in _model_defaults(cls):
            params.setdefault("image_shape", tuple(train.image_shape))
        model = cls(**params, seed=spec["seed"], verbose=not args.quiet)
    every = args.checkpoint_every

    def callback(epoch, record):
        if every and epoch % every == 0:
            io.save(model, out, data=spec)

    conditional = args.labels or (resuming and getattr(model, "classes_", None) is not None)
    y = train.y if conditional else None
    if conditional and train.y is None:
        raise ValueError(f"--labels: data set {spec['data']} has no class labels")
    t0 = time.perf_counter()
    try:
        model.fit(train.X, y, resume=resuming, callback=callback)
    except KeyboardInterrupt:
        if getattr(model, "is_fitted_", False):
            io.save(model, out, data=spec)
            print(f"genlearn: interrupted; saved the last finished epoch to {out}",
                  file=sys.stderr)
        raise
    except Exception:
        if getattr(model, "is_fitted_", False) and getattr(model, "history_", None):
            io.save(model, out, data=spec)  # the last good weights, for inspection or resume
            print(f"genlearn: kept the last good checkpoint in {out}", file=sys.stderr)
        raise
    seconds = time.perf_counter() - t0
    io.save(model, out, data=spec)
    _print(f"trained {cls.__name__} on {spec['data']} ({len(train)} examples, "
           f"{model.epochs_trained_} epochs) in {seconds:.1f} s")
    _print(f"checkpoint: {out}")
    _write_pictures(model, out, train)
    if args.evaluate and test is not None:
        metrics = model.evaluate(test.X, test.y if y is not None else None)
        if "log_likelihood" in metrics:
            _print(f"held-out log-likelihood: {metrics['log_likelihood']:.3f} nats per example "
                   f"({metrics['estimator']}, {metrics['n']} examples)")
        else:  # no likelihood (GAN): the sample-based metrics its evaluate reports
            shown = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()
                              if isinstance(v, float))
            _print(f"held-out sample metrics ({metrics['n']} examples): {shown}")
        coverage = _mode_metrics(model, test)
        if coverage:
            _print(f"mode coverage ({MODE_SAMPLES} samples): {coverage['modes_captured']}/"
                   f"{coverage['n_modes']} modes, {100 * coverage['high_quality']:.1f}% high "
                   f"quality, reverse KL {coverage['reverse_kl']:.4f}, spread "
                   f"{coverage['spread']:.2f}")
    return 0


MODE_SAMPLES = 2500  # the PacGAN / VEEGAN protocol


def _mode_metrics(model, data) -> dict:
    """Mode coverage of 2,500 samples when ``data`` is a mixture with known modes, else {}."""
    from .metrics import mode_coverage

    modes = datasets.known_modes(data)
    if modes is None or not getattr(type(model), "trains_on_rows", True):
        return {}
    fake = _sample(model, MODE_SAMPLES, y=_every_class(model, MODE_SAMPLES), seed=0)
    fake = fake.reshape(MODE_SAMPLES, -1)
    r = mode_coverage(fake, *modes)
    return {k: r[k] for k in ("modes_captured", "n_modes", "high_quality", "reverse_kl",
                              "spread")}


def _write_pictures(model, out: Path, train) -> None:
    from . import viz

    history = getattr(model, "history_", None)
    if history:
        path = viz.save_training_curve(history, out / "curve.png",
                                       title=f"{type(model).__name__} on training data")
        _print(f"training curve: {path}")
    shape = getattr(model, "image_shape_", None)
    if shape is not None:
        samples = _sample(model, 64, y=_every_class(model, 64), seed=0, mean=True)
        path = viz.save_image_grid(samples, out / "samples.png", image_shape=shape,
                                   title="64 new samples")
        _print(f"sample grid: {path}")
    elif train.X.ndim == 2 and train.X.shape[1] == 2 and getattr(type(model), "trains_on_rows",
                                                                  True):
        # 2-D points (ring, grid, moons, spirals, a 2-column table): samples over the data
        known = datasets.known_modes(train)
        pts = _sample(model, 1000, y=_every_class(model, 1000), seed=0).reshape(1000, 2)
        path = viz.save_scatter(pts, out / "samples.png", title="1,000 new samples",
                                reference=train.X[:2000],
                                modes=None if known is None else known[0],
                                radius=None if known is None else 3 * known[1])
        _print(f"sample scatter plot: {path}")


def _every_class(model, n: int):
    """n labels cycling through a conditional model's classes; None for other models."""
    classes = getattr(model, "classes_", None)
    return None if classes is None else np.resize(classes, n)


def _sample(model, n, *, y=None, seed=None, mean=False):
    kwargs = {"seed": seed}
    if "mean" in inspect.signature(model.sample).parameters:
        kwargs["mean"] = mean
    if y is not None:
        kwargs["y"] = y
    return model.sample(n, **kwargs)


def _atomic_save_array(path: Path, array: np.ndarray) -> None:
    with io.atomic_path(path) as tmp:
        if path.suffix.lower() == ".npy":
            with open(tmp, "wb") as f:
                np.save(f, array)
        else:
            np.savetxt(tmp, array.reshape(array.shape[0], -1), delimiter=",", fmt="%.6g")


def cmd_sample(args) -> int:
    model = io.load(args.checkpoint)
    path = Path(args.output)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".npy", ".csv"):
        raise ValueError(f"-o {path}: use a .png (image grid), .npy or .csv file name")
    y = _scalar(args.label) if args.label is not None else _every_class(model, args.n)
    mean = args.mean if args.mean is not None else suffix == ".png"
    samples = _sample(model, args.n, y=y, seed=args.seed, mean=mean)
    if suffix == ".png":
        shape = getattr(model, "image_shape_", None)
        if shape is None:
            raise ValueError("this model was not trained on images; write samples to a .npy or "
                             ".csv file instead")
        from . import viz

        viz.save_image_grid(samples, path, image_shape=shape)
    else:
        _atomic_save_array(path, np.asarray(samples))
    _print(f"wrote {args.n} samples to {path}")
    return 0


def cmd_evaluate(args) -> int:
    cfg = io.read_config(args.checkpoint)
    model = io.load(args.checkpoint)
    spec = _data_spec(args, None, cfg.get("data"))
    if args.k is not None and hasattr(model, "iw_samples"):
        model.set_params(iw_samples=args.k)
    _, test = _load_data(spec)
    labels = test.y if getattr(model, "classes_", None) is not None else None
    t0 = time.perf_counter()
    metrics = model.evaluate(test.X, labels)
    metrics.update(_mode_metrics(model, test))
    metrics["seconds"] = round(time.perf_counter() - t0, 3)
    metrics["data"] = spec["data"]
    if args.json:  # NaN / inf (e.g. spread with no high-quality sample) are not JSON: null
        _print(json.dumps({k: None if isinstance(v, float) and not np.isfinite(v) else v
                           for k, v in metrics.items()}, indent=2))
        return 0
    _print(f"{type(model).__name__} {args.checkpoint} on {spec['data']} held-out split "
           f"({metrics['n']} examples)")
    for key, value in metrics.items():
        if key in ("n", "data"):
            continue
        _print(f"  {key:<16} {value:.4f}" if isinstance(value, float) else f"  {key:<16} {value}")
    return 0


def cmd_info(args) -> int:
    cfg = io.read_config(args.checkpoint)
    model = io.load(args.checkpoint)
    state = cfg["state"]
    if args.json:
        _print(json.dumps({k: v for k, v in cfg.items() if k != "state"}, indent=2))
        return 0
    _print(f"{cfg['class']} ({cfg['model']}) checkpoint {args.checkpoint}")
    _print(f"  genlearn {cfg['genlearn_version']}, format version {cfg['format_version']}")
    _print(f"  data shape {tuple(cfg['data_shape'] or ())}, trained on {cfg.get('data', {})}")
    if "epochs_trained_" in state:
        _print(f"  epochs trained {state['epochs_trained_']}")
    history = state.get("history_") or []
    if history:
        last = {k: round(v, 4) if isinstance(v, float) else v for k, v in history[-1].items()}
        _print(f"  last epoch {last}")
    n_params = sum(p.numel() for p in model.net_.parameters()) if hasattr(model, "net_") else None
    if n_params is not None:
        _print(f"  parameters {n_params:,}")
    _print("  hyperparameters:")
    for key, value in cfg["params"].items():
        _print(f"    {key} = {value}")
    return 0


# -- parser ------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    from . import models  # noqa: F401  (registers every family)

    parser = argparse.ArgumentParser(prog="genlearn", description="Generative learning: train "
                                     "models, draw samples, measure log-likelihoods.")
    parser.add_argument("--version", action="version", version=f"genlearn {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def data_flags(p, default_none=True):
        p.add_argument("--data", default=None, help="data set name (digits, mnist, ring, grid, "
                       "moons, spirals) or a .npy/.npz/.csv file or image folder (default digits)")
        p.add_argument("--binarize", nargs="?", const="threshold", default=None,
                       type=_binarize_arg, help="binarize pixels: threshold (0.5) or stochastic")
        p.add_argument("--split", default=None, help="training fraction (default 0.8; MNIST: "
                       "its official split)")
        p.add_argument("--seed", type=int, default=None, help="seed for the split and training")

    train = sub.add_parser("train", help="train a model and save a checkpoint")
    models_sub = train.add_subparsers(dest="model", required=True, metavar="MODEL")
    for name in registry.names():
        cls = registry.get(name)
        if not getattr(cls, "trains_on_rows", True):
            continue  # sequence models train through their own commands (genlearn text ...)
        p = models_sub.add_parser(name, help=(cls.__doc__ or "").strip().splitlines()[0])
        data_flags(p)
        p.add_argument("--out", default=None, help="checkpoint folder (default runs/MODEL)")
        p.add_argument("--config", default=None, help="JSON or YAML file of hyperparameters")
        p.add_argument("--resume", action="store_true", help="continue training the checkpoint "
                       "in --out up to --epochs")
        p.add_argument("--force", action="store_true", help="overwrite a non-empty --out")
        p.add_argument("--labels", action="store_true", help="train a class-conditional model")
        p.add_argument("--checkpoint-every", type=int, default=10, metavar="N",
                       help="save a checkpoint every N epochs (0: only at the end)")
        p.add_argument("--no-evaluate", dest="evaluate", action="store_false",
                       help="skip the held-out log-likelihood at the end")
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
        _add_param_flags(p, cls)
        p.set_defaults(func=cmd_train)

    p = sub.add_parser("sample", help="draw new examples from a checkpoint")
    p.add_argument("checkpoint")
    p.add_argument("-n", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("-o", "--output", default="samples.png", help=".png grid, .npy or .csv")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--label", default=None, help="class label (conditional models)")
    p.add_argument("--mean", dest="mean", action="store_true", default=None,
                   help="write E[x|z] (default for .png)")
    p.add_argument("--draw", dest="mean", action="store_false",
                   help="write draws from p(x|z) (default for .npy/.csv)")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("evaluate", help="held-out log-likelihood and other metrics")
    p.add_argument("checkpoint")
    data_flags(p)
    p.add_argument("-k", type=int, default=None, help="importance samples (VAE)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("info", help="describe a checkpoint")
    p.add_argument("checkpoint")
    p.add_argument("--json", action="store_true", help="print the config as JSON")
    p.set_defaults(func=cmd_info)

    from .apps.text import add_subparser as add_text  # genlearn text train / generate
    from .compare import add_subparser as add_compare  # genlearn compare (logic in compare.py)

    add_text(sub)
    add_compare(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.debug else logging.WARNING,
                        format="genlearn: %(message)s")
    if getattr(args, "n", 1) is not None and args.command == "sample" and args.n <= 0:
        parser.exit(2, f"genlearn: error: -n must be a positive integer; got {args.n}\n")
    try:
        return args.func(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("genlearn: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one clear line, unless --debug
        if args.debug:
            raise
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"genlearn: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
