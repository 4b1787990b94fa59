"""Print the markdown table of benchmarks/results/tables_*.json (means over seeds).

    python benchmarks/tables_summary.py
"""

import json
from pathlib import Path

import numpy as np

R = Path(__file__).with_name("results")
for table in ("credit_data", "mlc_churn", "breast_cancer", "penguins", "diamonds",
              "diamonds_sub5000"):
    runs, trtr = [], None
    for f in (R / f"tables_{table}.json", R / f"tables_{table}_ctgan.json"):
        if not f.exists():
            continue
        d = json.loads(f.read_text())
        trtr = trtr or d.get("trtr")
        src = "ctgan package" if f.stem.endswith("_ctgan") else "genlearn"
        runs += [{**r, "source": src} for r in d["runs"]]
    if not runs:
        continue
    print(f"\n{table}: TRTR ROC AUC {trtr['roc_auc']:.3f}, macro F1 {trtr['f1_macro']:.3f}\n")
    print("| model | seeds | TSTR ROC AUC | macro F1 | shapes | pairs | C2ST acc. | copies "
          "| DCR synth / hold-out | fit s | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    models = sorted({(r["source"], r["model"]) for r in runs})
    for src, m in models:
        rs = [r for r in runs if r["model"] == m and r["source"] == src]

        def mean(f, rs=rs):
            return float(np.mean([f(r) for r in rs]))
        auc = [r["tstr"]["roc_auc"] for r in rs]
        spread = f" ± {np.std(auc):.3f}" if len(rs) > 1 else ""
        base, plus, rest = m.partition("+")
        name = m if src == "genlearn" else f"ctgan {base.upper()}{plus}{rest}"
        print(f"| {name} | {len(rs)} | {np.mean(auc):.3f}{spread} | "
              f"{mean(lambda r: r['tstr']['f1_macro']):.3f} | "
              f"{mean(lambda r: r['column_shapes']):.3f} | "
              f"{mean(lambda r: r['pair_trends']):.3f} | "
              f"{mean(lambda r: r['detection']['accuracy']):.3f} | "
              f"{mean(lambda r: r['privacy']['exact_copies']):.3f} | "
              f"{mean(lambda r: r['privacy']['dcr_synthetic_median']):.4f} / "
              f"{mean(lambda r: r['privacy']['dcr_holdout_median']):.4f} | "
              f"{mean(lambda r: r['fit_seconds']):.0f} | {mean(lambda r: r['load_before']):.0f} |")
    rf = [r for r in runs if "rf_f1" in r]
    if rf:
        print("\nrandom forest F1 (the issue's: positive class benign = 1), real rows:",
              f"{rf[0]['rf_f1']['real']:.3f};",
              ", ".join(f"{r['model']} s{r['seed']} {r['rf_f1']['synthetic']:.3f}" for r in rf))
        for m in sorted({r["model"] for r in rf}):
            f1 = [r["rf_f1"]["synthetic"] for r in rf if r["model"] == m]
            print(f"  {m}: mean {np.mean(f1):.3f} over {len(f1)} seed(s)")
