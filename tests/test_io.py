"""Checkpoints: atomic writes, and clear errors for anything that is not ours."""

import json

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
