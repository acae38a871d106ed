"""Extremal perturbation (Fong, Patrick and Vedaldi, 2019): for a given area a, the smooth
mask of that area whose preserved region keeps the target's logit highest, everything
else blurred (the "preservation game").

Written here after TorchRay's reference implementation, which is unmaintained (last
release 2020; ``pip install torchray`` pulls a CUDA build of torch and pycocotools, and
only installed with --no-deps beside torchvision does it run on torch 2.14). Where it
is installed, ``tests/methods/test_extremal_torchray.py`` checks that both give the
same masks for the same parameters and agree on a known answer. The pieces follow the
paper and TorchRay:

  - the mask is generated from parameters on a grid every ``step`` pixels by a smooth
    max over neighbouring grid points, each weighted by the radial profile
    k(d / sigma), k(z) = exp(-2 max(z - 1/2, 0)^2), so the mask is smooth at scale sigma;
    it extends ``sigma`` pixels beyond the image, and the area counts that margin;
  - a masked pixel takes the image blurred with sigma = max_blur * (1 - m), linearly
    interpolated between ``levels`` precomputed blur levels (m = 1: the image itself);
  - the area is enforced by the regulariser mean((sort(m) - r_a)^2), r_a being a
    vector with a fraction a of ones (sorted), weighted by ``area_weight`` growing
    geometrically to about 16x over the run;
  - SGD with momentum 0.9 (dampening 0.9), lr 0.01, parameters clipped to [0, 1],
    starting at 1; the perturbed image is flipped left-right every other step (jitter).

Differences: TorchRay's growth factor 1.0035 per step is for 800 steps; here it is
1.0035^(800 / steps), so that the final area weight is the paper's for any number of
steps. The blur is ``neuromask._core.gaussian_blur`` (reflecting at the edges), not TorchRay's
own Gaussian. The margin is ``sigma`` pixels on every side (TorchRay's falls a few pixels
short on the bottom and right).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._core import gaussian_blur
from ..errors import InputError
from ..types import MethodOutput
from ._common import check_fraction, check_positive
from ._registry import METHODS

PRESETS: dict[str, dict[str, Any]] = {
    # Few steps for tests, the quick benchmark suite and the docs gallery; not a quality setting.
    "fast": dict(steps=30),
    # TorchRay's settings (its areas [0.05, 0.1, 0.2] are a common choice in the paper).
    "paper": dict(steps=800, areas=(0.05, 0.1, 0.2), lr=0.01, area_weight=300.0, step=7, sigma=21.0),
}


def _profile(z: torch.Tensor) -> torch.Tensor:
    """The radial profile of one grid point's bump: 1 up to z = 1/2, then a Gaussian tail."""
    return torch.exp(-2 * (z - 0.5).clamp(min=0) ** 2)


