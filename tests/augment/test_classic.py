import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from genlearn.augment import (
    Affine,
    Elastic,
    ImageAugmenter,
    Rotate,
    Thickness,
    deform,
    transformed_copies,
)
from genlearn.augment.classic import get_transform


def digits(n=6):
    d = load_digits()
    return d.data[:n].reshape(n, 8, 8) / 16.0, d.target[:n]


def bilinear_by_hand(img, x, y):
    """img (H, W) read at pixel coordinates (x, y) (pixel centres at integers), zero outside."""
    H, W = img.shape
    x0, y0 = int(np.floor(x)), int(np.floor(y))
    total = 0.0
    for yy, wy in ((y0, 1 - (y - y0)), (y0 + 1, y - y0)):
        for xx, wx in ((x0, 1 - (x - x0)), (x0 + 1, x - x0)):
            if 0 <= yy < H and 0 <= xx < W:
                total += wy * wx * img[yy, xx]
    return total


def test_affine_against_a_pixel_by_pixel_reading():
    imgs, _ = digits(3)
    rng = np.random.default_rng(0)
    m = rng.normal(0, 0.3, (3, 2, 2)) + np.eye(2)
    out = deform.affine(torch.as_tensor(imgs), torch.as_tensor(m)).numpy()
    H, W = 8, 8
    for n in range(3):
        for r in range(H):
            for c in range(W):
                p = np.array([c + 0.5 - W / 2, r + 0.5 - H / 2])  # offset from the centre
                q = m[n] @ p                                     # where it reads
                want = bilinear_by_hand(imgs[n], q[0] + W / 2 - 0.5, q[1] + H / 2 - 0.5)
                assert out[n, r, c] == pytest.approx(want, abs=1e-9)


def test_affine_identity_and_quarter_turns():
    imgs, _ = digits()
    t = torch.as_tensor(imgs)
    eye = torch.eye(2, dtype=torch.float64).expand(len(imgs), 2, 2)
    np.testing.assert_array_equal(deform.affine(t, eye).numpy(), imgs)
    quarter = torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=torch.float64).expand(len(imgs), 2, 2)
    np.testing.assert_allclose(deform.affine(t, quarter).numpy(), np.rot90(imgs, 1, axes=(1, 2)),
                               atol=1e-12)
    with pytest.raises(ValueError, match=r"matrix must be \(n=6, 2, 2\)"):
        deform.affine(t, eye[:2])


def test_affine_draws_stay_in_their_ranges():
    rng = np.random.default_rng(0)
    rot = Rotate(degrees=10).matrices(500, rng)
    np.testing.assert_allclose(rot @ rot.transpose(0, 2, 1), np.broadcast_to(np.eye(2), rot.shape),
                               atol=1e-12)                       # rotations: orthogonal
    angles = np.degrees(np.arctan2(rot[:, 1, 0], rot[:, 0, 0]))
    assert np.abs(angles).max() <= 10 and np.abs(angles).max() > 9  # and they use the range
    m = Affine(degrees=0, scale=0.1, shear=0.0).matrices(500, rng)
    assert np.allclose(m[:, 0, 1], 0) and np.allclose(m[:, 0, 0], m[:, 1, 1])
    assert (1 / m[:, 0, 0]).min() >= 0.9 and (1 / m[:, 0, 0]).max() <= 1.1
    sheared = Affine(degrees=0, scale=0.0, shear=0.15).matrices(500, rng)
    assert np.allclose(sheared[:, [0, 1, 1], [0, 0, 1]], [1, 0, 1])
    assert np.abs(sheared[:, 0, 1]).max() <= 0.15
    # all three at once: the reading map is R(angle) @ [[1, shear], [0, 1]] / size, the draws
    # in that order (angle, size, shear)
    m = Affine(degrees=20, scale=0.2, shear=0.3).matrices(50, np.random.default_rng(7))
    r = np.random.default_rng(7)
    angle = np.deg2rad(r.uniform(-20, 20, 50))
    size, shear = 1 + r.uniform(-0.2, 0.2, 50), r.uniform(-0.3, 0.3, 50)
    for i in range(50):
        c, s = np.cos(angle[i]), np.sin(angle[i])
        want = np.array([[c, c * shear[i] - s], [s, s * shear[i] + c]]) / size[i]
        np.testing.assert_allclose(m[i], want, atol=1e-12)
    images, _ = digits()
    out = Rotate(degrees=0, upsample=1).apply(images, rng)
    np.testing.assert_allclose(out, images, atol=1e-12)  # no angle: the images


