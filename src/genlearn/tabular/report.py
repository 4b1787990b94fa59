"""The report of ``genlearn augment evaluate``: metrics JSON, histograms and a heat map.

``write_report(real, synth, out, target=..., test=...)`` writes into the folder ``out``:

- ``metrics.json``: :func:`genlearn.metrics.tabular.evaluate` (column shapes, pair trends,
  detection, privacy and, with a target, TSTR beside TRTR);
- ``hist_<column>.png``: real vs synthetic histogram (numbers) or level shares (categories);
- ``correlation_difference.png``: |association real - association synthetic| for every pair
  (Pearson r for two numbers, Cramer's V otherwise);
- ``report.md``: the headline figures.

Every file is written atomically; nothing else in ``out`` is touched.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import atomic_path
from ..metrics import tabular as mt
from ..viz import _pyplot, _save_figure


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name))[:60] or "column"


def histogram(real: pd.Series, synth: pd.Series, kind: str, path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 3))
    if kind in mt.NUMERIC:
        a, b = mt._numbers(real), mt._numbers(synth)
        a, b = a[~np.isnan(a)], b[~np.isnan(b)]
        both = np.concatenate([a, b]) if len(a) + len(b) else np.zeros(1)
        bins = np.histogram_bin_edges(both, bins=30)
        ax.hist(a, bins=bins, density=True, alpha=0.5, label="real")
        ax.hist(b, bins=bins, density=True, alpha=0.5, label="synthetic")
    else:
        p = pd.Series(mt._labels(real)).value_counts(normalize=True)
        q = pd.Series(mt._labels(synth)).value_counts(normalize=True)
        p, q = p.align(q, fill_value=0.0)
        order = p.sort_values(ascending=False).index[:30]
        x = np.arange(len(order))
        ax.bar(x - 0.2, p[order], width=0.4, label="real")
        ax.bar(x + 0.2, q[order], width=0.4, label="synthetic")
        ax.set_xticks(x, [str(o)[:12] for o in order], rotation=60, fontsize=7)
    ax.set_title(str(real.name))
    ax.legend(fontsize=7)
    return _save_figure(fig, path)


def heat_map(cols: list[str], diff: np.ndarray, path) -> Path:
    plt = _pyplot()
    k = len(cols)
    fig, ax = plt.subplots(figsize=(1.2 + 0.4 * k, 1 + 0.4 * k))
    im = ax.imshow(diff, vmin=0.0, vmax=1.0, cmap="Reds")
    ax.set_xticks(range(k), [str(c)[:14] for c in cols], rotation=90, fontsize=7)
    ax.set_yticks(range(k), [str(c)[:14] for c in cols], fontsize=7)
    ax.set_title("|association real - synthetic|", fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.8)
    return _save_figure(fig, path)


def write_report(real: pd.DataFrame, synth: pd.DataFrame, out, *, target: str | None = None,
                 test: pd.DataFrame | None = None, seed: int = 0,
                 test_note: str = "") -> dict:
    """Compute every table metric and write the report folder; return the metrics."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"report path {out} is a file, not a folder")
    synth = mt.check_same_columns(real, synth)
    kinds = mt.column_kinds(real)
    metrics = mt.evaluate(real, synth, test, target, kinds=kinds, seed=seed)
    metrics["rows"] = {"real": len(real), "synthetic": len(synth),
                       "test": None if test is None else len(test)}
    if test_note:
        metrics["test_note"] = test_note
    out.mkdir(parents=True, exist_ok=True)
    for c, kind in kinds.items():
        if kind in mt.NUMERIC + mt.DISCRETE:
            histogram(real[c], synth[c], kind, out / f"hist_{_safe(c)}.png")
    pt = metrics["pair_trends"]
    if len(pt["columns"]) > 1:
        diff = np.abs(np.asarray(pt["real"]) - np.asarray(pt["synthetic"]))
        heat_map(pt["columns"], diff, out / "correlation_difference.png")
    with atomic_path(out / "metrics.json") as tmp:
        tmp.write_text(json.dumps(metrics, indent=2) + "\n")
    lines = [f"# Synthetic table report ({len(synth)} synthetic vs {len(real)} real rows)", "",
             f"- column shapes: {metrics['column_shapes']['score']:.3f}",
             f"- pair trends: {pt['score']:.3f}",
             f"- detection (C2ST accuracy, 0.5 is best): {metrics['detection']['accuracy']:.3f}"]
    if "privacy" in metrics:
        pv = metrics["privacy"]
        lines += [f"- exact copies of real rows: {pv['exact_copies']:.2%}",
                  f"- distance to closest real row (median): synthetic "
                  f"{pv['dcr_synthetic_median']:.4f}, real hold-out {pv['dcr_holdout_median']:.4f}"]
    if "tstr" in metrics:
        ts = metrics["tstr"]
        lines += ["", "| trained on | ROC AUC | accuracy | macro F1 |", "|---|---|---|---|"]
        for name in ("real", "synthetic"):
            s = ts[name]
            lines.append(f"| {name} | {s['roc_auc']:.3f} | {s['accuracy']:.3f} | "
                         f"{s['f1_macro']:.3f} |")
    if test_note:
        lines += ["", test_note]
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return metrics
