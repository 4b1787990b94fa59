"""``genlearn train MODEL``: train a model of rows (tables, images, 2-D points), save a checkpoint,
draw its pictures and report held-out metrics."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .. import datasets, distributed, io, registry
from ..training import launch
from ._common import (
    MODE_SAMPLES,
    add_data_flags,
    add_param_flags,
    collect_params,
    data_spec,
    draw,
    every_class,
    load_data,
    mode_metrics,
    model_defaults,
    say,
)


def add_parser(subparsers) -> None:
    train = subparsers.add_parser("train", help="train a model and save a checkpoint")
    models_sub = train.add_subparsers(dest="model", required=True, metavar="MODEL")
    for name in registry.names():
        cls = registry.get(name)
        if cls.input_kind != "rows":
            continue  # sequence models train through their own commands (genlearn text ...)
        p = models_sub.add_parser(name, help=(cls.__doc__ or "").strip().splitlines()[0])
        add_data_flags(p)
        p.add_argument("--out", default=None, help="checkpoint folder (default runs/MODEL)")
        p.add_argument("--config", default=None, help="JSON or YAML file of hyperparameters")
        p.add_argument("--resume", action="store_true", help="continue training the checkpoint "
                       "in --out up to --epochs")
        p.add_argument("--force", action="store_true", help="replace the genlearn checkpoint "
                       "in a non-empty --out")
        p.add_argument("--labels", action="store_true", help="train a class-conditional model")
        p.add_argument("--checkpoint-every", type=_count, default=10, metavar="N",
                       help="save a checkpoint every N epochs (0: only at the end)")
        p.add_argument("--no-evaluate", dest="evaluate", action="store_false",
                       help="skip the held-out log-likelihood at the end")
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
        p.add_argument("--nproc", type=_count, default=1, metavar="N", help="train in N "
                       "processes on this machine (starts torchrun: gloo on CPUs, NCCL with one "
                       "GPU each); rank 0 writes --out")
        add_param_flags(p, cls)
        p.set_defaults(func=cmd_train)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0; got {text}")
    return value


def _check_out(out: Path, args, cls) -> None:
    """Refuse, before any training, an --out that this run may not write."""
    if args.resume:
        if not out.exists():
            raise ValueError(f"--resume: {out} does not exist; train without --resume to start "
                             "a new model there")
        io.read_config(out)  # "not a genlearn checkpoint: ..." for anything else
        if not cls.resumable:
            raise ValueError(f"--resume: {cls.__name__} cannot continue training "
                             "(resumable=False); train a new model instead")
        return
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not args.force:
            raise ValueError(f"output folder {out} exists and is not empty; use --force to "
                             "replace its checkpoint or --resume to continue training")
        if not io.is_checkpoint(out):
            raise ValueError(f"--force: {out} is not empty and is not a genlearn checkpoint; "
                             "genlearn overwrites only its own checkpoints (choose another --out)")


def cmd_train(args) -> int:
    return launch.run(args, _train, getattr(args, "param:device", "auto"))


def _train(args) -> int:
    cls = registry.get(args.model)
    if args.labels and not cls.conditional:
        raise ValueError(f"--labels: {cls.__name__} is not a class-conditional model "
                         "(conditional=False)")
    params, cfg_data = collect_params(args, cls)
    out = Path(args.out or f"runs/{args.model}")
    if distributed.rank() == 0:  # only rank 0 writes --out
        _check_out(out, args, cls)
    resuming = args.resume
    saved = io.read_config(out) if resuming else {}
    saved_data = saved.get("data")
    spec = data_spec(args, cfg_data, saved_data)
    if resuming:
        model = io.load(out)
        if model._registry_name != cls._registry_name:
            raise ValueError(f"--resume: {out} holds a {model._registry_name} model, not "
                             f"{cls._registry_name}")
        target = params.get("epochs", model.get_params().get("epochs"))
        done = getattr(model, "epochs_trained_", None)
        if target is not None and done is not None and target <= done:
            raise ValueError(f"--resume: {out} has already trained {done} epochs; pass "
                             f"--epochs above {done} to train more")
    train, test = load_data(spec)
    if resuming:
        model.set_params(**params, verbose=not args.quiet)
        say(f"resuming {out} from epoch {model.epochs_trained_}")
    else:
        if train.image_shape is not None and "image_shape" in model_defaults(cls):
            params.setdefault("image_shape", tuple(train.image_shape))
        model = cls(**params, seed=spec["seed"], verbose=not args.quiet)
    if distributed.rank() != 0:  # under torchrun: the same fit, writing nothing
        return launch.fit_other_rank(args, cls, model, train, resuming)
    every = args.checkpoint_every

    with io.checkpoint_lock(out):  # a second training into --out stops here, at once
        # the checks again, now that no other process can write --out: one may have finished
        # writing it while this one loaded its data
        _check_out(out, args, cls)
        if resuming and io.read_config(out)["weights_sha256"] != saved["weights_sha256"]:
            raise ValueError(f"--resume: another process rewrote {out} while this one was "
                             "starting; run the command again")
        return _fit_and_report(args, cls, model, out, spec, train, test, resuming, every)


def _fit_and_report(args, cls, model, out, spec, train, test, resuming, every) -> int:
    def callback(epoch, record):
        if every and epoch % every == 0:
            io.save(model, out, data=spec)

    conditional = args.labels or (resuming and getattr(model, "classes_", None) is not None)
    y = train.y if conditional else None
    if conditional and train.y is None:
        raise ValueError(f"--labels: data set {spec['data']} has no class labels")
    kwargs = {"resume": True} if resuming else {}
    if cls.epoch_trained:  # periodic checkpoints
        kwargs["callback"] = callback
    if cls.conditional:
        kwargs["y"] = y
    t0 = time.perf_counter()
    try:
        model.fit(train.X, **kwargs)
    except KeyboardInterrupt:
        if _has_finished_epoch(model):
            io.save(model, out, data=spec)
            print(f"genlearn: interrupted; saved the last finished epoch to {out}",
                  file=sys.stderr)
        raise
    except Exception:
        if _has_finished_epoch(model):
            io.save(model, out, data=spec)  # the last good weights, for resume
            print(f"genlearn: kept the last good checkpoint in {out}", file=sys.stderr)
        raise
    seconds = time.perf_counter() - t0
    io.save(model, out, data=spec)
    say(f"trained {cls.__name__} on {spec['data']} ({len(train)} examples, "
        f"{model.epochs_trained_} epochs) in {seconds:.1f} s")
    say(f"checkpoint: {out}")
    _write_pictures(model, out, train)
    if args.evaluate and test is not None:
        _report_heldout(model, test, y)
    return 0


def _has_finished_epoch(model) -> bool:
    return bool(getattr(model, "is_fitted_", False) and getattr(model, "history_", None))


def _report_heldout(model, test, y) -> None:
    metrics = model.evaluate(test.X, test.y if y is not None else None)
    if type(model).has_likelihood:
        say(f"held-out log-likelihood: {metrics['log_likelihood']:.3f} nats per example "
            f"({metrics['estimator']}, {metrics['n']} examples)")
    else:  # no likelihood (GAN): the sample-based metrics its evaluate reports
        shown = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if isinstance(v, float))
        say(f"held-out sample metrics ({metrics['n']} examples): {shown}")
    coverage = mode_metrics(model, test)
    if coverage:
        say(f"mode coverage ({MODE_SAMPLES} samples): {coverage['modes_captured']}/"
            f"{coverage['n_modes']} modes, {100 * coverage['high_quality']:.1f}% high "
            f"quality, reverse KL {coverage['reverse_kl']:.4f}, spread "
            f"{coverage['spread']:.2f}")


def _write_pictures(model, out: Path, train) -> None:
    from .. import viz

    history = getattr(model, "history_", None)
    if history:
        path = viz.save_training_curve(history, out / "curve.png",
                                       title=f"{type(model).__name__} on training data")
        say(f"training curve: {path}")
    shape = getattr(model, "image_shape_", None)
    if shape is not None:
        samples = draw(model, 64, y=every_class(model, 64), seed=0, mean=True)
        path = viz.save_image_grid(samples, out / "samples.png", image_shape=shape,
                                   title="64 new samples")
        say(f"sample grid: {path}")
    elif train.X.ndim == 2 and train.X.shape[1] == 2:
        # 2-D points (ring, grid, moons, spirals, a 2-column table): samples over the data
        known = datasets.known_modes(train)
        pts = draw(model, 1000, y=every_class(model, 1000), seed=0).reshape(1000, 2)
        path = viz.save_scatter(pts, out / "samples.png", title="1,000 new samples",
                                reference=train.X[:2000],
                                modes=None if known is None else known[0],
                                radius=None if known is None else 3 * known[1])
        say(f"sample scatter plot: {path}")
