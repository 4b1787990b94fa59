"""Feature spaces: the digit classifier (trained, cached by data hash) and standardized columns."""

import numpy as np
import pytest

import genlearn as gl
from genlearn.metrics import (
    ClassifierFeatures,
    StandardizedFeatures,
    digit_features,
    feature_space,
    frechet_distance,
)


@pytest.fixture(scope="module")
def digits_split():
    return gl.datasets.load("digits", binarize=True, split=0.8, seed=0)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One feature cache for the session (tests/metrics/test_features.py uses the same folder),
    so the default digit classifier is trained once."""
    folder = tmp_path_factory.getbasetemp() / "genlearn-features"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def space(digits_split, cache):
    """The default digit classifier, trained once for this module."""
    train, _ = digits_split
    return digit_features(train.X, train.y, cache_dir=cache)


def test_digit_classifier_separates_held_out_digits_and_is_cached(digits_split, space, cache):
    train, test = digits_split
    assert isinstance(space, ClassifierFeatures)
    # the penultimate layer must carry class information: held-out accuracy well above chance
    assert np.mean(space.predict(test.X) == test.y) > 0.85
    feats = space(test.X)
    assert feats.shape == (len(test), 64) and feats.dtype == np.float64
    assert (cache / f"{space.key}.safetensors").is_file()

    again = digit_features(train.X, train.y, cache_dir=cache)
    assert again.from_cache and again.key == space.key
    np.testing.assert_array_equal(again(test.X), feats)
    assert again.train_accuracy_ == space.train_accuracy_


def test_cache_key_depends_on_data_and_settings(digits_split, tmp_path):
    train, _ = digits_split
    a = digit_features(train.X[:300], train.y[:300], epochs=1, cache_dir=tmp_path)
    b = digit_features(train.X[:301], train.y[:301], epochs=1, cache_dir=tmp_path)
    c = digit_features(train.X[:300], train.y[:300], epochs=2, cache_dir=tmp_path)
    assert len({a.key, b.key, c.key}) == 3 and not (b.from_cache or c.from_cache)
    # training is seeded: use_cache=False retrains to the same weights
    fresh = digit_features(train.X[:300], train.y[:300], epochs=1, cache_dir=tmp_path,
                           use_cache=False)
    np.testing.assert_allclose(fresh(train.X[:50]), a(train.X[:50]))


def test_a_corrupt_cache_is_retrained(digits_split, tmp_path):
    train, _ = digits_split
    a = digit_features(train.X[:200], train.y[:200], epochs=1, cache_dir=tmp_path)
    (tmp_path / f"{a.key}.safetensors").write_bytes(b"not a safetensors file")
    b = digit_features(train.X[:200], train.y[:200], epochs=1, cache_dir=tmp_path)
    assert not b.from_cache
    np.testing.assert_allclose(b(train.X[:20]), a(train.X[:20]))


def test_classifier_features_rank_a_shuffled_set_worse(digits_split, space):
    # real test digits are closer (Fréchet) to real train digits than pixel-shuffled digits are
    train, test = digits_split
    rng = np.random.default_rng(0)
    shuffled = test.X[:, rng.permutation(64)]
    real = frechet_distance(space(test.X), space(train.X))
    assert frechet_distance(space(shuffled), space(train.X)) > 5 * real


def test_standardized_features():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(3.0, 2.0, 500), np.full(500, 7.0)])
    space = StandardizedFeatures(X)
    Z = space(X)
    np.testing.assert_allclose(Z[:, 0].mean(), 0.0, atol=1e-12)
    np.testing.assert_allclose(Z[:, 0].std(), 1.0)
    assert np.all(Z[:, 1] == 0.0)  # a constant column stays finite
    with pytest.raises(ValueError, match="features"):
        space(np.zeros((3, 5)))


def test_feature_space_picks_by_data(digits_split, space, cache):
    train, _ = digits_split
    picked = feature_space(train, cache_dir=cache)
    assert isinstance(picked, ClassifierFeatures) and picked.key == space.key
    ring, _ = gl.datasets.load("ring", split=0.8, seed=0, n_samples=500)
    assert isinstance(feature_space(ring, cache_dir=cache), StandardizedFeatures)


def test_bad_labels():
    with pytest.raises(ValueError, match="2 classes"):
        digit_features(np.zeros((10, 4)), np.zeros(10, dtype=int), use_cache=False)
    with pytest.raises(ValueError, match="one label per sample"):
        digit_features(np.zeros((10, 4)), np.zeros(9, dtype=int), use_cache=False)
