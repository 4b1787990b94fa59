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
