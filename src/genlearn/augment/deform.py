"""Smooth deformations between two images: registration, warping and morphing.

A deformation is a displacement field on a coarse ``grid x grid`` lattice of control points
(``flow``: ``(n, 2, grid, grid)``, x then y, in the normalised coordinates of
``torch.nn.functional.grid_sample``, where the image spans [-1, 1] edge to edge),
interpolated bicubically to every pixel. ``warp(image, flow)`` reads the image at
``position + displacement``, so a flow found by ``register(a, b)`` makes ``warp(a, flow)``
look like ``b``. ``morph`` blends two images of the same class part of the way along the flows
between them, geometry and grey levels together: the in-between image of image morphing,
where a pixel average of the two would show both strokes at once. ``affine`` reads images
under a linear map about their centre (rotation, scale, shear: the classic augmentations of
:mod:`genlearn.augment.classic`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _dense(flow: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The control-point displacements at every pixel: ``(n, H, W, 2)``."""
    return F.interpolate(flow, size=size, mode="bicubic", align_corners=True).permute(0, 2, 3, 1)


def _centres(H: int, W: int, dtype) -> torch.Tensor:
    """Every pixel's centre in grid_sample's normalised coordinates: ``(1, H, W, 2)``, x then y."""
    ys = (2.0 * torch.arange(H, dtype=dtype) + 1.0) / H - 1.0
    xs = (2.0 * torch.arange(W, dtype=dtype) + 1.0) / W - 1.0
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy], -1)[None]


def _read(images: torch.Tensor, where, upsample: int) -> torch.Tensor:
    """``images`` (n, H, W) read, bilinear and zero outside, at the positions ``where(H, W)``
    gives for each pixel ((n, H, W, 2), normalised). With ``upsample > 1`` the images are
    enlarged that many times (bilinear), read there, and each block averaged back to a pixel."""
    if upsample > 1:
        big = F.interpolate(images[:, None], scale_factor=upsample, mode="bilinear",
                            align_corners=False)[:, 0]
        return F.avg_pool2d(_read(big, where, 1)[:, None], upsample)[:, 0]
    H, W = images.shape[1:]
    return F.grid_sample(images[:, None], where(H, W), mode="bilinear", padding_mode="zeros",
                         align_corners=False)[:, 0]


def warp(images: torch.Tensor, flow: torch.Tensor, upsample: int = 1) -> torch.Tensor:
    """``images`` (n, H, W) read at each pixel's centre plus ``flow`` (n, 2, g, g), bilinear,
    zero outside the image. One pixel is ``2 / W`` across and ``2 / H`` down. A zero flow
    returns the images unchanged when ``upsample`` is 1.

    ``upsample > 1`` enlarges the images bilinearly that many times, warps them there and
    averages each block back to one pixel: sub-pixel detail of the deformation survives, at
    the cost of a slight blur (a zero flow no longer returns the image exactly)."""
    n = len(images)
    if flow.shape[:2] != (n, 2):
        raise ValueError(f"flow must be (n={n}, 2, g, g); got {tuple(flow.shape)}")
    return _read(images, lambda H, W: _centres(H, W, images.dtype)
                 + _dense(flow.to(images.dtype), (H, W)), upsample)


def affine(images: torch.Tensor, matrix: torch.Tensor, upsample: int = 1) -> torch.Tensor:
    """``images`` (n, H, W) under the linear maps ``matrix`` (n, 2, 2) about the image centre,
    in pixel units (x then y): the output pixel at offset p from the centre reads the input at
    ``matrix @ p`` (bilinear, zero outside). The identity matrix returns the images unchanged
    when ``upsample`` is 1; a rotation by 90 degrees of a square image is ``np.rot90``.
    ``upsample`` as in :func:`warp`."""
    n = len(images)
    if matrix.shape != (n, 2, 2):
        raise ValueError(f"matrix must be (n={n}, 2, 2); got {tuple(matrix.shape)}")

    def where(H, W):
        half = torch.tensor([W / 2.0, H / 2.0], dtype=images.dtype)
        p = _centres(H, W, images.dtype) * half                     # pixel units, (1, H, W, 2)
        return torch.einsum("nij,bhwj->nhwi", matrix.to(images.dtype), p) / half

    return _read(images, where, upsample)


def register(source: torch.Tensor, target: torch.Tensor, *, grid: int = 4,
             penalty: float = 0.02, steps: int = 200, lr: float = 0.05,
             upsample: int = 1) -> torch.Tensor:
    """The flows (n, 2, grid, grid) that make ``warp(source, flow)`` close to ``target``.

    Minimises the mean squared pixel difference plus ``penalty`` times the mean squared
    displacement (small deformations are preferred; the coarse lattice keeps them smooth) with
    Adam from the zero flow, all pairs at once; each pair's flow does not depend on the others.
    Deterministic on the CPU. The displacement is in normalised units (one pixel is 2 / W), so
    the same ``penalty`` weighs a one-pixel move less on a larger image."""
    if source.shape != target.shape or source.ndim != 3:
        raise ValueError(f"source and target must both be (n, H, W); got "
                         f"{tuple(source.shape)} and {tuple(target.shape)}")
    if grid < 2:
        raise ValueError(f"grid must be >= 2 control points a side; got {grid}")
    source, target = source.detach().float(), target.detach().float()
    flow = torch.zeros(len(source), 2, grid, grid, requires_grad=True)
    opt = torch.optim.Adam([flow], lr=lr)
    with torch.enable_grad():
        for _ in range(steps):
            opt.zero_grad()
            loss = ((warp(source, flow, upsample) - target) ** 2).mean((1, 2)) \
                + penalty * (flow ** 2).mean((1, 2, 3))
            loss.sum().backward()  # the pairs are independent: one sum, per-pair gradients
            opt.step()
    return flow.detach()


def morph(a: torch.Tensor, b: torch.Tensor, flow_ab: torch.Tensor, flow_ba: torch.Tensor,
          t: torch.Tensor, upsample: int = 1) -> torch.Tensor:
    """The images a fraction ``t`` (n,) of the way from ``a`` to ``b`` (each (n, H, W)):
    ``a`` deformed ``t`` of the way toward ``b`` and ``b`` deformed ``1 - t`` of the way back,
    blended with weights ``1 - t`` and ``t``. With ``upsample=1``, ``t = 0`` gives ``a`` and
    ``t = 1`` gives ``b``; with ``upsample > 1``, their slightly blurred versions."""
    t = t.to(a.dtype)
    w = t[:, None, None, None]
    forward = warp(a, w * flow_ab, upsample)
    backward = warp(b, (1.0 - w) * flow_ba, upsample)
    return (1.0 - t)[:, None, None] * forward + t[:, None, None] * backward
