"""TSTR and fidelity of genlearn's table synthesizers beside the ``ctgan`` package's TVAE/CTGAN.

For each table: 70/30 split stratified on the target with seed 0 (rows with missing values
dropped, as for the issue's anchors, so the ctgan package can run), fit each model on the 70%,
draw as many rows, and score them with genlearn.metrics.tabular against the real 30%. ctgan's
models run in a separate environment (see _tables_ctgan_runner.py) with the same thread count.

    python benchmarks/tables_tstr.py --table credit_data --models vae copula tvae --seeds 0
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split

from genlearn.metrics import tabular as mt
from genlearn.tabular import TabularSynthesizer

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tables"
TARGETS = {"credit_data": "Status", "mlc_churn": "churn", "breast_cancer": "diagnosis",
           "penguins": "species", "diamonds": "cut"}  # diamonds: its quality grade as class
CTGAN_PY = os.environ.get("CTGAN_PYTHON", "/work/h8-ctgan-venv/bin/python")
OURS = {"vae": dict(model="vae"), "vae_quantile": dict(model="vae", normalization="quantile"),
        "gan": dict(model="gan"), "gan_quantile": dict(model="gan", normalization="quantile"),
        "copula": dict(model="copula"), "vae_raw": dict(model="vae", calibrate=False),
        "cart": dict(model="cart")}
# "<model>_target": the same with target=<the table's class column> (one model per class)
for _k in list(OURS):
    OURS[_k + "_target"] = {**OURS[_k], "target": True}


def load_table(name: str) -> pd.DataFrame:
    if name == "breast_cancer":
        from sklearn.datasets import load_breast_cancer

        d = load_breast_cancer(as_frame=True)
        df = d.data.copy()
        df["diagnosis"] = np.where(d.target == 1, "benign", "malignant")
        return df
    return pd.read_csv(DATA / f"{name}.csv.gz")


def load() -> float:
    return os.getloadavg()[0]


def run_ours(key, train, n, epochs, threads, seed, target, extra=None):
    kw = dict(OURS[key])
    if kw.pop("target", None):
        kw["target"] = target
    syn = TabularSynthesizer(**kw, **(extra or {}), epochs=epochs, seed=seed, threads=threads)
    t0 = time.perf_counter()
    syn.fit(train)
    fit_s = time.perf_counter() - t0
    return syn.sample(n), fit_s


def run_ctgan(key, train, n, epochs, threads, seed, discrete):
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "train.csv", Path(tmp) / "synth.csv"
        train.to_csv(src, index=False)
        res = subprocess.run([CTGAN_PY, str(Path(__file__).with_name("_tables_ctgan_runner.py")),
                              key, str(src), str(dst), str(n), str(epochs), str(threads),
                              str(seed), *discrete], capture_output=True, text=True)
        if res.returncode:
            raise RuntimeError(res.stderr[-2000:])
        fit_s = json.loads(res.stdout.strip().splitlines()[-1])["fit_seconds"]
        synth = pd.read_csv(dst)
    return synth.astype(train.dtypes.to_dict()), fit_s


def sklearn_codes(table: str, labels: pd.Series) -> np.ndarray:
    """The class codes scikit-learn's loader gives (breast cancer: malignant 0, benign 1)."""
    if table == "breast_cancer":
        return (labels.to_numpy() == "benign").astype(np.int64)
    return labels.to_numpy()


