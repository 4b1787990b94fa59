"""A tiny trained VAE checkpoint shared by the CLI tests, and the one-line error check."""

import pytest

from genlearn.cli import main

TINY = ["--epochs", "2", "--hidden", "16", "--latent-dim", "2", "--iw-samples", "20", "-q"]


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """A 2-epoch VAE on binarized digits, written by ``genlearn train`` (do not modify it)."""
    out = tmp_path_factory.mktemp("cli") / "vae"
    assert main(["train", "vae", "--data", "digits", "--binarize", "--out", str(out), *TINY]) == 0
    return out


@pytest.fixture
def one_line_error(capsys):
    """``check(argv, match)``: the command fails with one line on stderr that contains match."""

    def check(argv, match):
        assert main(argv) != 0
        err = capsys.readouterr().err.strip()
        assert err.startswith("genlearn: error:") and len(err.splitlines()) == 1, err
        assert "Traceback" not in err and match in err, err
        return err

    return check
