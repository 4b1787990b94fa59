"""benchmarks/gpu_check.py, the one script prepared for a lent GPU machine, runs end to end.

GPU time is scarce: a script that breaks on the GPU machine wastes the session's only chance,
so its seconds-long dry run (``--smoke --device cpu``) runs here. Every family must fit, sample,
score, save, reload on the CPU and agree, and every timing stage must record its figure.
"""

import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


def test_the_gpu_check_dry_run_passes_every_family_and_stage(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    gpu_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_check)
    monkeypatch.setattr(gpu_check, "RESULTS", {})
    missing_mnist = tmp_path / "no-mnist.pkl.gz"  # random rows of MNIST's shape instead
    assert gpu_check.main(["--smoke", "--device", "cpu", "--out", str(tmp_path),
                           "--mnist", str(missing_mnist)]) == 0
    results = json.loads((tmp_path / "gpu_check_smoke.json").read_text())
    families = {k.split(".", 1)[1] for k in results if k.startswith("family.")}
    assert {"vae", "gan", "rbm", "dbn", "hmm", "transformer", "rnn"} <= families
    assert all(results[f"family.{f}"]["agrees"] for f in families)
    assert not [k for k in results if k.startswith("stage.")]
    assert {"vae_mnist", "transformer"} <= set(results) and any(k.startswith("hmm_em_")
                                                                for k in results)
