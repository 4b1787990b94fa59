"""genlearn.datasets: the Dataset container, digits, and load()'s binarize and split steps."""

import dataclasses

import numpy as np
import pytest
from sklearn.datasets import load_digits as sk_load_digits

from genlearn.datasets import Dataset, available, load, load_digits


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def _rows_sorted(X):
    return X[np.lexsort(X.T[::-1])]


# -- Dataset --------------------------------------------------------------------------------------
def test_dataset_basics():
    d = Dataset(X=np.zeros((5, 6)), y=np.arange(5), name="t", image_shape=(2, 3), domain="unit")
    assert len(d) == 5 and d.n_features == 6
    assert d.y.dtype == np.int64
    assert "n=5" in repr(d) and "domain='unit'" in repr(d)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.name = "other"


@pytest.mark.parametrize("kwargs, match", [
    (dict(X=np.zeros(5)), "2-D"),
    (dict(y=np.arange(4)), "y must have shape"),
    (dict(image_shape=(2, 2)), "image_shape"),
    (dict(domain="positive"), "domain"),
])
def test_dataset_rejects_inconsistent_fields(kwargs, match):
    fields = dict(X=np.zeros((5, 6)), y=None, name="t", image_shape=None, domain="real")
    fields.update(kwargs)
    with pytest.raises(ValueError, match=match):
        Dataset(**fields)


def test_available_lists_the_registry():
    names = available()
    assert names == sorted(names)
    assert {"digits", "mnist", "ring", "grid", "moons", "spirals"} <= set(names)


# -- digits ---------------------------------------------------------------------------------------
def test_digits_content(digits):
    raw = sk_load_digits()
    assert digits.X.shape == (1797, 64) and digits.X.dtype == np.float64
    assert digits.X.min() == 0.0 and digits.X.max() == 1.0
    np.testing.assert_array_equal(digits.X * 16, raw.data)
    assert digits.y.dtype == np.int64
    np.testing.assert_array_equal(digits.y, raw.target)
    assert set(digits.y.tolist()) == set(range(10))
    assert digits.image_shape == (8, 8) and digits.domain == "unit" and digits.name == "digits"


def test_split_none_returns_the_full_dataset(digits):
    full = load("digits", split=None)
    assert isinstance(full, Dataset)
    np.testing.assert_array_equal(full.X, digits.X)
    assert load("Digits", split=None).name == "digits"  # names are case-insensitive


def test_default_split_sizes_partition_and_stratification(digits):
    train, test = load("digits", seed=0)  # split="auto" is 0.8 for digits
    assert (len(train), len(test)) == (1437, 360)
    assert train.image_shape == test.image_shape == (8, 8)
    # Together the two halves are exactly the full data set (rows and labels).
    both = np.concatenate([train.X, test.X])
    np.testing.assert_array_equal(_rows_sorted(both), _rows_sorted(digits.X))
    full_counts = np.bincount(digits.y)
    np.testing.assert_array_equal(np.bincount(train.y) + np.bincount(test.y), full_counts)
    # Stratified: each class keeps its share of the test set to within one example.
    assert np.all(np.abs(np.bincount(test.y) - full_counts * 0.2) <= 1)


def test_split_is_deterministic_by_seed():
    a_train, a_test = load("digits", split=0.8, seed=0)
    b_train, b_test = load("digits", split=0.8, seed=0)
    np.testing.assert_array_equal(a_train.X, b_train.X)
    np.testing.assert_array_equal(a_test.y, b_test.y)
    c_train, _ = load("digits", split=0.8, seed=1)
    assert not np.array_equal(a_train.X, c_train.X)


def test_other_fractions(digits):
    train, test = load("digits", split=0.5, seed=0)
    assert (len(train), len(test)) == (898, 899)


@pytest.mark.parametrize("split", [0, 1, 0.0, 1.0, -0.2, 1.5, "half", "0.8", True, [0.8]])
def test_invalid_split_is_rejected(split):
    with pytest.raises(ValueError, match="split"):
        load("digits", split=split)