def grey_dilation_by_hand(img):
    H, W = img.shape
    out = np.empty_like(img)
    for r in range(H):
        for c in range(W):
            nb = [img[min(max(r + dr, 0), H - 1), min(max(c + dc, 0), W - 1)]
                  for dr, dc in ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))]
            out[r, c] = max(nb)
    return out


def test_thickness_moves_toward_the_dilation_or_the_erosion():
    imgs, _ = digits()
    rng = np.random.default_rng(3)
    a = np.random.default_rng(3).uniform(-0.5, 0.5, len(imgs))  # the draws apply() makes
    out = Thickness(amount=0.5).apply(imgs, rng)
    for img, o, ai in zip(imgs, out, a, strict=True):
        if ai > 0:  # thicker: a of the way toward the dilation, never darker anywhere
            np.testing.assert_allclose(o, img + ai * (grey_dilation_by_hand(img) - img))
            assert (o >= img).all()
        else:       # thinner: the erosion is minus the dilation of the negative
            erosion = -grey_dilation_by_hand(-img)
            np.testing.assert_allclose(o, img + (-ai) * (erosion - img))
            assert (o <= img).all()
        assert o.min() >= img.min() and o.max() <= img.max()
    single = np.zeros((1, 5, 5))
    single[0, 2, 2] = 1.0
    cross = Thickness(amount=1.0).apply(single, np.random.default_rng(0))  # a draw > 0 here
    assert np.random.default_rng(0).uniform(-1, 1) > 0
    assert cross.sum() > 1 and cross[0, 2, 2] == 1 and cross[0, 0, 0] == 0
    np.testing.assert_array_equal(Thickness(amount=0.0).apply(imgs, rng), imgs)


class OneSigma:
    """A stand-in generator whose normal draws are all loc + scale."""

    def normal(self, loc, scale, size):
        return np.full(size, loc + scale)


def test_elastic_sigma_is_a_fraction_of_the_side():
    imgs, _ = digits()
    # every control point moved by one sigma = 1/8 of the side: one pixel right and one down,
    # so each output pixel reads the input one pixel right and down (zero past the edge)
    out = Elastic(sigma=1 / 8, upsample=1).apply(imgs, OneSigma())
    want = np.zeros_like(imgs)
    want[:, :-1, :-1] = imgs[:, 1:, 1:]
    np.testing.assert_allclose(out, want, atol=1e-12)
    wide = np.random.default_rng(1).random((2, 6, 12))  # x in widths, y in heights
    out = Elastic(sigma=1 / 6, upsample=1).apply(wide, OneSigma())
    want = np.zeros_like(wide)
    want[:, :-1, :-2] = wide[:, 1:, 2:]                     # 2 pixels across, 1 down
    np.testing.assert_allclose(out, want, atol=1e-12)


