"""Train several model families on one data set and say, with numbers and pictures, which
generates best: ``genlearn compare`` and :func:`compare`.

    import genlearn as gl
    records = gl.compare("digits", models=["vae", "gan", "rbm"], budget="120s",
                         out="reports/digits")

Every model gets the same training-time budget (or the same number of epochs), then all are
scored on the same held-out split: log-likelihood with its estimator (where the family has
one), and in a feature space (:func:`genlearn.metrics.feature_space`) the Fréchet distance,
precision, recall, density, coverage and the classifier two-sample accuracy of ``n_samples``
new samples against the held-out rows; plus the memorisation share of the samples against the
training rows (in data space). The same numbers for real data -- the held-out rows against as
many training rows as there are samples -- are the floor: what a perfect model would reach at
these sample sizes.

The budget works in epoch chunks. A model with an ``epochs`` hyperparameter and
``fit(..., resume=True)`` (the gradient-trained families) first trains one epoch; the wall-clock
time of each chunk gives the time per epoch, and the next chunk is half the epochs that fit in
the time left, rounded up, and at most double the epochs done so far (so neither a fast first
estimate nor a machine that slows down mid-chunk overshoots much). Training stops when less
than one epoch's time is left; every model gets at least one epoch. A model without that
interface (EM or counting families) is fitted once and its time is reported as it is.
``epochs=N`` instead trains every chunkable model for N epochs. Budget runs depend on the
machine's speed and so are not bit-for-bit repeatable; ``epochs`` runs are.
"""

from __future__ import annotations

import json
import logging
import math
import numbers
import os
import re
import time
from pathlib import Path

import numpy as np

from . import _compare_report, datasets, registry
from ._compare_report import REPORT_FILE, REPORT_FILES, REPORT_FORMAT
from ._version import __version__

log = logging.getLogger(__name__)

FLOOR_NAME = "real data (floor)"
COLUMNS = ("model", "status", "reason", "log_likelihood", "log_likelihood_se", "estimator",
           "frechet_distance", "precision", "recall", "density", "coverage", "c2st_accuracy",
           "memorisation_share", "modes_captured", "high_quality", "epochs", "train_time_s",
           "sample_time_s", "n_samples")

_UNITS = {"": 1.0, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


# -- input checks -------------------------------------------------------------------------------
def parse_budget(budget) -> float | None:
    """Seconds from ``120``, ``"120"``, ``"120s"``, ``"2m"``, ``"1.5h"``; None stays None."""
    if budget is None:
        return None
    if isinstance(budget, numbers.Real) and not isinstance(budget, bool):
        seconds = float(budget)
    else:
        match = re.fullmatch(r"\s*([-+]?[0-9]*\.?[0-9]+(?:e[-+]?\d+)?)\s*([a-z]*)\s*",
                             str(budget).lower())
        if match is None or match.group(2) not in _UNITS:
            raise ValueError(f"budget must be a time such as 120s, 2m or 1h; got {budget!r}")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"budget must be a positive time; got {budget!r}")
    return seconds