def test_official_split_only_where_there_is_one():
    with pytest.raises(ValueError, match="official"):
        load("digits", split="official")


# -- binarize -------------------------------------------------------------------------------------
def test_threshold_binarization(digits):
    full = load("digits", binarize=True, split=None)
    np.testing.assert_array_equal(full.X, (digits.X > 0.5).astype(np.float64))
    assert full.domain == "binary" and full.X.dtype == np.float64
    same = load("digits", binarize="threshold", split=None)
    np.testing.assert_array_equal(same.X, full.X)
    low = load("digits", binarize=True, threshold=0.25, split=None)
    np.testing.assert_array_equal(low.X, (digits.X > 0.25).astype(np.float64))


def test_binarization_happens_before_the_split():
    train_b, test_b = load("digits", binarize=True, split=0.8, seed=0)
    train, test = load("digits", split=0.8, seed=0)
    np.testing.assert_array_equal(train_b.X, (train.X > 0.5).astype(np.float64))
    np.testing.assert_array_equal(test_b.y, test.y)
    assert train_b.domain == test_b.domain == "binary"


def test_stochastic_binarization(digits):
    a = load("digits", binarize="stochastic", split=None, seed=3)
    b = load("digits", binarize="stochastic", split=None, seed=3)
    c = load("digits", binarize="stochastic", split=None, seed=4)
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(a.X, c.X)
    assert set(np.unique(a.X).tolist()) <= {0.0, 1.0} and a.domain == "binary"
    # Bernoulli(x): intensity 0 never fires, 1 always does, and on average P(1) = x.
    assert np.all(a.X[digits.X == 0.0] == 0.0) and np.all(a.X[digits.X == 1.0] == 1.0)
    per_pixel_gap = np.abs(a.X.mean(axis=0) - digits.X.mean(axis=0))
    assert per_pixel_gap.max() < 0.06
    assert abs(a.X.mean() - digits.X.mean()) < 0.005


@pytest.mark.parametrize("binarize", ["yes", 1, "bernoulli"])
def test_invalid_binarize(binarize):
    with pytest.raises(ValueError, match="binarize"):
        load("digits", binarize=binarize)


@pytest.mark.parametrize("threshold", [-0.1, 1.5, "0.5", None])
def test_invalid_threshold(threshold):
    with pytest.raises(ValueError, match="threshold"):
        load("digits", binarize=True, threshold=threshold)


def test_binarizing_real_valued_data_is_refused():
    with pytest.raises(ValueError, match="cannot binarize 'ring'"):
        load("ring", binarize=True, n_samples=100)


# -- argument checks ------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [-1, 1.5, "0", None, 2**32])
def test_invalid_seed(seed):
    with pytest.raises(ValueError, match="seed"):
        load("digits", seed=seed)


def test_unknown_name_that_is_not_a_file(tmp_path):
    missing = tmp_path / "nope.npy"
    with pytest.raises(ValueError, match="not one of the known names") as info:
        load(str(missing))
    assert "digits" in str(info.value) and "not an existing file" in str(info.value)
    with pytest.raises(ValueError, match="known names"):
        load("mnsit")


def test_n_samples_and_path_only_where_they_apply(tmp_path):
    with pytest.raises(ValueError, match="n_samples"):
        load("digits", n_samples=100)
    with pytest.raises(ValueError, match="path="):
        load("digits", path=tmp_path)


def test_load_user_file_by_path(tmp_path):
    X = np.random.default_rng(0).normal(size=(40, 3))
    file = tmp_path / "points.npy"
    np.save(file, X)
    full = load(str(file), split=None)
    np.testing.assert_array_equal(full.X, X)
    assert full.name == "points.npy" and full.domain == "real" and full.y is None
    train, test = load(file, split=0.75, seed=0)  # a Path works too
    assert (len(train), len(test)) == (30, 10)
    with pytest.raises(ValueError, match="n_samples"):
        load(file, n_samples=5)