class SmoothMaskGenerator:
    """Parameters (K, 1, ceil(H / step), ceil(W / step)) in [0, 1] -> smooth masks.

    Grid point i sits at pixel step * i. Pixel y of block c = y // step takes the smooth
    max over the grid points c + a, |a| <= radius, of k(|y - step * (c + a)| / sigma) * p,
    with p = 0 beyond the grid; the profile depends only on the pixel's offset inside its
    block, so it is computed once for the step x step offsets. As in TorchRay, the mask
    also covers a margin of ``sigma`` pixels around the image, where it fades out, and
    the area regulariser counts that margin: cut at the image's edge, the area term
    (which outweighs the reward at the start) would keep whichever edge starts highest.
    """

    coldness = 20.0  # sharpness of the smooth max (softmax temperature 1/20, as TorchRay)

    def __init__(self, size: tuple[int, int], step: int, sigma: float, device: torch.device) -> None:
        self.size, self.step = size, step
        self.radius = 1 + math.ceil(sigma / step)
        self.grid = (math.ceil(size[0] / step), math.ceil(size[1] / step))
        self.margin = round(sigma)
        self.extra = math.ceil(self.margin / step)  # zero blocks computed beyond the grid
        within = torch.arange(step, dtype=torch.float32)
        neighbours = torch.arange(-self.radius, self.radius + 1, dtype=torch.float32) * step
        d1 = (within[:, None] - neighbours[None, :]) ** 2  # (step, side): offset in block vs neighbour
        d = (d1[:, None, :, None] + d1[None, :, None, :]).sqrt()  # (step, step, side, side)
        # (step * step, side * side, 1): profile of each neighbour (unfold's order) per offset.
        self.weights = _profile(d / sigma).reshape(step * step, -1, 1).to(device)

    def __call__(self, params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The mask over the image (K, 1, H, W), and over the image and margin (K, 1, H + 2m, W + 2m)."""
        k = params.shape[0]
        side, s, e = 2 * self.radius + 1, self.step, self.extra
        gh, gw = self.grid[0] + 2 * e, self.grid[1] + 2 * e
        padded = F.pad(params, (e, e, e, e))
        neighbourhoods = F.unfold(padded, side, padding=self.radius)  # (K, side * side, gh * gw)
        values = neighbourhoods[:, None] * self.weights.to(params.dtype)  # (K, s * s, side * side, gh * gw)
        smooth_max = (values * F.softmax(self.coldness * values, dim=2)).sum(dim=2)  # (K, s * s, gh * gw)
        mask = smooth_max.view(k, s, s, gh, gw).permute(0, 3, 1, 4, 2).reshape(k, 1, gh * s, gw * s)
        mask = mask.clamp(0, 1)
        h, w = self.size
        top, m = e * s, self.margin
        return mask[:, :, top : top + h, top : top + w], mask[:, :, top - m : top + h + m, top - m : top + w + m]


def area_loss(mask: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """mean((sort(m) - r_a)^2) per mask: masks (K, P), references (K, P) sorted -> (K,).

    A stable sort: the mask starts at 1 everywhere, so which pixels the gradient pushes
    down first is decided by how ties are ordered, and only a stable sort orders them the
    same on every device (CUDA's default sort does not, and the masks then differ).
    """
    return ((mask.sort(dim=1, stable=True).values - reference) ** 2).mean(dim=1)


def blur_pyramid(inputs: torch.Tensor, levels: int, max_blur: float) -> torch.Tensor:
    """(N, C, H, W) -> (N, levels, C, H, W): level l blurred with max_blur * (1 - l / (levels - 1))."""
    sigmas = [max_blur * (1 - level / (levels - 1)) for level in range(levels)]
    return torch.stack([gaussian_blur(inputs, s) for s in sigmas], dim=1)


def apply_pyramid(pyramid: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-pixel blur level from masks (K, 1, H, W) on pyramids (K, L, C, H, W) -> (K, C, H, W)."""
    levels = pyramid.shape[1]
    position = mask * (levels - 1)
    low = position.detach().floor().clamp(max=levels - 2)
    frac = position - low
    index = low.long()[:, :, None].expand(-1, 1, pyramid.shape[2], -1, -1)
    y0 = pyramid.gather(1, index)[:, 0]
    y1 = pyramid.gather(1, index + 1)[:, 0]
    return y0 + frac * (y1 - y0)


@METHODS.register(
    "extremal_perturbation", kind="mask", order=11, pixel_options=("step", "sigma", "max_blur"), presets=PRESETS
)
def extremal_perturbation(
    model: nn.Module,
    inputs: torch.Tensor,
    target: torch.Tensor,
    *,
    areas: Sequence[float] = (0.1,),
    steps: int = 200,
    lr: float = 0.01,
    momentum: float = 0.9,
    area_weight: float = 300.0,
    step: int = 7,
    sigma: float = 21.0,
    levels: int = 8,
    max_blur: float = 20.0,
    jitter: bool = True,
) -> MethodOutput:
    """Learn one smooth mask of each area in ``areas`` per image, preserving the target.

    Args:
        model: frozen classifier, inputs (N, C, H, W) -> logits (N, L).
        inputs: (N, C, H, W) preprocessed images.
        target: (N,) the class whose logit the preserved region must keep high.
        areas: target areas as fractions of the image (TorchRay's default 0.1; the
            paper shows 0.05-0.2). Each area costs one forward/backward pass per step.
        steps: SGD iterations. The paper runs 800 (``preset="paper"``, about 90 s per
            image and area on EfficientNet-Lite0 on a 2-core CPU); 200 takes a quarter
            of that, with the area weight's growth rescaled to end at the same value.
        lr, momentum: SGD's learning rate and momentum (the paper: 0.01, 0.9).
        area_weight: initial weight of the area regulariser (the paper: 300).
        step: the mask's parameter grid spacing in pixels (the paper: 7).
        sigma: the mask's smoothing scale in pixels (the paper: 21).
        levels, max_blur: the blur pyramid: ``levels`` levels, the strongest blurred with
            sigma ``max_blur`` pixels (the paper: 8 and 20).
        jitter: flip the perturbed image left-right every other step (the paper: on).

    Returns:
        The mean of the masks over ``areas`` (N, H, W) in [0, 1] (1 = preserved), and
        extras ``masks`` (N, A, H, W) and ``areas``.
    """
    areas = tuple(float(a) for a in areas)
    if not areas:
        raise InputError("areas must hold at least one area in (0, 1]")
    for a in areas:
        check_fraction("every area", a)
    check_positive("steps", steps)
    check_positive("step", step)
    if levels < 2:
        raise InputError(f"levels must be >= 2; got {levels}")
    n, _, h, w = inputs.shape
    k = n * len(areas)
    generator = SmoothMaskGenerator((h, w), step, sigma, inputs.device)
    # Mask j belongs to image j // A and area areas[j % A].
    pyramid = blur_pyramid(inputs, levels, max_blur).repeat_interleave(len(areas), dim=0)
    tgt = target.repeat_interleave(len(areas))
    # The area counts the mask's margin beyond the image too, as in TorchRay.
    full = (h + 2 * generator.margin) * (w + 2 * generator.margin)
    reference = torch.zeros(k, full, dtype=inputs.dtype, device=inputs.device)
    for j in range(k):
        reference[j, int(full * (1 - areas[j % len(areas)])) :] = 1
    params = torch.ones((k, 1) + generator.grid, dtype=inputs.dtype, device=inputs.device, requires_grad=True)
    optimizer = torch.optim.SGD([params], lr=lr, momentum=momentum, dampening=momentum)
    growth = 1.0035 ** (800 / steps)
    weight = area_weight
    for t in range(steps):
        mask, full_mask = generator(params)
        x = apply_pyramid(pyramid, mask)
        if jitter and t % 2 == 0:
            x = torch.flip(x, dims=(3,))
        reward = model(x).gather(1, tgt[:, None])[:, 0]
        # Summed over masks: each mask's parameters get exactly the gradient they would alone.
        energy = (reward - weight * area_loss(full_mask.flatten(1), reference)).sum()
        optimizer.zero_grad()
        (-energy).backward()
        optimizer.step()
        with torch.no_grad():
            params.clamp_(0, 1)
        weight *= growth
    with torch.no_grad():
        masks = generator(params)[0].reshape(n, len(areas), h, w)
    return MethodOutput(masks.mean(dim=1), {"masks": masks, "areas": areas})
