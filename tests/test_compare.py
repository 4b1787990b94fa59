"""genlearn compare / gl.compare: budgets, the report, the floor, and clear errors."""

import importlib
import json

import numpy as np
import pytest

import genlearn as gl
from genlearn.base import GenerativeModel
from genlearn.cli import main

cm = importlib.import_module("genlearn.compare")  # the module (gl.compare is the function)

TINY_VAE = {"latent_dim": 2, "hidden": (16,), "iw_samples": 10, "batch_size": 200}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One feature cache for the session (tests/metrics/test_features.py uses the same folder),
    so the default digit classifier is trained once."""
    folder = tmp_path_factory.getbasetemp() / "genlearn-features"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def report(tmp_path_factory, cache):
    out = tmp_path_factory.mktemp("report") / "digits"
    rows = gl.compare("digits", models="vae,hmm", epochs=2, out=out, n_samples=300,
                      params={"vae": TINY_VAE}, feature_cache=cache, as_frame=False)
    return out, rows


def test_records_one_row_per_model_and_the_floor(report):
    _, rows = report
    assert [r["model"] for r in rows] == ["vae", "hmm", cm.FLOOR_NAME]
    assert all(set(r) == set(cm.COLUMNS) for r in rows)
    vae, hmm, floor = rows
    assert vae["status"] == "ok" and vae["epochs"] == 2 and vae["n_samples"] == 300
    assert vae["estimator"] == "importance-weighted (IWAE), k=10"
    assert -64 * np.log(2) < vae["log_likelihood"] < 0  # better than coin flips per pixel
    for key in ("precision", "recall", "coverage", "memorisation_share"):
        assert 0.0 <= vae[key] <= 1.0
    # the HMM is listed with its reason, not silently dropped
    assert hmm["status"] == "cannot run" and "sequences" in hmm["reason"]
    assert hmm["frechet_distance"] is None
    # real data against real data: indistinguishable, and far better than a 2-epoch tiny VAE
    assert floor["status"] == "floor" and floor["log_likelihood"] is None
    assert abs(floor["c2st_accuracy"] - 0.5) < 0.1
    assert floor["frechet_distance"] < vae["frechet_distance"]
    assert floor["coverage"] > vae["coverage"]
    assert floor["c2st_accuracy"] < vae["c2st_accuracy"]


def test_report_files(report):
    out, rows = report
    text = (out / "report.md").read_text()
    assert "| `vae` |" in text and "real data (floor)" in text
    assert "`hmm` (cannot run)" in text
    for png in ("samples.png", "curves.png", "metrics.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
        assert f"]({png})" in text
    saved = json.loads((out / "results.json").read_text())
    assert saved["format"] == "genlearn-compare" and saved["settings"]["n_samples"] == 300
    assert [r["model"] for r in saved["records"]] == [r["model"] for r in rows]
    assert cm.is_report(out)


def test_same_seed_same_numbers(report, cache, tmp_path):
    # epochs mode is repeatable: rerunning gives the same record (timings aside)
    _, rows = report
    again = gl.compare("digits", models="vae", epochs=2, n_samples=300,
                       params={"vae": TINY_VAE}, feature_cache=cache, as_frame=False)
    for key in ("log_likelihood", "frechet_distance", "precision", "recall", "c2st_accuracy",
                "memorisation_share"):
        assert again[0][key] == pytest.approx(rows[0][key]), key


# -- the budget ---------------------------------------------------------------------------------
class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class _Unsaved(GenerativeModel):
    """A model of rows for compare, which never saves it."""

    input_kind, conditional, has_likelihood, resumable, epoch_trained = (
        "rows", False, False, False, False)

    def sample(self, n, *, seed=None):
        raise NotImplementedError

    def _get_state(self):
        raise NotImplementedError

    def _set_state(self, meta, tensors):
        raise NotImplementedError


class _EpochModel(_Unsaved):
    """Each epoch advances a fake clock by ``seconds_per_epoch``; fit(resume=True) continues."""

    resumable = epoch_trained = True

    def __init__(self, epochs=1, seconds_per_epoch=0.1, clock=None, stop_at=None):
        self.epochs = epochs
        self.seconds_per_epoch = seconds_per_epoch
        self.clock = clock
        self.stop_at = stop_at

    def fit(self, X, *, resume=False):
        start = self.epochs_trained_ if resume else 0
        self.chunks_ = [*getattr(self, "chunks_", [])] if resume else []
        end = self.epochs if self.stop_at is None else min(self.epochs, self.stop_at)
        self.clock.now += (end - start) * self.seconds_per_epoch
        self.chunks_.append(end - start)
        self.epochs_trained_ = end
        return self


def test_budget_is_spent_in_growing_chunks():
    clock = _Clock()
    model = _EpochModel(clock=clock)
    seconds, epochs, note = cm._train(model, None, budget=1.05, epochs=None, clock=clock)
    # 1 epoch, then chunks of half what fits in the time left (rounded up), at most double the
    # epochs done: 9 epochs fit after the first -> 2 (doubling); 7 fit -> 4; 3 -> 2; 1 -> 1
    assert model.chunks_ == [1, 2, 4, 2, 1]
    assert epochs == 10 and seconds == pytest.approx(1.0) and note == ""


def test_budget_with_an_epoch_cap_and_early_stopping():
    clock = _Clock()
    model = _EpochModel(clock=clock)
    assert cm._train(model, None, budget=100.0, epochs=5, clock=clock)[1] == 5
    clock = _Clock()
    model = _EpochModel(clock=clock, stop_at=3)  # the model stops itself after 3 epochs
    assert cm._train(model, None, budget=100.0, epochs=None, clock=clock)[1] == 3


def test_a_first_epoch_longer_than_the_budget_still_trains_once():
    clock = _Clock()
    model = _EpochModel(clock=clock, seconds_per_epoch=5.0)
    seconds, epochs, note = cm._train(model, None, budget=1.0, epochs=None, clock=clock)
    assert (seconds, epochs) == (5.0, 1) and "more than the 1 s budget" in note


def test_parse_budget():
    assert cm.parse_budget("120s") == 120.0
    assert cm.parse_budget("2m") == 120.0
    assert cm.parse_budget("1.5h") == 5400.0
    assert cm.parse_budget(30) == 30.0
    assert cm.parse_budget(" 45 ") == 45.0
    for bad in ("0s", "-3", 0, "ten seconds", "5d", float("nan")):
        with pytest.raises(ValueError, match="budget"):
            cm.parse_budget(bad)


# -- bad input -----------------------------------------------------------------------------------
def test_bad_input_is_a_clear_error(tmp_path, cache):
    with pytest.raises(ValueError, match="unknown model 'nope'; known models:"):
        gl.compare("digits", models="vae,nope", out=None)
    with pytest.raises(ValueError, match="budget must be a positive time"):
        gl.compare("digits", models="vae", budget=0)
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        gl.compare("digits", models="vae", epochs=0)
    with pytest.raises(ValueError, match="twice"):
        gl.compare("digits", models="vae,vae")
    with pytest.raises(ValueError, match="params given for model.*gan"):
        gl.compare("digits", models="vae", params={"gan": {}})
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        gl.compare("digits", models="vae", params={"vae": {"widht": 3}}, epochs=1)
    with pytest.raises(ValueError, match="none of the models can run on digits.*hmm:.*sequences"):
        gl.compare("digits", models="hmm", epochs=1, feature_cache=cache)
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a genlearn compare report; use --force"):
        gl.compare("digits", models="vae", epochs=1, out=tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    (tmp_path / "report.md").write_text("my own report")
    with pytest.raises(ValueError, match="already has report.md, not written by genlearn"):
        gl.compare("digits", models="vae", epochs=1, out=tmp_path, force=True)
    assert (tmp_path / "report.md").read_text() == "my own report"


class _Copycat(_Unsaved):
    """Samples are training rows: the perfect memoriser (and it defines no likelihood)."""

    def __init__(self, seed=0):
        self.seed = seed

    def fit(self, X):
        self.X_ = np.asarray(X, dtype=np.float64)
        return self

    def sample(self, n, seed=None):
        return self.X_[np.random.default_rng(seed).choice(len(self.X_), n)]


class _Refuser(_Unsaved):
    def fit(self, X):
        raise ValueError("refuser needs data with exactly 3 columns\nsecond line")


def test_any_registered_model_runs_and_refusals_are_listed(monkeypatch, cache, tmp_path):
    from genlearn import registry

    monkeypatch.setitem(registry._MODELS, "copycat", _Copycat)
    monkeypatch.setitem(registry._MODELS, "refuser", _Refuser)
    rows = gl.compare("digits", models="copycat,refuser", budget="30s", n_samples=300,
                      feature_cache=cache, out=tmp_path / "r", as_frame=False)
    copy, refuser, floor = rows
    assert copy["status"] == "ok" and copy["log_likelihood"] is None
    assert copy["memorisation_share"] == 1.0 and floor["memorisation_share"] < 0.9
    assert copy["precision"] > 0.9  # training rows look real in every metric but memorisation
    assert refuser["status"] == "cannot run"
    assert refuser["reason"] == "refuser needs data with exactly 3 columns"
    text = (tmp_path / "r" / "report.md").read_text()
    assert "fitted in one call" in text and "`refuser` (cannot run)" in text
    # every model refusing the data is an error that names each reason
    with pytest.raises(ValueError, match="none of the models can run.*refuser: refuser needs"):
        gl.compare("digits", models="refuser", epochs=1, feature_cache=cache)


class _OneMode(_Copycat):
    """Collapsed: every sample is a training row from the mode of the first row."""

    def sample(self, n, seed=None):
        d = np.linalg.norm(self.X_ - self.X_[0], axis=1)
        near = self.X_[np.argsort(d)[: max(n, 50)]]
        return near[np.random.default_rng(seed).choice(len(near), n)]


def test_mixture_data_get_mode_coverage(monkeypatch, tmp_path, cache):
    from genlearn import registry

    monkeypatch.setitem(registry._MODELS, "copycat", _Copycat)
    monkeypatch.setitem(registry._MODELS, "onemode", _OneMode)
    rows = gl.compare("ring", models="copycat,onemode", budget="30s", n_samples=400,
                      out=tmp_path / "ring", as_frame=False)
    copy, one, floor = rows
    assert (copy["modes_captured"], floor["modes_captured"], one["modes_captured"]) == (8, 8, 1)
    # real points lie within 3 std of their centre with probability 1 - exp(-4.5) = 0.989 in 2-D
    assert abs(copy["high_quality"] - 0.989) < 0.02 and abs(floor["high_quality"] - 0.989) < 0.02
    # the collapsed model: perfect precision, poor recall and coverage (about 1 mode of 8)
    assert one["precision"] == 1.0 and one["coverage"] < 0.25 and one["recall"] < 0.25
    text = (tmp_path / "ring" / "report.md").read_text()
    assert "modes captured" in text and (tmp_path / "ring" / "samples.png").is_file()
    digits = gl.compare("digits", models="copycat", epochs=1, n_samples=200, as_frame=False,
                        feature_cache=cache)
    assert digits[0]["modes_captured"] is None  # no known modes


def test_as_frame_needs_pandas(cache):
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ValueError, match="needs pandas"):
            gl.compare("digits", models="vae", epochs=1, as_frame=True,
                       params={"vae": TINY_VAE}, feature_cache=cache)
    else:
        frame = gl.compare("digits", models="vae", epochs=1, as_frame=True, n_samples=200,
                           params={"vae": TINY_VAE}, feature_cache=cache)
        assert list(frame.columns) == list(cm.COLUMNS) and len(frame) == 2


def test_cli_compare_and_its_errors(tmp_path, cache, capsys):
    cfg = tmp_path / "params.json"
    cfg.write_text(json.dumps({"vae": {**TINY_VAE, "hidden": [16]}}))
    out = tmp_path / "rep"
    rc = main(["compare", "--models", "vae,hmm", "--epochs", "1", "--samples", "200", "--out",
               str(out), "--config", str(cfg), "--feature-cache", str(cache), "-q"])
    printed = capsys.readouterr().out
    assert rc == 0 and "real data (floor)" in printed and "hmm" in printed
    assert (out / "report.md").is_file()
    # writing over an earlier report needs no --force
    assert main(["compare", "--models", "vae", "--epochs", "1", "--samples", "200", "--out",
                 str(out), "--config", str(cfg), "--feature-cache", str(cache), "-q"]) == 0
    capsys.readouterr()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.txt").write_text("x")
    for argv, message in (
        (["--budget", "0s"], "budget must be a positive time"),
        (["--models", "vea"], "unknown model 'vea'"),
        (["--out", str(tmp_path / "other"), "--epochs", "1"], "use --force"),
    ):
        assert main(["compare", *argv]) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("genlearn: error: ") and message in err and "\n" not in err
