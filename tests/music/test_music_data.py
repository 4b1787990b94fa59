"""The .mat loader of the polyphonic benchmarks and the seeded split, on a file written here."""

import numpy as np
import pytest
from scipy.io import savemat

from genlearn.music.data import load_corpus, load_mat, split_pieces


def _write_mat(path, n=(3, 2, 2)):
    rng = np.random.default_rng(0)
    cells = {}
    for key, k in zip(("traindata", "validdata", "testdata"), n, strict=False):
        arr = np.empty((1, k), dtype=object)
        for i in range(k):
            arr[0, i] = (rng.random((5 + i, 88)) < 0.05).astype(np.uint8)
        cells[key] = arr
    savemat(str(path), cells)
    return cells


def test_load_mat_reads_the_three_splits(tmp_path):
    cells = _write_mat(tmp_path / "tiny.mat")
    rolls = load_mat(tmp_path / "tiny.mat")
    assert [len(rolls[s]) for s in ("train", "valid", "test")] == [3, 2, 2]
    np.testing.assert_array_equal(rolls.test[1], cells["testdata"][0, 1])
    assert rolls.describe()["steps_train"] == 5 + 6 + 7
    assert load_corpus(str(tmp_path / "tiny.mat")).train[0].shape == (5, 88)


def test_load_mat_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_mat(tmp_path / "none.mat")
    savemat(str(tmp_path / "other.mat"), {"x": np.zeros(3)})
    with pytest.raises(ValueError, match="lacks traindata"):
        load_mat(tmp_path / "other.mat")
    (tmp_path / "junk.mat").write_bytes(b"not matlab at all")
    with pytest.raises(ValueError, match="not a readable MATLAB"):
        load_mat(tmp_path / "junk.mat")
    with pytest.raises(ValueError, match="unknown corpus"):
        load_corpus(str(tmp_path / "missing_folder"))


def test_split_is_seeded_disjoint_and_complete():
    a, b = split_pieces(50, seed=3), split_pieces(50, seed=3)
    assert a == b
    assert sorted(a["train"] + a["valid"] + a["test"]) == list(range(50))
    assert len(a["train"]) == 40 and split_pieces(50, seed=4) != a
