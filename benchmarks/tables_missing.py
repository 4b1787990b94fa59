"""Missing values kept: the share of missing cells per column, real vs synthetic (credit_data
with its 455 missing cells, all 4,454 rows, as many synthetic rows, seed 0).

    python benchmarks/tables_missing.py --models cart vae
"""

import argparse
import json
import os
from pathlib import Path

import pandas as pd

from genlearn.tabular import TabularSynthesizer

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tables" / "credit_data.csv.gz"

ap = argparse.ArgumentParser()
ap.add_argument("--models", nargs="+", default=["cart"])
ap.add_argument("--epochs", type=int, default=300)
args = ap.parse_args()
df = pd.read_csv(DATA)
cols = [c for c in df.columns if df[c].isna().any()]
out = {"real": {c: float(df[c].isna().mean()) for c in cols}, "load": os.getloadavg()[0]}
for m in args.models:
    syn = TabularSynthesizer(model=m, epochs=args.epochs, seed=0, threads=1).fit(df)
    synth = syn.sample(len(df))
    out[m] = {c: float(synth[c].isna().mean()) for c in cols}
    assert list(synth.columns) == list(df.columns) and (synth.dtypes == df.dtypes).all()
print(json.dumps(out, indent=1))
Path(__file__).with_name("results").joinpath("tables_missing.json").write_text(
    json.dumps(out, indent=1) + "\n")