def _check_models(models) -> list[str]:
    if models is None:
        return registry.names()
    if isinstance(models, str):
        models = [m for m in models.split(",")]
    names = [str(m).strip().lower() for m in models]
    if not names or any(not m for m in names):
        raise ValueError(f"models must be a comma-separated list of model names; got {models!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"models lists a model twice: {','.join(names)}")
    for name in names:
        registry.get(name)  # "unknown model 'x'; known models: ..."
    return names


def is_report(path) -> bool:
    """True when ``path`` is a folder written by :func:`compare`."""
    file = Path(path) / REPORT_FILE
    if not file.is_file():
        return False
    try:
        return json.loads(file.read_text()).get("format") == REPORT_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def _check_out(out, force: bool) -> Path | None:
    if out is None:
        return None
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise ValueError(f"output {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not is_report(out):
        if not force:
            raise ValueError(f"output folder {out} exists and is not a genlearn compare report; "
                             "use --force (force=True) to write into it anyway")
        # --force adds the report beside the folder's files; it never replaces one of them
        taken = [name for name in REPORT_FILES if (out / name).exists()]
        if taken:
            raise ValueError(f"output folder {out} already has {', '.join(taken)}, not written "
                             "by genlearn compare; choose another folder")
    return out


def _load(data, binarize, split, seed):
    """(train, test, description) for a data-set name or path, or a (train, test) pair."""
    if isinstance(data, tuple) and len(data) == 2:
        train, test = data
        if not (isinstance(train, datasets.Dataset) and isinstance(test, datasets.Dataset)):
            raise ValueError("data must be a name, a path or a (train, test) pair of Datasets")
        return train, test, train.name
    if binarize == "auto":
        # images in [0, 1] are binarized, as the Bernoulli likelihoods of the VAE and RBM need
        full = datasets.load(data, split=None, seed=seed)
        if isinstance(full, tuple):
            full = full[0]
        binarize = full.image_shape is not None and full.domain == "unit"
    loaded = datasets.load(data, binarize=binarize, split=split, seed=seed)
    if not isinstance(loaded, tuple):
        raise ValueError("split=None gives no held-out rows; compare needs a train/test split")
    train, test = loaded
    what = f"{train.name}{' (binarized)' if binarize else ''}"
    return train, test, what


# -- training under a budget ----------------------------------------------------------------------
def _can_chunk(model) -> bool:
    return type(model).resumable and "epochs" in model.get_params()


def _train(model, X, budget: float | None, epochs: int | None,
           clock=time.perf_counter) -> tuple[float, int | None, str]:
    """Fit ``model``; returns (seconds, epochs trained or None, a note for the report)."""
    if not _can_chunk(model):
        t0 = clock()
        model.fit(X)
        seconds = clock() - t0
        note = ""
        if budget is not None:
            note = (f"fitted in one call (no epochs to cut); {seconds:.1f} s of the "
                    f"{budget:.0f} s budget")
        return seconds, getattr(model, "epochs_trained_", None), note
    if budget is None:
        model.set_params(epochs=epochs)
        t0 = clock()
        model.fit(X)
        return clock() - t0, model.epochs_trained_, ""
    cap = epochs if epochs is not None else 10**9
    spent, done, per_epoch = 0.0, 0, math.inf
    while done < cap:
        fit = 1 if done == 0 else int((budget - spent) // per_epoch) if per_epoch > 0 else cap
        if fit < 1:
            break
        # half of what fits (rounded up): a machine that slows down mid-chunk overshoots little
        chunk = 1 if done == 0 else min(cap - done, 2 * done, math.ceil(fit / 2))
        model.set_params(epochs=done + chunk)
        t0 = clock()
        model.fit(X, resume=done > 0)
        took = clock() - t0
        spent += took
        reached = int(model.epochs_trained_)
        per_epoch = took / max(reached - done, 1)
        if reached < done + chunk:  # the model stopped early (early stopping): respect it
            done = reached
            break
        done = reached
    note = ""
    if done == 1 and spent > budget:
        note = (f"one epoch (the minimum) took {spent:.1f} s, more than the {budget:.0f} s "
                "budget")
    return spent, done, note


def _build(name: str, params: dict, train, seed: int, verbose: bool):
    cls = registry.get(name)
    accepted = cls().get_params(deep=False)  # the constructor only stores its arguments
    kwargs = dict(params)
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ValueError(f"params for {name}: unknown hyperparameter(s) {', '.join(unknown)}")
    if "seed" in accepted:
        kwargs.setdefault("seed", seed)
    if "verbose" in accepted:
        kwargs.setdefault("verbose", verbose)
    if "image_shape" in accepted and train.image_shape is not None:
        kwargs.setdefault("image_shape", tuple(train.image_shape))
    return cls(**kwargs)


# -- evaluation ------------------------------------------------------------------------------
def _sample_metrics(fake: np.ndarray, new_rows: np.ndarray, ctx: dict) -> dict:
    """Metrics of the rows ``fake``: in feature space against the held-out rows, mode coverage
    (mixtures with known modes); and the memorisation share of ``new_rows`` (data space)."""
    from . import metrics

    fake_feats = ctx["space"](fake)
    out = {"frechet_distance": metrics.frechet_distance(ctx["test_feats"], fake_feats)}
    if ctx["modes"] is not None:
        coverage = metrics.mode_coverage(fake, *ctx["modes"])
        out.update(modes_captured=coverage["modes_captured"],
                   high_quality=coverage["high_quality"])
    out.update(metrics.prdc(ctx["test_feats"], fake_feats, k=ctx["k"]))
    out["c2st_accuracy"] = metrics.c2st_accuracy(ctx["test_feats"], fake_feats, seed=ctx["seed"])
    out["memorisation_share"] = metrics.memorisation_share(new_rows, ctx["train_X"])
    return out


def _empty_record(model: str, status: str, reason: str = "") -> dict:
    rec = dict.fromkeys(COLUMNS)
    rec.update(model=model, status=status, reason=reason)
    return rec


def _evaluate(name: str, model, test, ctx: dict) -> dict:
    from . import metrics

    rec = _empty_record(name, "ok")
    rec.update({k: v for k, v in metrics.log_likelihood(model, test.X).items() if k != "n"})
    n = ctx["n_samples"]
    t0 = time.perf_counter()
    samples = model.sample(n, seed=ctx["seed"])
    rec["sample_time_s"] = time.perf_counter() - t0
    fake = np.asarray(samples, dtype=np.float64).reshape(n, -1)
    if fake.shape[1] != test.n_features:
        raise ValueError(f"samples have {fake.shape[1]} features, the data {test.n_features}")
    rec.update(_sample_metrics(fake, fake, ctx))
    rec["n_samples"] = n
    ctx["samples"][name] = fake
    return rec


# -- the command ------------------------------------------------------------------------------
def compare(data="digits", models=None, *, budget="60s", epochs: int | None = None, out=None,
            force: bool = False, params: dict | None = None, binarize="auto", split="auto",
            seed: int = 0, n_samples: int | None = None, k: int = 5,
            feature_cache: str | os.PathLike | None = None, verbose: bool = False,
            as_frame: bool | None = None):
    """Train each model under the same budget, score all on one held-out split, write a report.

    Parameters
    ----------
    data : str, path or (Dataset, Dataset)
        A data-set name (``"digits"``, ``"mnist"``, ``"ring"``, ...), a file, or a
        ``(train, test)`` pair.
    models : list of str or comma-separated str, optional
        Registered model names (default: every registered model). A model that cannot run on
        the data (a sequence model on images, data outside its domain) gets a row with the
        reason; when none can run, a ``ValueError`` lists them.
    budget : seconds or str, default "60s"
        Training time per model (``120``, ``"120s"``, ``"2m"``); see the module docstring for
        how it is spent. ``None`` with ``epochs`` trains a fixed number of epochs instead.
    epochs : int, optional
        Epochs per model; with a budget too, the most epochs within it.
    out : path, optional
        Folder for ``report.md``, ``results.json`` and the PNGs (``samples.png``,
        ``curves.png``, ``metrics.png``). A folder that exists, is not empty and is not an
        earlier report needs ``force=True``.
    params : dict, optional
        Hyperparameters per model name, e.g. ``{"vae": {"latent_dim": 8}}``.
    binarize : "auto", bool or str
        ``"auto"`` binarizes images with values in [0, 1] (threshold 0.5).
    split : float or "auto"
        Training fraction of a seeded random split; ``"auto"``: the data set's official split
        where it has one (MNIST), else 0.8.
    seed : int
        Seeds the split, every model and the sampling.
    n_samples : int, optional
        Samples per model (default: min(training rows, max(test rows, 1000))).
    k : int, default 5
        Neighbourhood size of precision/recall/density/coverage.
    feature_cache : path, optional
        Folder of the cached feature classifier (default ``~/.cache/genlearn/features``).
    as_frame : bool, optional
        Return a pandas DataFrame (None: when pandas is installed) or a list of dicts.

    Returns
    -------
    list of dict or pandas.DataFrame
        One record per model (``status`` "ok", "cannot run" or "failed", with ``reason``) and
        a last record for the real-data floor; keys are :data:`COLUMNS`.
    """
    from . import metrics
    from . import models as _models  # noqa: F401  (registers every family)
    from ._utils import check_int

    names = _check_models(models)
    if as_frame:
        _pandas()  # fail before training, not after
    seconds = parse_budget(budget)
    check_int(epochs, "epochs", low=1, allow_none=True)
    if seconds is None and epochs is None:
        raise ValueError("give a time budget or a number of epochs")
    check_int(seed, "seed", low=0)
    check_int(n_samples, "n_samples", low=2, allow_none=True)
    params = dict(params or {})
    stray = sorted(set(params) - set(names))
    if stray:
        raise ValueError(f"params given for model(s) not compared: {', '.join(stray)}")
    out = _check_out(out, force)
    train, test, what = _load(data, binarize, split, seed)

    built, records = {}, {}
    for name in names:
        model = _build(name, params.get(name, {}), train, seed, verbose)  # bad params: raise now
        if type(model).input_kind != "rows":
            records[name] = _empty_record(
                name, "cannot run", f"{type(model).__name__} trains on sequences, not on the "
                "rows of a table or images (input_kind='sequences')")
        else:
            built[name] = model
    if not built:
        raise ValueError(f"none of the models can run on {what}: "
                         + "; ".join(f"{n}: {r['reason']}" for n, r in records.items()))

    n = n_samples or min(len(train), max(len(test), 1000))
    if n > len(train):
        raise ValueError(f"n_samples={n} is more than the {len(train)} training rows that the "
                         "floor compares against")
    space = metrics.feature_space(train, cache_dir=feature_cache, seed=seed)
    rng = np.random.default_rng(seed)
    ctx = {"seed": seed, "k": k, "n_samples": n, "space": space, "test_feats": space(test.X),
           "train_X": train.X.astype(np.float64), "samples": {}, "notes": {},
           "modes": datasets.known_modes(train)}

    for name, model in built.items():
        log.info("compare: training %s on %s", name, what)
        try:
            took, n_epochs, note = _train(model, train.X, seconds, epochs)
        except (ValueError, TypeError) as exc:
            from .training import NonFiniteLossError

            status = "failed" if isinstance(exc, NonFiniteLossError) else "cannot run"
            records[name] = _empty_record(name, status, _one_line(exc))
            continue
        except Exception as exc:  # a bug in one family should not lose the others' results
            log.warning("compare: %s failed: %r", name, exc)
            records[name] = _empty_record(name, "failed", f"{type(exc).__name__}: "
                                          f"{_one_line(exc)}")
            continue
        try:
            rec = _evaluate(name, model, test, ctx)
        except Exception as exc:
            log.warning("compare: evaluating %s failed: %r", name, exc)
            rec = _empty_record(name, "failed", f"evaluation: {_one_line(exc)}")
        rec.update(train_time_s=took, epochs=n_epochs)
        if note:
            ctx["notes"][name] = note
        records[name] = rec
    ok = [r for r in records.values() if r["status"] == "ok"]
    if not ok:
        raise ValueError(f"none of the models can run on {what}: "
                         + "; ".join(f"{n}: {r['reason']}" for n, r in records.items()))

    # the floor: as many training rows as samples, scored like a model's samples
    real = ctx["train_X"][rng.choice(len(train), n, replace=False)]
    floor = _empty_record(FLOOR_NAME, "floor", "held-out rows against training rows")
    # (memorisation: the held-out rows, as training rows would be copies of themselves)
    floor.update(_sample_metrics(real, test.X.astype(np.float64), ctx), n_samples=n)
    ctx["samples"][FLOOR_NAME] = test.X
    rows = [records[name] for name in names] + [floor]

    if out is not None:
        settings = {"data": what, "n_train": len(train), "n_test": len(test), "budget_s": seconds,
                    "epochs": epochs, "seed": seed, "n_samples": n, "k": k,
                    "features": space.describe(), "params": params,
                    "genlearn_version": __version__, "cpu_count": os.cpu_count()}
        _compare_report.write(out, rows, settings, built, ctx, train, test)
    return _as_output(rows, as_frame)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _pandas():
    try:
        import pandas
    except ImportError:
        raise ValueError("as_frame=True needs pandas: pip install pandas") from None
    return pandas


def _as_output(rows: list[dict], as_frame: bool | None):
    if as_frame is False:
        return rows
    try:
        pd = _pandas()
    except ValueError:
        if as_frame:
            raise
        return rows
    return pd.DataFrame(rows, columns=list(COLUMNS))
