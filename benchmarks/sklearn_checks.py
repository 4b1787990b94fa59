"""scikit-learn's ``check_estimator`` on every registered genlearn model.

Each model is built with the tiny settings of its contract example (tests/test_contract.py:
``_contract_example()`` or the suite's fallback table), so the ~40 checks finish in seconds;
a few extra configurations (``EXTRA``) show what a model passes on the kind of data it is
meant for (the Bernoulli VAE/RBM need data in [0, 1], which the checks' random data are not).
Prints one line per failed check and records everything in benchmarks/results/sklearn_checks.json.

    python benchmarks/sklearn_checks.py [--models vae gan ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXTRA = {  # name -> extra constructor keywords, run in addition to the defaults
    "vae": {"likelihood": "gaussian"},
    "rbm": {"visible": "gaussian"},
    "dbn": {"visible": "gaussian"},
}


def run(name: str, extra: dict) -> dict:
    from sklearn.utils.estimator_checks import check_estimator

    from genlearn import registry

    sys.path.insert(0, str(ROOT / "tests"))
    from test_contract import example

    ex = example(name)
    model = registry.get(name)(**{**ex["params"], **extra})
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(model, on_fail=None, on_skip=None)
    rows = [{"check": r["check_name"], "status": r["status"],
             "message": (str(r["exception"]).strip().splitlines() or [""])[0][:300]
             if r["exception"] else ""} for r in results]
    return {"model": name, "extra": extra, "seconds": time.perf_counter() - t0,
            "passed": sum(r["status"] == "passed" for r in rows),
            "failed": sum(r["status"] == "failed" for r in rows),
            "skipped": sum(r["status"] == "skipped" for r in rows), "checks": rows}


def main() -> None:
    from genlearn import registry

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=registry.names())
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "sklearn_checks.json"))
    args = ap.parse_args()
    out = []
    for name in args.models:
        for extra in ({}, *([EXTRA[name]] if name in EXTRA else [])):
            try:
                r = run(name, extra)
            except Exception as exc:  # e.g. a model without a contract example
                print(f"{name} {extra or ''}: not run ({exc})")
                continue
            out.append(r)
            print(f"{name} {extra or ''}: {r['passed']} passed, {r['failed']} failed, "
                  f"{r['skipped']} skipped ({r['seconds']:.0f} s)")
            for c in r["checks"]:
                if c["status"] == "failed":
                    print(f"    {c['check']}: {c['message'][:150]}")
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
