"""Checkpoints: atomic writes, and clear errors for anything that is not ours."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import genlearn as gl
from genlearn import io
from genlearn.io import CheckpointError


@pytest.fixture(scope="module")
def model(binary_digits):
    X, _ = binary_digits
    return gl.VAE(latent_dim=2, hidden=(8,), epochs=1, iw_samples=10, verbose=False,
                  device="cpu").fit(X[:100])


def test_layout_and_config(tmp_path, model):
    path = model.save(tmp_path / "ck")
    files = sorted(p.name for p in (tmp_path / "ck").iterdir())
    assert files == ["config.json", "weights.safetensors"]
    cfg = json.loads((tmp_path / "ck" / "config.json").read_text())
    assert cfg["format"] == "genlearn-checkpoint" and cfg["format_version"] == io.FORMAT_VERSION
    assert cfg["model"] == "vae" and cfg["data_shape"] == [64]
    assert cfg["params"]["hidden"] == [8] and cfg["genlearn_version"] == gl.__version__
    assert isinstance(gl.load(path), gl.VAE)


def test_not_a_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        gl.load(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no config.json"):
        gl.load(tmp_path / "empty")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.json").write_text('{"model": "resnet"}')
    with pytest.raises(CheckpointError, match="not a genlearn checkpoint"):
        gl.load(tmp_path / "other")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "config.json").write_text("not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        gl.load(tmp_path / "junk")
    (tmp_path / "file").write_text("x")
    with pytest.raises(CheckpointError, match="expected a folder"):
        gl.load(tmp_path / "file")


def test_newer_format_version_is_refused(tmp_path, model):
    model.save(tmp_path / "ck")
    cfg_path = tmp_path / "ck" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["format_version"] = io.FORMAT_VERSION + 1
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="newer.*upgrade genlearn"):
        gl.load(tmp_path / "ck")


def test_unknown_model_name_in_config(tmp_path, model):
    model.save(tmp_path / "ck")
    cfg_path = tmp_path / "ck" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["model"] = "flow"
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="unknown model 'flow'"):
        gl.load(tmp_path / "ck")


def test_refuses_to_overwrite_a_folder_that_is_not_a_checkpoint(tmp_path, model):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(CheckpointError, match="refusing"):
        model.save(tmp_path / "mine")
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"


def test_failed_save_leaves_old_checkpoint_and_no_debris(tmp_path, model, monkeypatch,
                                                         binary_digits):
    model.save(tmp_path / "ck")
    (tmp_path / "ck" / "samples.png").write_bytes(b"png")
    before = (tmp_path / "ck" / "weights.safetensors").read_bytes()
    import safetensors.torch

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(safetensors.torch, "save_file", interrupted)
    other = gl.VAE(latent_dim=3, hidden=(8,), epochs=1, verbose=False).fit(binary_digits[0][:50])
    with pytest.raises(KeyboardInterrupt):
        other.save(tmp_path / "ck")
    assert (tmp_path / "ck" / "weights.safetensors").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]  # no temp folders left
    assert gl.load(tmp_path / "ck").latent_dim == 2


def test_resave_replaces_weights_and_keeps_side_files(tmp_path, model, binary_digits):
    model.save(tmp_path / "ck")
    (tmp_path / "ck" / "samples.png").write_bytes(b"png")
    other = gl.VAE(latent_dim=3, hidden=(8,), epochs=1, verbose=False).fit(binary_digits[0][:50])
    other.save(tmp_path / "ck")
    assert gl.load(tmp_path / "ck").latent_dim == 3
    assert (tmp_path / "ck" / "samples.png").read_bytes() == b"png"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]


def test_unfitted_model_cannot_be_saved(tmp_path):
    with pytest.raises(ValueError, match="not fitted"):
        gl.VAE().save(tmp_path / "x")


def test_load_onto_another_device_string(tmp_path, model, binary_digits):
    model.save(tmp_path / "ck")
    loaded = gl.load(tmp_path / "ck", device="cpu")
    assert loaded.device_ == torch.device("cpu")
    np.testing.assert_array_equal(loaded.log_prob(binary_digits[0][:3], seed=0),
                                  model.log_prob(binary_digits[0][:3], seed=0))


def test_written_files_get_the_usual_permissions(tmp_path, model):
    """Temporary files and folders are 0600/0700; what lands must follow the umask instead."""
    import os
    import stat

    mask = os.umask(0o022)
    try:
        model.save(tmp_path / "ckpt")
        with io.atomic_path(tmp_path / "grid.png") as tmp:
            tmp.write_bytes(b"x")
    finally:
        os.umask(mask)
    mode = lambda p: stat.S_IMODE(os.stat(p).st_mode)  # noqa: E731
    assert mode(tmp_path / "ckpt") == 0o755
    assert mode(tmp_path / "ckpt" / "config.json") == 0o644
    assert mode(tmp_path / "grid.png") == 0o644


# -- failures at the final renames, symlinks, two writers (issue 10, defect 3) ----------------
def _snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


@pytest.fixture
def other(binary_digits):
    return gl.VAE(latent_dim=3, hidden=(8,), epochs=1, verbose=False).fit(binary_digits[0][:50])


@pytest.mark.parametrize("failing_call", [0, 1, 2, 3])
def test_oserror_at_any_rename_keeps_the_old_checkpoint_and_the_users_files(
        tmp_path, model, other, monkeypatch, failing_call):
    """The k-th rename of a re-save fails (disk full, permissions): the old checkpoint still
    loads, byte for byte, and no file of the user's has moved or gone."""
    ck = tmp_path / "ck"
    model.save(ck)
    (ck / "notes.txt").write_text("mine")
    (ck / "figures").mkdir()
    (ck / "figures" / "a.png").write_bytes(b"png")
    (tmp_path / "beside.txt").write_text("also mine")
    before = _snapshot(ck)
    calls = []

    def failing(real):
        def rename(src, dst):
            calls.append(dst)
            if len(calls) - 1 == failing_call:
                raise OSError(28, "No space left on device")
            return real(src, dst)
        return rename

    monkeypatch.setattr(os, "replace", failing(os.replace))
    monkeypatch.setattr(os, "rename", failing(os.rename))
    try:
        other.save(ck)
    except OSError as exc:
        assert "No space left" in str(exc)
    else:
        assert len(calls) <= failing_call  # this save has fewer renames: nothing to test
        return
    monkeypatch.undo()
    assert _snapshot(ck) == before
    assert (ck / "figures" / "a.png").read_bytes() == b"png"
    assert sorted(p.name for p in ck.iterdir()) == ["config.json", "figures", "notes.txt",
                                                    "weights.safetensors"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["beside.txt", "ck"]
    assert gl.load(ck).latent_dim == 2


def test_oserror_renaming_a_new_checkpoint_into_place_leaves_nothing(tmp_path, model,
                                                                     monkeypatch):
    (tmp_path / "beside.txt").write_text("mine")

    def rename(src, dst):
        raise OSError(13, "Permission denied")

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(OSError, match="Permission denied"):
        model.save(tmp_path / "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["beside.txt"]


def test_saving_through_a_symlink_updates_the_target_in_place(tmp_path, model, other):
    target = tmp_path / "runs" / "v3"
    model.save(target)
    (target / "samples.png").write_bytes(b"png")
    link = tmp_path / "latest"
    link.symlink_to(target, target_is_directory=True)
    other.save(link)
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert gl.load(target).latent_dim == 3 and gl.load(link).latent_dim == 3
    assert (target / "samples.png").read_bytes() == b"png"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest", "runs"]
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["v3"]  # no .v3.old-*


_HOLD_LOCK = """
import sys, time
from genlearn import io
with io.checkpoint_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


@pytest.fixture
def lock_holder(tmp_path):
    """Start a process that holds the write lock of tmp_path/ck; yields the process."""
    proc = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(tmp_path / "ck")],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_a_second_writer_is_refused_while_the_first_holds_the_lock(tmp_path, model, other,
                                                                   lock_holder):
    with pytest.raises(CheckpointError, match="another process is writing"):
        other.save(tmp_path / "ck")
    assert not (tmp_path / "ck").exists()
    lock_holder.kill()  # killed without cleaning up: the kernel drops the lock, the file stays
    lock_holder.wait()
    assert (tmp_path / ".ck.lock").exists()
    other.save(tmp_path / "ck")  # the stale lock file does not block
    assert gl.load(tmp_path / "ck").latent_dim == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]  # and it is cleaned up


def test_the_lock_is_reentrant_within_a_process(tmp_path, model):
    with io.checkpoint_lock(tmp_path / "ck"), io.checkpoint_lock(tmp_path / "ck"):
        model.save(tmp_path / "ck")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]


def test_a_lock_file_genlearn_did_not_write_is_not_a_checkpoint_lock_problem(tmp_path, model):
    (tmp_path / "ck.lock").write_text("someone else's")  # a user's file with a similar name
    model.save(tmp_path / "ck")
    assert (tmp_path / "ck.lock").read_text() == "someone else's"


_KILLED_BETWEEN_RENAMES = """
import os, sys
import numpy as np
import genlearn as gl
X = (np.random.default_rng(0).random((50, 6)) > 0.5).astype(float)
model = gl.VAE(latent_dim=3, hidden=(8,), epochs=1, verbose=False, device="cpu").fit(X)
real = os.replace
def replace(src, dst):
    if os.path.basename(dst) == "config.json":
        os._exit(9)  # killed: no except, no finally
    return real(src, dst)
os.replace = replace
model.save(sys.argv[1])
"""


def test_a_save_killed_between_its_renames_is_completed_on_load(tmp_path):
    ck = tmp_path / "ck"
    X = (np.random.default_rng(0).random((50, 6)) > 0.5).astype(float)
    gl.VAE(latent_dim=2, hidden=(8,), epochs=1, verbose=False, device="cpu").fit(X).save(ck)
    (ck / "notes.txt").write_text("mine")
    res = subprocess.run([sys.executable, "-c", _KILLED_BETWEEN_RENAMES, str(ck)])
    assert res.returncode == 9
    assert [p.name for p in ck.glob(".genlearn-save-*")]  # the killed save's work folder
    assert gl.load(ck).latent_dim == 3  # the new weights, with the config they were saved with
    assert io.read_config(ck)["params"]["latent_dim"] == 3
    gl.load(ck).save(ck)  # the next save tidies the work folder away, and nothing else
    assert sorted(p.name for p in ck.iterdir()) == ["config.json", "notes.txt",
                                                    "weights.safetensors"]