def test_elastic_draws_and_the_identity():
    imgs, _ = digits()
    f = Elastic(sigma=0.05, grid=4).flows(4000, np.random.default_rng(0))
    assert f.shape == (4000, 2, 4, 4)
    assert abs(f.std() - 0.1) < 0.002 and abs(f.mean()) < 0.002  # 2 sigma: the image spans 2
    same = Elastic(sigma=0.0, upsample=1).apply(imgs, np.random.default_rng(0))
    np.testing.assert_array_equal(same, imgs)
    a = Elastic().apply(imgs, np.random.default_rng(5))
    np.testing.assert_array_equal(a, Elastic().apply(imgs, np.random.default_rng(5)))
    assert a.min() >= 0 and a.max() <= 1 and not np.allclose(a, imgs)
    for bad in ({"sigma": -0.1}, {"sigma": 0.6}, {"grid": 1}, {"upsample": 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            Elastic(**bad)


class AddCall:
    """A transform that adds its call number: shows the order of transformed_copies."""

    def __init__(self):
        self.calls = 0

    def apply(self, images, rng):
        self.calls += 1
        return images + 10.0 * self.calls


def test_transformed_copies_order_and_labels():
    imgs, y = digits(4)
    X = imgs.reshape(4, 64)
    first, second = AddCall(), AddCall()
    out = transformed_copies(X, (8, 8), [first, second], 3, np.random.default_rng(0))
    assert out.shape == (2 * 3 * 4, 64)
    want = np.concatenate([np.tile(X, (3, 1)) + 10.0, np.tile(X, (3, 1)) + 10.0])
    np.testing.assert_array_equal(out, want)  # one call per transform, copies of every image
    assert transformed_copies(X, (8, 8), [], 3, np.random.default_rng(0)).shape == (0, 64)
    assert transformed_copies(X, (8, 8), ["rotate"], 0, np.random.default_rng(0)).shape == (0, 64)


def test_augmenter_adds_the_copies_before_the_generated_images():
    imgs, _ = digits(60)
    X, y = imgs.reshape(60, 64)[:18], load_digits().target[:18]
    aug = ImageAugmenter(per_class=5, transforms=("affine", "thickness"), copies=2, seed=4)
    Xa, ya, synth = aug.fit(X, y).augment(X, y)
    n_classic = 2 * 2 * len(X)
    assert Xa.shape == (len(X) * 5 + n_classic + 5 * len(np.unique(y)), 64)
    assert not synth[:len(X) * 5 + n_classic].any() and synth[len(X) * 5 + n_classic:].all()
    np.testing.assert_array_equal(ya[len(X) * 5:len(X) * 5 + n_classic], np.tile(y, 4))
    assert Xa.min() >= 0 and Xa.max() <= 1
    np.testing.assert_array_equal(Xa, ImageAugmenter(per_class=5, transforms=("affine",
                                  "thickness"), copies=2, seed=4).fit(X, y).augment(X, y)[0])
    other = aug.augment(X, y, seed=5)[0]
    assert not np.array_equal(Xa[len(X) * 5:len(X) * 5 + n_classic],
                              other[len(X) * 5:len(X) * 5 + n_classic])
    plain = ImageAugmenter(per_class=5, seed=4).fit(X, y).augment(X, y)
    np.testing.assert_array_equal(plain[0], np.r_[Xa[:len(X) * 5], Xa[len(X) * 5 + n_classic:]])


def test_transform_errors():
    with pytest.raises(ValueError, match="unknown transform 'blur'; choose from rotate, affine"):
        get_transform("blur")
    with pytest.raises(ValueError, match="apply"):
        get_transform(3)
    with pytest.raises(ValueError, match="unknown transform"):
        ImageAugmenter(transforms=("rotate", "blur"))
    with pytest.raises(ValueError, match=r"a list of transforms; got the string 'rotate'"):
        ImageAugmenter(transforms="rotate")
    with pytest.raises(ValueError, match="a list of transforms"):
        ImageAugmenter(transforms=None)
    with pytest.raises(ValueError, match=r"an instance: Rotate\(\), not Rotate"):
        get_transform(Rotate)
    aug = ImageAugmenter(transforms=(t for t in ["rotate", Thickness(0.1)]))  # a generator
    assert len(aug.transforms) == 2 and isinstance(aug.transforms[1], Thickness)
    with pytest.raises(ValueError, match="copies must be >= 0"):
        ImageAugmenter(copies=-1)
    with pytest.raises(ValueError, match="degrees must be <= 180"):
        Rotate(degrees=200)
    with pytest.raises(ValueError, match="amount must be <= 1"):
        Thickness(amount=2)
