"""A tiny trained VAE checkpoint shared by the CLI tests (``one_line_error`` is in
tests/conftest.py, for every command group's tests)."""

import pytest

from genlearn.cli import main

TINY = ["--epochs", "2", "--hidden", "16", "--latent-dim", "2", "--iw-samples", "20", "-q"]


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """A 2-epoch VAE on binarized digits, written by ``genlearn train`` (do not modify it)."""
    out = tmp_path_factory.mktemp("cli") / "vae"
    assert main(["train", "vae", "--data", "digits", "--binarize", "--out", str(out), *TINY]) == 0
    return out
