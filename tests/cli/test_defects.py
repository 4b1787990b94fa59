"""The CLI defects of issue 10 (each test failed before its fix) and hostile input: every bad
case is one clear line on stderr, and nothing of the user's is lost."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

import genlearn as gl
from genlearn.cli import main

from .conftest import TINY


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def no_training(monkeypatch):
    """Any fit() fails the test: the command had to refuse before training."""

    def fit(self, *args, **kwargs):
        raise AssertionError("trained before refusing")

    monkeypatch.setattr(gl.VAE, "fit", fit)


# -- defect 10: refuse before training ---------------------------------------------------------
def test_force_refuses_a_folder_that_is_not_a_checkpoint_before_training(
        tmp_path, one_line_error, no_training):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    one_line_error(["train", "vae", "--binarize", "--out", str(mine), "--force", *TINY],
                   "not a genlearn checkpoint")
    assert _files(mine) == {"thesis.tex": b"precious"}


def test_resume_on_a_missing_folder_is_an_error(tmp_path, one_line_error, no_training):
    one_line_error(["train", "vae", "--out", str(tmp_path / "nope"), "--resume", "-q"],
                   "does not exist")
    assert list(tmp_path.iterdir()) == []


def test_resume_with_no_more_epochs_than_trained_says_so(trained, tmp_path, one_line_error,
                                                         no_training):
    out = tmp_path / "r"
    shutil.copytree(trained, out)
    before = _files(out)
    err = one_line_error(["train", "vae", "--out", str(out), "--resume", "--epochs", "2", "-q"],
                         "already trained 2 epochs")
    assert "--epochs above 2" in err
    one_line_error(["train", "vae", "--out", str(out), "--resume", "-q"], "already trained 2")
    assert _files(out) == before


def test_labels_for_an_unconditional_model_is_refused_before_training(tmp_path,
                                                                     one_line_error):
    one_line_error(["train", "rbm", "--binarize", "--labels", "--out", str(tmp_path / "r"),
                    "--epochs", "1", "-q"], "RBM is not a class-conditional model")
    assert list(tmp_path.iterdir()) == []


def test_resume_of_another_model_kind_is_refused(trained, tmp_path, one_line_error):
    out = tmp_path / "r"
    shutil.copytree(trained, out)
    one_line_error(["train", "rbm", "--out", str(out), "--resume", "--epochs", "5", "-q"],
                   "holds a vae model")


def test_usage_errors_are_one_line_too(capsys):
    for argv in (["bogus"], ["train", "vae", "--checkpoint-every", "-1"],
                 ["sample", "x", "-n", "0"], ["train", "vae", "--binarize", "maybe"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        err = capsys.readouterr().err
        assert exc.value.code == 2 and len(err.strip().splitlines()) == 1, err
        assert err.startswith("genlearn: error: ") and "--help)" in err


def test_seed_out_of_range_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "vae", "--seed", str(2**70), "--out", str(tmp_path / "x"), *TINY])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("genlearn: error: argument --seed: expected an integer in "
                          "[0, 2**32 - 1]; got 1180591620717411303424")
    assert len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit):
        main(["sample", "whatever", "--seed", "-1"])
    assert "argument --seed: expected an integer" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


# -- defect 10: .npz with several arrays ---------------------------------------------------------
def test_npz_with_several_arrays_names_them_and_file_key_chooses(tmp_path, one_line_error,
                                                                 capsys):
    rng = np.random.default_rng(0)
    feats = (rng.random((60, 6)) > 0.5).astype(float)
    np.savez(tmp_path / "d.npz", feats=feats, other=rng.random((60, 3)))
    err = one_line_error(["train", "vae", "--data", str(tmp_path / "d.npz"), "--out",
                          str(tmp_path / "v"), *TINY], "several arrays ('feats', 'other')")
    assert "d.npz:feats" in err
    assert not (tmp_path / "v").exists()
    assert main(["train", "vae", "--data", f"{tmp_path / 'd.npz'}:feats", "--out",
                 str(tmp_path / "v"), *TINY]) == 0
    assert gl.load(tmp_path / "v").data_shape == (6,)
    one_line_error(["train", "vae", "--data", f"{tmp_path / 'd.npz'}:nope", "--out",
                    str(tmp_path / "w"), *TINY], "has no array 'nope'")


# -- defect 6: data paths stored absolute --------------------------------------------------------
def test_a_data_file_given_relative_works_from_another_folder(tmp_path, monkeypatch, capsys):
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    elsewhere.mkdir()
    X = (np.random.default_rng(1).random((80, 5)) > 0.5).astype(float)
    np.save(work / "d.npy", X)
    monkeypatch.chdir(work)
    assert main(["train", "vae", "--data", "d.npy", "--out", "run", *TINY]) == 0
    stored = json.loads((work / "run" / "config.json").read_text())["data"]["data"]
    assert stored == str((work / "d.npy").resolve())
    monkeypatch.chdir(elsewhere)
    capsys.readouterr()
    assert main(["evaluate", str(work / "run"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 16
    assert main(["train", "vae", "--out", str(work / "run"), "--resume", "--epochs", "3",
                 "-q"]) == 0
    assert gl.load(work / "run").epochs_trained_ == 3


# -- defect 7: a GPU checkpoint on a machine without one ------------------------------------------
@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_a_checkpoint_saved_on_cuda_loads_on_the_cpu(trained, tmp_path, capsys, one_line_error):
    ck = tmp_path / "gpu"
    shutil.copytree(trained, ck)
    cfg = json.loads((ck / "config.json").read_text())
    cfg["params"]["device"] = "cuda"
    (ck / "config.json").write_text(json.dumps(cfg))
    assert gl.load(ck).device_ == torch.device("cpu")
    assert main(["info", str(ck)]) == 0
    assert main(["sample", str(ck), "-n", "3", "-o", str(tmp_path / "s.npy"), "--seed", "0"]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "s.npy"), gl.load(trained).sample(3, seed=0))
    assert main(["evaluate", str(ck), "--device", "cpu", "--json"]) == 0
    capsys.readouterr()
    err = one_line_error(["info", str(ck), "--device", "cuda"], "no CUDA GPU")
    assert "weights" not in err and "--device cpu" in err


# -- defect 10: sequence models and broken pipes ---------------------------------------------------
def test_sample_from_an_ngram_checkpoint_writes_sequences(tmp_path, one_line_error):
    seqs = [np.array([0, 1, 2, 1, 0, 2, 2, 1]), np.array([1, 2, 0, 0, 1])]
    model = gl.NGram(order=2, verbose=False).fit(seqs)
    model.save(tmp_path / "ng")
    assert main(["sample", str(tmp_path / "ng"), "-n", "4", "--length", "6", "--seed", "3",
                 "-o", str(tmp_path / "s.npy")]) == 0
    got = np.load(tmp_path / "s.npy")
    np.testing.assert_array_equal(got, np.stack(model.sample(4, 6, seed=3)))
    assert main(["sample", str(tmp_path / "ng"), "-n", "2", "--length", "3", "-o",
                 str(tmp_path / "s.csv")]) == 0
    assert np.loadtxt(tmp_path / "s.csv", delimiter=",", dtype=int).shape == (2, 3)
    one_line_error(["sample", str(tmp_path / "ng"), "-o", str(tmp_path / "s.png")],
                   "samples sequences of symbol ids, not images")
    one_line_error(["evaluate", str(tmp_path / "ng")], "NGram is a sequence model")


def test_a_closed_pipe_ends_quietly(trained):
    """`genlearn info RUN | head -1`: the reader goes away; no 'Broken pipe' message."""
    proc = subprocess.Popen([sys.executable, "-m", "genlearn", "info", str(trained)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # before the child (still importing) writes its first line
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert err == "", err


# -- defect 3 at the command line: two trainings into one --out -----------------------------------
def test_a_second_training_into_the_same_out_stops_at_once(tmp_path, one_line_error):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom genlearn import io\n"
         "with io.checkpoint_lock(sys.argv[1]):\n    print('locked', flush=True)\n"
         "    time.sleep(60)\n", str(tmp_path / "run")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        one_line_error(["train", "vae", "--binarize", "--out", str(tmp_path / "run"), *TINY],
                       "another process is writing")
        assert not (tmp_path / "run").exists()
    finally:
        holder.kill()
        holder.wait()


# -- hostile checkpoints and files ---------------------------------------------------------------
def _broken_copy(trained, tmp_path, name, damage):
    ck = tmp_path / name
    shutil.copytree(trained, ck)
    damage(ck)
    return ck


@pytest.mark.parametrize("name, damage, match", [
    ("truncated-config", lambda ck: (ck / "config.json").write_text('{"format": "genl'),
     "not valid JSON"),
    ("binary-config", lambda ck: (ck / "config.json").write_bytes(b"\xff\xfe\x00garbage"),
     "not valid JSON"),
    ("config-is-a-list", lambda ck: (ck / "config.json").write_text("[1, 2]"),
     "not a genlearn checkpoint"),
    ("config-is-a-folder", lambda ck: ((ck / "config.json").unlink(),
                                       (ck / "config.json").mkdir()), "no config.json"),
    ("no-weights", lambda ck: (ck / "weights.safetensors").unlink(), "no weights.safetensors"),
    ("altered-weights", lambda ck: (ck / "weights.safetensors").write_bytes(b"\x00" * 64),
     "SHA-256 differs"),
    ("bad-hyperparameter", lambda ck: _edit(ck, lambda c: c["params"].update(latent_dim=-3)),
     "hyperparameters this genlearn refuses"),
    ("missing-field", lambda ck: _edit(ck, lambda c: c.pop("state")), "missing the field"),
    ("params-not-a-dict", lambda ck: _edit(ck, lambda c: c.update(params=[1])),
     "'params' should be a dict"),
    ("state-emptied", lambda ck: _edit(ck, lambda c: c.update(state={})),
     "fitted state do not fit"),
    ("deep-json", lambda ck: (ck / "config.json").write_text("[" * 100_000 + "]" * 100_000),
     "not valid JSON"),
])
def test_damaged_checkpoints_are_one_line_errors_and_stay_as_they_were(
        trained, tmp_path, one_line_error, name, damage, match):
    ck = _broken_copy(trained, tmp_path, name, damage)
    before = _files(ck)
    for command in (["info", str(ck)], ["sample", str(ck), "-o", str(tmp_path / "s.npy")],
                    ["evaluate", str(ck)]):
        one_line_error(command, match)
    assert _files(ck) == before and not (tmp_path / "s.npy").exists()


def _edit(ck, change):
    cfg = json.loads((ck / "config.json").read_text())
    change(cfg)
    (ck / "config.json").write_text(json.dumps(cfg))


def test_weights_that_are_not_safetensors_are_named(trained, tmp_path, one_line_error):
    def garbage_with_matching_hash(ck):
        import hashlib

        (ck / "weights.safetensors").write_bytes(b"not a safetensors file at all")
        digest = hashlib.sha256(b"not a safetensors file at all").hexdigest()
        _edit(ck, lambda c: c.update(weights_sha256=digest))

    ck = _broken_copy(trained, tmp_path, "garbage", garbage_with_matching_hash)
    one_line_error(["info", str(ck)], "could not be read")


@pytest.mark.parametrize("setup, argv, match", [
    (lambda t: (t / "out").write_text("a file"), ["--out", "{t}/out"], "is a file"),
    (lambda t: None, ["--config", "{t}/missing.json"], "does not exist"),
    (lambda t: (t / "c.yaml").write_text("a: [1, 2\n"), ["--config", "{t}/c.yaml"],
     "not valid YAML"),
    (lambda t: (t / "c.json").write_text("[1]"), ["--config", "{t}/c.json"], "mapping"),
    (lambda t: (t / "d.npy").write_bytes(b"garbage"), ["--data", "{t}/d.npy"],
     "not a readable numeric .npy"),
    (lambda t: (t / "d.txt").write_text("1,2"), ["--data", "{t}/d.txt"], "unsupported file"),
    (lambda t: None, ["--split", "most"], "--split"),
    (lambda t: None, ["--data", ""], "the data-set name is empty"),
    (lambda t: (t / "f").write_text("a file"), ["--out", "{t}/f/run"],
     "a part of the path is a file"),
])
def test_hostile_train_arguments(tmp_path, one_line_error, no_training, setup, argv, match):
    setup(tmp_path)
    before = _files(tmp_path)
    argv = [a.format(t=tmp_path) for a in argv]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "run")]
    one_line_error(["train", "vae", "--binarize", *argv, *TINY], match)
    assert _files(tmp_path) == before
    assert sorted(os.listdir(tmp_path)) == sorted({p.split("/")[0] for p in before})


def test_sample_to_a_bad_output_path_names_it(trained, tmp_path, one_line_error):
    (tmp_path / "f").write_text("a file")
    (tmp_path / "d.npy").mkdir()
    one_line_error(["sample", str(trained), "-o", str(tmp_path / "f" / "x.npy")],
                   f"cannot write {tmp_path / 'f' / 'x.npy'}: a part of the path is a file")
    one_line_error(["sample", str(trained), "-o", str(tmp_path / "d.npy")], "it is a folder")
    assert sorted(os.listdir(tmp_path)) == ["d.npy", "f"] and not os.listdir(tmp_path / "d.npy")


def test_evaluate_when_the_training_file_is_gone_says_so(tmp_path, one_line_error, capsys):
    X = (np.random.default_rng(2).random((40, 4)) > 0.5).astype(float)
    np.save(tmp_path / "d.npy", X)
    assert main(["train", "vae", "--data", str(tmp_path / "d.npy"), "--out",
                 str(tmp_path / "run"), *TINY]) == 0
    (tmp_path / "d.npy").unlink()
    one_line_error(["evaluate", str(tmp_path / "run")], "which no longer exists; pass --data")
    np.save(tmp_path / "e.npy", X)
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run"), "--data", str(tmp_path / "e.npy"),
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 8


def test_a_training_that_finishes_first_is_not_overwritten_by_one_that_started_with_it(
        tmp_path, monkeypatch, one_line_error, binary_digits):
    """Two trainings into one new --out: both find it free; the first writes it while the
    second loads its data. The second must check again under the lock and refuse."""
    from genlearn.cli import _common

    out = tmp_path / "run"
    real_load = _common.load_data

    def load_while_another_finishes(spec):
        gl.VAE(latent_dim=3, hidden=(8,), epochs=1, verbose=False).fit(
            binary_digits[0][:50]).save(out)
        return real_load(spec)

    monkeypatch.setattr("genlearn.cli.train.load_data", load_while_another_finishes)
    one_line_error(["train", "vae", "--binarize", "--out", str(out), *TINY], "use --force")
    assert gl.load(out).latent_dim == 3


def test_output_file_is_checked_before_any_work(tmp_path):
    from genlearn.cli._common import output_file

    target = tmp_path / "new" / "out.csv"            # a missing folder is fine: made on write
    assert output_file(str(target), False) == target
    (tmp_path / "there.csv").write_text("x\n")
    with pytest.raises(ValueError, match="there.csv exists; pass --force to overwrite it"):
        output_file(tmp_path / "there.csv", False)
    assert output_file(tmp_path / "there.csv", True) == tmp_path / "there.csv"
    with pytest.raises(ValueError, match="--preview .* is a folder; name a file"):
        output_file(tmp_path, True, "--preview")
    with pytest.raises(ValueError, match=r"-o/--out .* cannot be written: .*there.csv is a file"):
        output_file(tmp_path / "there.csv" / "out.csv", True)