def rf_f1(train, synth, test, target):
    """The issue's breast-cancer anchor, measured as it reproduces (real rows: 0.963): a
    ``RandomForestClassifier(random_state=0)`` on scikit-learn's 0/1 codes, ``f1_score`` with
    its default ``pos_label=1`` (benign); the malignant-class and macro F1 beside it."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import f1_score

    X = [d.drop(columns=target).to_numpy() for d in (train, synth, test)]
    y = [sklearn_codes("breast_cancer", d[target]) for d in (train, synth, test)]
    out = {}
    for name, Xtr, ytr in (("real", X[0], y[0]), ("synthetic", X[1], y[1])):
        pred = RandomForestClassifier(random_state=0, n_jobs=1).fit(Xtr, ytr).predict(X[2])
        out[name] = float(f1_score(y[2], pred))
        out[name + "_malignant"] = float(f1_score(y[2], pred, pos_label=0))
        out[name + "_macro"] = float(f1_score(y[2], pred, average="macro"))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--table", required=True, choices=sorted(TARGETS))
    ap.add_argument("--models", nargs="+", default=["vae", "copula", "tvae"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--ctgan-epochs", type=int, default=300)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None)
    ap.add_argument("--rows-factor", type=float, default=1.0,
                    help="draw this many times the training rows (default 1)")
    ap.add_argument("--min-leaf", type=int, default=None,
                    help="cart: TabularSynthesizer(min_leaf=)")
    ap.add_argument("--smoothing", type=float, default=None,
                    help="cart: TabularSynthesizer(smoothing=)")
    ap.add_argument("--subsample", type=int, default=None,
                    help="use this many rows of the table (drawn with seed 0 before the split; "
                         "diamonds' 53,940 rows would take ctgan's models hours)")
    args = ap.parse_args(argv)
    extra = {k: v for k, v in (("min_leaf", args.min_leaf), ("smoothing", args.smoothing))
             if v is not None}
    # the settings beyond the model key name the run: e.g. cart_target+rows5+smoothing0.5
    tag = "".join([f"+rows{args.rows_factor:g}" if args.rows_factor != 1 else ""]
                  + [f"+{k}{v:g}" for k, v in extra.items()])
    torch.set_num_threads(args.threads)
    target = TARGETS[args.table]
    df = load_table(args.table).dropna().reset_index(drop=True)
    name = args.table  # a subsample's runs go to their own file, never among the full table's
    if args.subsample is not None and args.subsample < len(df):
        df = df.sample(n=args.subsample, random_state=0).reset_index(drop=True)
        name = f"{args.table}_sub{args.subsample}"
    # stratified on scikit-learn's class codes, so breast cancer gets the split (the
    # string labels order the classes the other way round and give another split)
    strata = sklearn_codes(args.table, df[target])
    train, test = train_test_split(df, test_size=0.3, stratify=strata, random_state=0)
    train, test = train.reset_index(drop=True), test.reset_index(drop=True)
    kinds = mt.column_kinds(train)
    discrete = [c for c, k in kinds.items() if k in ("categorical", "boolean")]
    out_path = Path(args.out or Path(__file__).with_name("results") / f"tables_{name}.json")
    results = json.loads(out_path.read_text()) if out_path.exists() else {}
    results.setdefault("runs", [])
    if results.get("subsample") != (None if name == args.table else args.subsample) \
            and results.get("runs"):
        raise SystemExit(f"{out_path} holds runs on another subsample ({results.get('subsample')})"
                         "; pass another --out")
    results.update({"table": args.table, "target": target,
                    "subsample": None if name == args.table else args.subsample,
                    "train_rows": len(train),
                    "test_rows": len(test), "threads": args.threads})
    base = mt.tstr(train, train, test, target)["real"]
    results["trtr"] = base
    print(f"{args.table}: {len(train)} train / {len(test)} test rows; TRTR {base}", flush=True)
    for key in args.models:
        for seed in args.seeds:
            load0 = load()
            n_rows = int(round(args.rows_factor * len(train)))
            if key in OURS:
                synth, fit_s = run_ours(key, train, n_rows, args.epochs, args.threads, seed,
                                        target, extra)
                epochs = args.epochs if not key.startswith(("copula", "cart")) else None
            else:
                synth, fit_s = run_ctgan(key, train, n_rows, args.ctgan_epochs, args.threads,
                                         seed, discrete)
                epochs = args.ctgan_epochs
            load1 = load()
            m = mt.evaluate(train, synth, test, target, seed=seed)
            rec = {"model": key + tag, "seed": seed, "rows": len(synth), "epochs": epochs,
                   "fit_seconds": round(fit_s, 1),
                   "load_before": load0, "load_after": load1,
                   "tstr": m["tstr"]["synthetic"], "column_shapes": m["column_shapes"]["score"],
                   "pair_trends": m["pair_trends"]["score"], "detection": m["detection"],
                   "privacy": m["privacy"]}
            if args.table == "breast_cancer":
                rec["rf_f1"] = rf_f1(train, synth, test, target)
            results["runs"] = [r for r in results["runs"]
                               if not (r["model"] == rec["model"] and r["seed"] == seed)] + [rec]
            print(json.dumps(rec), flush=True)
            out_path.parent.mkdir(parents=True, exist_ok=True)
            out_path.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
