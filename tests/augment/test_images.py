import numpy as np
import pytest
from sklearn.datasets import load_digits

from genlearn.augment import ImageAugmenter, pixel_shifts, same_class_interpolations


def tiny_digits(per=6, classes=(0, 1, 2)):
    d = load_digits()
    idx = np.concatenate([np.flatnonzero(d.target == c)[:per] for c in classes])
    return d.data[idx] / 16.0, d.target[idx]


def test_pixel_shifts_by_hand():
    img = np.arange(1, 10, dtype=float).reshape(1, 3, 3)
    down, up, right, left = pixel_shifts(img.reshape(1, 9), (3, 3)).reshape(4, 3, 3)
    np.testing.assert_array_equal(down, [[0, 0, 0], [1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(up, [[4, 5, 6], [7, 8, 9], [0, 0, 0]])
    np.testing.assert_array_equal(right, [[0, 1, 2], [0, 4, 5], [0, 7, 8]])
    np.testing.assert_array_equal(left, [[2, 3, 0], [5, 6, 0], [8, 9, 0]])


def test_interpolation_end_points_are_reconstructions_of_same_class_images():
    X, y = tiny_digits()
    aug = ImageAugmenter(per_class=4, epochs=3, seed=0).fit(X, y)
    vae = aug.vae_
    recon = vae.decode(vae.encode(X, y), y).reshape(len(X), -1)
    imgs, labels = same_class_interpolations(vae, X, y, 5, np.random.default_rng(0), 1.0, 1.0)
    np.testing.assert_array_equal(labels, np.repeat([0, 1, 2], 5))
    for img, c in zip(imgs, labels, strict=True):  # a = 1: the first image's reconstruction
        dist = np.abs(recon[y == c] - img).max(axis=1)
        assert dist.min() < 1e-6
        assert np.abs(recon[y != c] - img).max(axis=1).min() > 1e-6


def test_augment_shapes_flags_range_and_seed():
    X, y = tiny_digits()
    aug = ImageAugmenter(per_class=7, epochs=2, seed=1).fit(X, y)
    Xa, ya, synth = aug.augment(X, y)
    assert Xa.shape == (len(X) * 5 + 21, 64) and len(ya) == len(Xa) == len(synth)
    assert synth.sum() == 21 and not synth[:len(X) * 5].any()
    assert Xa.min() >= 0 and Xa.max() <= 1
    np.testing.assert_array_equal(np.bincount(ya[synth]), [7, 7, 7])
    again = ImageAugmenter(per_class=7, epochs=2, seed=1).fit(X, y).augment(X, y)[0]
    np.testing.assert_array_equal(Xa, again)
    sampled = ImageAugmenter("sample", per_class=3, epochs=2, shifts=False).fit(X, y)
    Xs, ys, flags = sampled.augment(X, y)
    assert Xs.shape == (len(X) + 9, 64) and flags.sum() == 9


def test_errors():
    X, y = tiny_digits()
    with pytest.raises(ValueError, match="method must be one of"):
        ImageAugmenter("mixup")
    with pytest.raises(ValueError, match="per_class must be an integer >= 0"):
        ImageAugmenter(per_class=-1)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        ImageAugmenter(epochs=1).fit(X * 16, y)
    with pytest.raises(ValueError, match="needs two"):
        ImageAugmenter(epochs=1).fit(X, np.zeros(len(X), int))
    with pytest.raises(ValueError, match="not 7x7"):
        ImageAugmenter(epochs=1, image_shape=(7, 7)).fit(X, y)
    with pytest.raises(ValueError, match="not fitted yet"):
        ImageAugmenter().generate()
