"""Every CLI command run with tiny settings, and its error handling."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import genlearn as gl
from genlearn.cli import main

TINY = ["--epochs", "2", "--hidden", "16", "--latent-dim", "2", "--iw-samples", "20", "-q"]


def test_train_writes_checkpoint_and_pictures(trained, capsys):
    for name in ("config.json", "weights.safetensors", "curve.png", "samples.png"):
        assert (trained / name).is_file(), name
    model = gl.load(trained)
    assert model.hidden == (16,) and model.latent_dim == 2 and model.epochs_trained_ == 2
    cfg = json.loads((trained / "config.json").read_text())
    assert cfg["data"]["data"] == "digits" and cfg["data"]["binarize"] == "threshold"
    assert model.image_shape_ == (8, 8)


def test_sample_png_npy_csv(trained, tmp_path, capsys):
    assert main(["sample", str(trained), "-n", "9", "-o", str(tmp_path / "g.png")]) == 0
    assert (tmp_path / "g.png").stat().st_size > 0
    assert main(["sample", str(trained), "-n", "5", "-o", str(tmp_path / "s.npy"), "--seed",
                 "1"]) == 0
    arr = np.load(tmp_path / "s.npy")
    assert arr.shape == (5, 64) and set(np.unique(arr)) <= {0.0, 1.0}
    np.testing.assert_array_equal(arr, gl.load(trained).sample(5, seed=1))
    assert main(["sample", str(trained), "-n", "4", "-o", str(tmp_path / "s.csv")]) == 0
    assert np.loadtxt(tmp_path / "s.csv", delimiter=",").shape == (4, 64)
    assert "wrote 4 samples" in capsys.readouterr().out


def test_evaluate_uses_the_saved_split(trained, capsys):
    assert main(["evaluate", str(trained), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["n"] == 360 and "importance-weighted" in metrics["estimator"]
    train, test = gl.datasets.load("digits", binarize=True, split=0.8, seed=0)
    expected = gl.load(trained).score(test.X)
    assert metrics["log_likelihood"] == pytest.approx(expected)
    assert metrics["elbo"] <= metrics["log_likelihood"] + 0.5
    assert main(["evaluate", str(trained), "-k", "5"]) == 0
    assert "log_likelihood" in capsys.readouterr().out


def test_info(trained, capsys):
    assert main(["info", str(trained)]) == 0
    out = capsys.readouterr().out
    assert "VAE (vae)" in out and "epochs trained 2" in out and "latent_dim = 2" in out


def test_config_file_json_and_yaml(tmp_path, capsys):
    (tmp_path / "c.json").write_text(json.dumps({"latent_dim": 3, "hidden": [8], "epochs": 1,
                                                 "iw_samples": 5, "binarize": "threshold"}))
    assert main(["train", "vae", "--config", str(tmp_path / "c.json"), "--out",
                 str(tmp_path / "a"), "-q", "--latent-dim", "4"]) == 0
    m = gl.load(tmp_path / "a")
    assert (m.latent_dim, m.hidden, m.epochs) == (4, (8,), 1)  # the flag wins over the file
    (tmp_path / "c.yaml").write_text("latent_dim: 3\nhidden: [8]\nepochs: 1\niw_samples: 5\n"
                                     "binarize: threshold\n")
    assert main(["train", "vae", "--config", str(tmp_path / "c.yaml"), "--out",
                 str(tmp_path / "b"), "-q"]) == 0
    assert gl.load(tmp_path / "b").latent_dim == 3
    (tmp_path / "bad.json").write_text(json.dumps({"latnt_dim": 3}))
    assert main(["train", "vae", "--config", str(tmp_path / "bad.json"), "--out",
                 str(tmp_path / "c"), "-q"]) == 1
    assert "unknown hyperparameter 'latnt_dim'" in capsys.readouterr().err


def test_resume_continues(tmp_path, capsys):
    out = str(tmp_path / "r")
    assert main(["train", "vae", "--binarize", "--out", out, *TINY]) == 0
    assert main(["train", "vae", "--out", out, "--resume", "--epochs", "3", "-q"]) == 0
    model = gl.load(out)
    assert model.epochs_trained_ == 3 and len(model.history_) == 3
    assert "resuming" in capsys.readouterr().out


def test_labels_train_a_conditional_model(tmp_path):
    out = tmp_path / "c"
    assert main(["train", "vae", "--binarize", "--labels", "--out", str(out), *TINY]) == 0
    assert gl.load(out).classes_.tolist() == list(range(10))
    assert main(["sample", str(out), "-n", "3", "--label", "7", "-o",
                 str(tmp_path / "c.npy")]) == 0


def test_errors_are_one_line(trained, tmp_path, one_line_error):
    one_line_error(["train", "vae", "--data", "no-such-set", "--out",
                             str(tmp_path / "x"), *TINY], "no-such-set")
    one_line_error(["train", "vae", "--out", str(trained), *TINY], "--force")
    one_line_error(["train", "vae", "--latent-dim", "0", "--out", str(tmp_path / "y"),
                             "-q"], "latent_dim")
    one_line_error(["train", "vae", "--latent-dim", "two", "--out",
                             str(tmp_path / "y"), "-q"], "--latent-dim")
    one_line_error(["train", "vae", "--data", "ring", "--out", str(tmp_path / "y"),
                             *TINY], "outside [0, 1]")  # Bernoulli likelihood on 2-D points
    one_line_error(["sample", str(tmp_path / "nothing")], "no checkpoint")
    one_line_error(["info", str(tmp_path)], "not a genlearn checkpoint")
    one_line_error(["sample", str(trained), "-o", str(tmp_path / "s.txt")], ".png")
    with pytest.raises(SystemExit):
        main(["sample", str(trained), "-n", "0"])
    assert not list(tmp_path.glob(".*tmp*")), "a failed command left a temporary file"


def test_png_for_non_image_data_is_refused(tmp_path, one_line_error):
    out = tmp_path / "ring"
    assert main(["train", "vae", "--data", "ring", "--likelihood", "gaussian", "--out", str(out),
                 *TINY]) == 0
    one_line_error(["sample", str(out), "-o", str(tmp_path / "g.png")], "not trained on "
                    "images")
    assert main(["sample", str(out), "-n", "7", "-o", str(tmp_path / "s.npy")]) == 0
    assert np.load(tmp_path / "s.npy").shape == (7, 2)


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(ValueError):
        main(["--debug", "info", str(tmp_path)])


def test_console_script_entry_point(trained):
    exe = Path(sys.executable).with_name("genlearn")
    if not exe.exists():
        pytest.skip("genlearn is not installed as a console script in this environment")
    res = subprocess.run([str(exe), "info", str(trained)], capture_output=True, text=True)
    assert res.returncode == 0 and "VAE (vae)" in res.stdout
    res = subprocess.run([str(exe), "info", "/nonexistent"], capture_output=True, text=True)
    assert res.returncode == 1 and res.stderr.startswith("genlearn: error:")


def test_make_demo_job_runs(tmp_path):
    """`make demo` = install + this job; run the job itself with tiny settings."""
    root = Path(__file__).resolve().parents[2]
    if shutil.which("make") is None or not Path(sys.executable).with_name("genlearn").exists():
        pytest.skip("make or the installed genlearn command is missing")
    venv = Path(sys.executable).parent.parent
    out = tmp_path / "demo"
    res = subprocess.run(["make", "-s", "-C", str(root), "demo-run", f"VENV={venv}",
                          f"DEMO_OUT={out}", "DEMO_ARGS=--epochs 2 --iw-samples 10 -q"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert (out / "samples.png").is_file() and (out / "curve.png").is_file()
    assert "sample grid:" in res.stdout and "training curve:" in res.stdout
    assert "held-out log-likelihood" in res.stdout


def test_ctrl_c_keeps_the_last_finished_epoch(tmp_path, monkeypatch, capsys):
    real_fit = gl.VAE.fit

    def fit_then_interrupt(self, X, y=None, *, resume=False, callback=None):
        def cb(epoch, record):
            callback(epoch, record)
            if epoch == 2:
                raise KeyboardInterrupt
        return real_fit(self, X, y, resume=resume, callback=cb)

    monkeypatch.setattr(gl.VAE, "fit", fit_then_interrupt)
    out = tmp_path / "v"
    assert main(["train", "vae", "--binarize", "--out", str(out), *TINY[2:], "--epochs", "5",
                 "--checkpoint-every", "0"]) == 130
    assert gl.load(out).epochs_trained_ == 2
    assert "interrupted" in capsys.readouterr().err


def test_group_modules_load_when_present_and_report_their_own_missing_imports(monkeypatch):
    import importlib

    import genlearn.cli as cli

    assert cli._group_module("no_such_group") is None  # not landed yet: skipped
    for name in cli.CORE_GROUPS:
        assert callable(cli._group_module(name).add_parser)

    def broken(module):
        raise ModuleNotFoundError("No module named 'music21'", name="music21")

    monkeypatch.setattr(importlib, "import_module", broken)
    with pytest.raises(ModuleNotFoundError, match="music21"):
        cli._group_module("music")  # a group whose own import fails is not silently dropped


def test_help_lists_every_group_that_exists(capsys):
    import genlearn.cli as cli

    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name in cli.CORE_GROUPS + cli.APP_GROUPS:
        if name in cli.CORE_GROUPS or cli._group_module(name) is not None:
            assert any(line.split()[:1] == [name] for line in out.splitlines()), name
