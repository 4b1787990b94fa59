import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from genlearn.augment import (
    ImageAugmenter,
    deform,
    pixel_shifts,
    same_class_interpolations,
    same_class_morphs,
)


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
    aug = ImageAugmenter("interpolate", per_class=4, epochs=3, seed=0).fit(X, y)
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
    interp = ImageAugmenter("interpolate", per_class=2, epochs=2, seed=1).fit(X, y)
    Xi, yi, flags = interp.augment(X, y)
    assert Xi.shape == (len(X) * 5 + 6, 64) and flags.sum() == 6
    sampled = ImageAugmenter("sample", per_class=3, epochs=2, shifts=False).fit(X, y)
    Xs, ys, flags = sampled.augment(X, y)
    assert Xs.shape == (len(X) + 9, 64) and flags.sum() == 9


def test_errors():
    X, y = tiny_digits()
    with pytest.raises(ValueError, match="method must be one of"):
        ImageAugmenter("mixup")
    with pytest.raises(ValueError, match="per_class must be >= 0"):
        ImageAugmenter(per_class=-1)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        ImageAugmenter(epochs=1).fit(X * 16, y)
    with pytest.raises(ValueError, match="needs two"):
        ImageAugmenter(epochs=1).fit(X, np.zeros(len(X), int))
    with pytest.raises(ValueError, match="not 7x7"):
        ImageAugmenter(epochs=1, image_shape=(7, 7)).fit(X, y)
    with pytest.raises(ValueError, match="grid must be"):
        ImageAugmenter(grid=1)
    with pytest.raises(ValueError, match="upsample must be"):
        ImageAugmenter(upsample=0)
    with pytest.raises(ValueError, match="penalty must be"):
        ImageAugmenter(penalty=-1.0)
    with pytest.raises(ValueError, match="penalty must be"):
        ImageAugmenter(penalty=True)
    with pytest.raises(ValueError, match="penalty must be"):
        ImageAugmenter(penalty="0.1")
    assert ImageAugmenter(grid=np.int64(3), per_class=np.int64(2)).grid == 3
    with pytest.raises(ValueError, match="not 4x16|image_shape is"):
        ImageAugmenter(image_shape=(4, 16)).fit(X.reshape(-1, 8, 8), y)
    with pytest.raises(ValueError, match="per_class must be"):
        ImageAugmenter().fit(X, y).generate(per_class=-1)
    with pytest.raises(ValueError, match="not fitted yet"):
        ImageAugmenter().generate()


def test_morphs_are_the_registered_morphs_of_same_class_pairs():
    X, y = tiny_digits(per=4)
    flows = {}
    imgs, labels = same_class_morphs(X, y, (8, 8), 5, np.random.default_rng(3), upsample=1,
                                     steps=40, flows=flows)
    np.testing.assert_array_equal(labels, np.repeat([0, 1, 2], 5))
    assert imgs.shape == (15, 64) and imgs.min() >= 0 and imgs.max() <= 1
    # redo the same draws by hand: pairs of different images of one class, t ~ U(0, 1), each
    # flow registered on its own (a pair's flow does not depend on the batch it was fitted in)
    from genlearn.augment import same_class_pairs

    i, j, t, _ = same_class_pairs(y, 5, np.random.default_rng(3))
    assert (y[i] == labels).all() and (y[j] == labels).all() and (i != j).all()
    tensor = torch.tensor(X.reshape(-1, 8, 8), dtype=torch.float32)
    for row in range(15):
        a, b = tensor[i[row]][None], tensor[j[row]][None]
        f_ab = deform.register(a, b, steps=40)
        f_ba = deform.register(b, a, steps=40)
        torch.testing.assert_close(flows[(i[row], j[row], 4, 0.02, 40, 1)][None], f_ab)
        expect = deform.morph(a, b, f_ab, f_ba, torch.tensor([t[row]]))
        np.testing.assert_allclose(imgs[row], expect.clamp(0, 1).reshape(64).numpy(), atol=1e-6)
    n_flows = len(flows)  # the same draws again: every flow comes from the cache
    again, _ = same_class_morphs(X, y, (8, 8), 5, np.random.default_rng(3), upsample=1,
                                 steps=40, flows=flows)
    assert len(flows) == n_flows
    np.testing.assert_array_equal(imgs, again)
    # other settings are not served from the cache
    other, _ = same_class_morphs(X, y, (8, 8), 5, np.random.default_rng(3), upsample=1,
                                 steps=40, penalty=100.0, flows=flows)
    fresh, _ = same_class_morphs(X, y, (8, 8), 5, np.random.default_rng(3), upsample=1,
                                 steps=40, penalty=100.0)
    np.testing.assert_array_equal(other, fresh)
    assert len(flows) > n_flows
    with pytest.raises(ValueError, match="H, W = "):
        same_class_morphs(X, y, (4, 4), 5, np.random.default_rng(3))


def test_morph_is_the_default_and_fits_no_network():
    X, y = tiny_digits()
    aug = ImageAugmenter(per_class=3, seed=2).fit(X, y)
    assert aug.method == "morph" and not hasattr(aug, "vae_")
    Xa, ya, synth = aug.augment(X, y)
    assert Xa.shape == (len(X) * 5 + 9, 64) and synth.sum() == 9
    again = ImageAugmenter(per_class=3, seed=2).fit(X, y).augment(X, y)[0]
    np.testing.assert_array_equal(Xa, again)
    other = ImageAugmenter(per_class=3, seed=3).fit(X, y).augment(X, y)[0]
    assert not np.array_equal(Xa, other)


def test_a_refit_drops_the_vae_of_the_first_images():
    X, y = tiny_digits()
    aug = ImageAugmenter("interpolate", per_class=2, epochs=2).fit(X, y)
    first = aug.vae_
    aug.method = "morph"
    X2, y2 = tiny_digits(classes=(3, 4, 5))
    aug.fit(X2, y2)
    assert not hasattr(aug, "vae_")
    aug.method = "interpolate"
    imgs, labels = aug.generate()  # fits a new VAE on the images it was given
    assert aug.vae_ is not first and set(labels) == {3, 4, 5}
