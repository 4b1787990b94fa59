import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def binary_digits():
    """Binarized scikit-learn digits (threshold 0.5), float64, with labels."""
    d = load_digits()
    return (d.data / 16.0 > 0.5).astype(np.float64), d.target.astype(np.int64)


@pytest.fixture
def one_line_error(capsys):
    """``check(argv, match)``: the ``genlearn`` command ``argv`` fails with one line on stderr
    that contains ``match`` (and no traceback); returns that line."""
    from genlearn.cli import main

    def check(argv, match):
        assert main(argv) != 0
        err = capsys.readouterr().err.strip()
        assert err.startswith("genlearn: error:") and len(err.splitlines()) == 1, err
        assert "Traceback" not in err and match in err, err
        return err

    return check
