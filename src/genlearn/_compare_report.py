"""The files ``genlearn compare`` writes: report.md, results.json and three PNGs."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from .io import atomic_path

REPORT_FORMAT = "genlearn-compare"
REPORT_FILE = "results.json"  # written last: its presence marks a finished report
# every file write() may create (curves.png only when a model has a training history)
REPORT_FILES = ("report.md", REPORT_FILE, "samples.png", "curves.png", "metrics.png")

# (record key, column title, better) for the table and the bar chart
METRICS = (
    ("frechet_distance", "Fréchet ↓", "lower"),
    ("precision", "precision ↑", "higher"),
    ("recall", "recall ↑", "higher"),
    ("density", "density (1 = real)", "one"),
    ("coverage", "coverage ↑", "higher"),
    ("c2st_accuracy", "C2ST acc. (0.5 = real)", "half"),
    ("memorisation_share", "memorised (vs floor)", "floor"),
    ("modes_captured", "modes captured ↑", "higher"),  # mixtures with known modes only
    ("high_quality", "high-quality share ↑", "higher"),
)


def _shown(rows: list[dict]) -> list[tuple]:
    """The metrics some scored row has (mode coverage only for mixtures with known modes)."""
    scored = [r for r in rows if r["status"] in ("ok", "floor")]
    return [m for m in METRICS if any(r.get(m[0]) is not None for r in scored)]


def _fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _table(rows: list[dict]) -> list[str]:
    shown = _shown(rows)
    head = (["model", "log-likelihood (nats)", "estimator"] + [t for _, t, _ in shown]
            + ["epochs", "train s", "sample s"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        if r["status"] not in ("ok", "floor"):
            continue
        ll = "—"
        if r["log_likelihood"] is not None:
            ll = f"{r['log_likelihood']:.2f} ± {r['log_likelihood_se']:.2f}"
        name = f"*{r['model']}*" if r["status"] == "floor" else f"`{r['model']}`"
        cells = [name, ll, r["estimator"] or "—"] + [_fmt(r[k]) for k, _, _ in shown]
        cells += [_fmt(r["epochs"]), _fmt(r["train_time_s"], 1), _fmt(r["sample_time_s"], 2)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _markdown(rows, settings, notes, pictures) -> str:
    s = settings
    budget = (f"{s['budget_s']:.0f} s of training per model"
              + (f", at most {s['epochs']} epochs" if s["epochs"] else "")
              if s["budget_s"] else f"{s['epochs']} epochs per model")
    out = [f"# genlearn compare: {s['data']}", "",
           f"Data: {s['data']}, {s['n_train']} training and {s['n_test']} held-out rows. "
           f"Budget: {budget}. Seed {s['seed']}. genlearn {s['genlearn_version']}, "
           f"{s['cpu_count']} CPU cores; written {time.strftime('%Y-%m-%d %H:%M')}.", "",
           f"Every model draws {s['n_samples']} samples. Log-likelihood: mean over the held-out "
           "rows ± its standard error, by the family's own estimator. Sample metrics are "
           f"computed in the feature space: {s['features']}; precision, recall, density and "
           f"coverage use k = {s['k']} (Naeem et al. 2020); C2ST is the 5-fold accuracy of a "
           "5-NN classifier telling held-out rows from samples. Memorised: share of samples "
           "closer (in data space) to their nearest training row than that row is to its own "
           "nearest neighbour.", "",
           f"The last row, *{rows[-1]['model']}*, scores {s['n_samples']} training rows as if "
           "they were samples (memorisation: the held-out rows): the floor a perfect model "
           "reaches at these sizes.", ""]
    out += _table(rows)
    skipped = [r for r in rows if r["status"] in ("cannot run", "failed")]
    if skipped:
        out += ["", "Not in the table:", ""]
        out += [f"- `{r['model']}` ({r['status']}): {r['reason']}" for r in skipped]
    if notes:
        out += ["", "Notes:", ""] + [f"- `{name}`: {text}" for name, text in notes.items()]
    titles = {"samples.png": "Samples", "curves.png": "Training curves",
              "metrics.png": "Metrics"}
    for name in pictures:
        out += ["", f"## {titles[name]}", "", f"![{titles[name]}]({name})"]
    return "\n".join(out) + "\n"


def _samples_png(path: Path, samples: dict, image_shape, floor_name: str) -> None:
    from . import viz

    plt = viz._pyplot()
    names = [floor_name] + [n for n in samples if n != floor_name]
    fig, axes = plt.subplots(1, len(names), figsize=(2.6 * len(names), 2.9), squeeze=False)
    real = samples[floor_name]
    lo, hi = real.min(0), real.max(0)
    lo, hi = lo - 0.25 * (hi - lo), hi + 0.25 * (hi - lo)  # one scale for every panel
    for ax, name in zip(axes[0], names, strict=True):
        X = samples[name]
        title = "real (held-out)" if name == floor_name else name
        if image_shape is not None:
            imgs = np.clip(X[:64].reshape(-1, *image_shape), 0.0, 1.0)
            ax.imshow(viz.image_grid(imgs, ncols=8), cmap="gray_r", vmin=0, vmax=1,
                      interpolation="nearest")
            ax.set_axis_off()
        else:  # tables and 2-D sets: the first two columns, on the real data's scale
            j = 1 if X.shape[1] > 1 else 0
            pts = X[:2000]
            ax.scatter(pts[:, 0], pts[:, j], s=2, alpha=0.5)
            ax.set_xlim(lo[0], hi[0])
            ax.set_ylim(lo[j], hi[j])
            ax.set_xticks([])
            ax.set_yticks([])
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    viz._save_figure(fig, path)


def _curves_png(path: Path, models: dict) -> bool:
    from . import viz

    curves = {n: m.history_ for n, m in models.items() if getattr(m, "history_", None)}
    if not curves:
        return False
    plt = viz._pyplot()
    fig, axes = plt.subplots(1, len(curves), figsize=(4 * len(curves), 3), squeeze=False)
    for ax, (name, history) in zip(axes[0], curves.items(), strict=True):
        keys = [k for k, v in history[0].items()
                if k not in ("epoch", "time", "layer") and isinstance(v, (int, float))]
        if "loss" in keys and any(k in keys for k in ("elbo", "iwae_bound")):
            keys.remove("loss")  # the loss is minus the bound
        x = [r.get("epoch", i + 1) for i, r in enumerate(history)]
        label = "epoch"
        if any(b <= a for a, b in zip(x, x[1:], strict=False)):  # restarts (a DBN's layers)
            x, label = list(range(1, len(history) + 1)), "training record"
        for key in keys[:4]:
            ax.plot(x, [r.get(key, float("nan")) for r in history], lw=1.2, label=key)
        ax.set_xlabel(label)
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    viz._save_figure(fig, path)
    return True


def _metrics_png(path: Path, rows: list[dict]) -> None:
    from . import viz

    plt = viz._pyplot()
    ok = [r for r in rows if r["status"] == "ok"]
    floor = rows[-1]
    panels = _shown(rows)
    if any(r["log_likelihood"] is not None for r in ok):
        panels = [("log_likelihood", "log-likelihood ↑ (nats)", "higher")] + panels
    fig, axes = plt.subplots(1, len(panels), figsize=(2.3 * len(panels), 3), squeeze=False)
    names = [r["model"] for r in ok]
    for ax, (key, title, _) in zip(axes[0], panels, strict=True):
        values = [np.nan if r[key] is None else r[key] for r in ok]
        ax.bar(range(len(ok)), values, color=[f"C{i}" for i in range(len(ok))])
        if floor.get(key) is not None:
            ax.axhline(floor[key], color="k", ls="--", lw=1, label="real-data floor")
        ax.set_xticks(range(len(ok)), names, rotation=45, fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="best")
    fig.tight_layout()
    viz._save_figure(fig, path)


def write(out: Path, rows: list[dict], settings: dict, models: dict, ctx: dict, train,
          test) -> None:
    """Write the PNGs, report.md and (last, as the marker of a finished report) results.json."""
    out.mkdir(parents=True, exist_ok=True)
    floor_name = rows[-1]["model"]
    pictures = ["samples.png"]
    _samples_png(out / "samples.png", ctx["samples"], train.image_shape, floor_name)
    ok_models = {r["model"]: models[r["model"]] for r in rows if r["status"] == "ok"}
    if _curves_png(out / "curves.png", ok_models):
        pictures.append("curves.png")
    _metrics_png(out / "metrics.png", rows)
    pictures.append("metrics.png")
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text(_markdown(rows, settings, ctx["notes"], pictures))
    with atomic_path(out / REPORT_FILE) as tmp:
        tmp.write_text(json.dumps({"format": REPORT_FORMAT, "version": 1, "settings": settings,
                                   "records": rows}, indent=2, default=_json_default))


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")
