import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from genlearn.augment import deform, pixel_shifts


def digits(n=6):
    return torch.tensor(load_digits().data[:n].reshape(n, 8, 8) / 16.0, dtype=torch.float32)


def test_zero_flow_is_the_identity():
    imgs = digits()
    out = deform.warp(imgs, torch.zeros(len(imgs), 2, 4, 4))
    torch.testing.assert_close(out, imgs, rtol=0, atol=1e-6)


@pytest.mark.parametrize("grid", [2, 4, 5])
def test_a_constant_flow_of_one_pixel_is_the_pixel_shift(grid):
    imgs = digits()
    step = 2.0 / 8  # one pixel of an 8-wide image in grid_sample's [-1, 1] coordinates
    flow = torch.zeros(len(imgs), 2, grid, grid)
    flow[:, 0] = step  # read one pixel to the right: the image moves left
    left = pixel_shifts(imgs.reshape(len(imgs), 64).numpy(), (8, 8))[3 * len(imgs):]
    np.testing.assert_allclose(deform.warp(imgs, flow).reshape(len(imgs), 64).numpy(), left,
                               atol=1e-5)
    flow = torch.zeros(len(imgs), 2, grid, grid)
    flow[:, 1] = -step  # read one pixel above: the image moves down
    down = pixel_shifts(imgs.reshape(len(imgs), 64).numpy(), (8, 8))[:len(imgs)]
    np.testing.assert_allclose(deform.warp(imgs, flow).reshape(len(imgs), 64).numpy(), down,
                               atol=1e-5)


def test_register_finds_a_shift_and_brings_the_images_together():
    src = digits()
    # targets: the same digits shifted one pixel left (their content stays inside the image)
    tgt = torch.tensor(pixel_shifts(src.reshape(len(src), 64).numpy(), (8, 8))[3 * len(src):]
                       .reshape(-1, 8, 8), dtype=torch.float32)
    flow = deform.register(src, tgt, penalty=1e-4, steps=300)
    before = ((src - tgt) ** 2).mean((1, 2))
    after = ((deform.warp(src, flow) - tgt) ** 2).mean((1, 2))
    assert (after < 0.2 * before).all()
    # the interior of the field reads about one pixel to the right, none up or down
    assert abs(flow[:, 0, 1:-1, 1:-1].mean().item() - 2.0 / 8) < 0.06
    assert abs(flow[:, 1, 1:-1, 1:-1].mean().item()) < 0.06
    again = deform.register(src, tgt, penalty=1e-4, steps=300)
    torch.testing.assert_close(flow, again, rtol=0, atol=0)  # deterministic


def test_morph_end_points_and_middle():
    a, b = digits(6)[:3], digits(6)[3:]
    f_ab, f_ba = deform.register(a, b, steps=50), deform.register(b, a, steps=50)
    torch.testing.assert_close(deform.morph(a, b, f_ab, f_ba, torch.zeros(3)), a,
                               rtol=0, atol=1e-6)
    torch.testing.assert_close(deform.morph(a, b, f_ab, f_ba, torch.ones(3)), b,
                               rtol=0, atol=1e-6)


def test_the_middle_of_a_morph_between_an_image_and_its_shift_is_the_half_shift():
    # b is a moved two pixels left; half way, a morph is a moved one pixel left, where a pixel
    # average shows the stroke twice (blurred)
    a = digits(6)
    two = pixel_shifts(pixel_shifts(a.reshape(6, 64).numpy(), (8, 8))[18:], (8, 8))[18:]
    b = torch.tensor(two.reshape(6, 8, 8), dtype=torch.float32)
    one = torch.tensor(pixel_shifts(a.reshape(6, 64).numpy(), (8, 8))[18:].reshape(6, 8, 8),
                       dtype=torch.float32)
    f_ab = deform.register(a, b, penalty=1e-4, steps=300)
    f_ba = deform.register(b, a, penalty=1e-4, steps=300)
    mid = deform.morph(a, b, f_ab, f_ba, torch.full((6,), 0.5))
    morph_err = ((mid - one) ** 2).mean()
    average_err = ((0.5 * (a + b) - one) ** 2).mean()
    assert morph_err < 0.5 * average_err


def test_upsampled_warp_is_a_slight_blur_without_a_move():
    imgs = digits()
    out = deform.warp(imgs, torch.zeros(len(imgs), 2, 4, 4), upsample=2)
    assert out.shape == imgs.shape
    # by hand: enlarge x2 (bilinear, pixel centres), average 2x2 blocks back
    big = torch.nn.functional.interpolate(imgs[:, None], scale_factor=2, mode="bilinear")
    torch.testing.assert_close(out, torch.nn.functional.avg_pool2d(big, 2)[:, 0])
    # the ink's centre of mass does not move (the 8x8 digits have blank borders)
    rows = torch.arange(8.0)[:, None]
    for a, b in zip(out, imgs, strict=True):
        assert abs((a * rows).sum() / a.sum() - (b * rows).sum() / b.sum()) < 0.05
        assert abs((a * rows.T).sum() / a.sum() - (b * rows.T).sum() / b.sum()) < 0.05


def test_errors():
    imgs = digits(2)
    with pytest.raises(ValueError, match="flow must be"):
        deform.warp(imgs, torch.zeros(3, 2, 4, 4))
    with pytest.raises(ValueError, match="both be"):
        deform.register(imgs, imgs[:1])
    with pytest.raises(ValueError, match="grid must be"):
        deform.register(imgs, imgs, grid=1)
