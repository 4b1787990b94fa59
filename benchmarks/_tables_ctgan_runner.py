"""Run the ``ctgan`` package's TVAE or CTGAN on a CSV (benchmark helper, run by tables_tstr.py).

Runs in its own virtual environment (ctgan pins pandas < 3, genlearn's environment has 3.1), so
genlearn never depends on it:
    python -m venv /work/h8-ctgan-venv && /work/h8-ctgan-venv/bin/pip install ctgan==0.12.1
Usage: python _tables_ctgan_runner.py MODEL TRAIN.csv OUT.csv N_ROWS EPOCHS THREADS SEED DISCRETE...
"""

import json
import sys
import time

import numpy as np
import pandas as pd
import torch

model, train, out, n, epochs, threads, seed, *discrete = sys.argv[1:]
torch.set_num_threads(int(threads))
torch.manual_seed(int(seed))
np.random.seed(int(seed))
from ctgan import CTGAN, TVAE  # noqa: E402

df = pd.read_csv(train)
cls = {"tvae": TVAE, "ctgan": CTGAN}[model]
m = cls(epochs=int(epochs))
t0 = time.perf_counter()
m.fit(df, discrete_columns=discrete)
fit_s = time.perf_counter() - t0
m.sample(int(n)).to_csv(out, index=False)
print(json.dumps({"fit_seconds": fit_s}))
