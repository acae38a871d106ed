"""Perturbations shared by the mask-based methods (baselines that a hidden pixel becomes)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ..errors import InputError


def gaussian_blur(x: torch.Tensor, sigma: float, radius: int | None = None) -> torch.Tensor:
    """Blur images (N, C, H, W) with a Gaussian of ``sigma`` pixels, reflecting at edges.

    ``radius`` truncates the kernel to 2 * radius + 1 taps (renormalised); ``None`` means
    ceil(3 * sigma). Protocols that name a kernel size use it, e.g. Petsiuk et al.'s
    insertion metric (kernel 11, sigma 5: ``radius=5``).

    Written here rather than imported because torchvision is not a core dependency; a
    separable convolution runs on the tensor's own device.
    """
    if sigma <= 0:
        return x
    n, c, h, w = x.shape
    if radius is None:
        radius = int(math.ceil(3 * sigma))
    # Reflect padding needs the pad to be smaller than the image side.
    radius = max(1, min(radius, h - 1, w - 1))
    coords = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-0.5 * (coords / sigma) ** 2)
    kernel = kernel / kernel.sum()
    flat = x.reshape(n * c, 1, h, w)
    flat = F.conv2d(F.pad(flat, (radius, radius, 0, 0), mode="reflect"), kernel.view(1, 1, 1, -1))
    flat = F.conv2d(F.pad(flat, (0, 0, radius, radius), mode="reflect"), kernel.view(1, 1, -1, 1))
    return flat.reshape(n, c, h, w)


# The blur that hides a pixel, as a share of the image's shorter side: 10 px at ImageNet's
# 224 px, the same relative blur at every size (a fixed 10 px blur would wash out a 32 px
# image entirely and barely touch a 512 px one).
BLUR_FRACTION = 10.0 / 224


def relative_blur_sigma(size: tuple[int, int]) -> float:
    """The default blur sigma in pixels for images of ``size`` (H, W): ``BLUR_FRACTION`` of the shorter side."""
    return BLUR_FRACTION * min(size)


def make_baseline(
    inputs: torch.Tensor,
    baseline: str | float,
    *,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    blur_sigma: float = 10.0,
) -> torch.Tensor:
    """What a fully hidden pixel becomes, (N, C, H, W) in the model's input space.

    ``baseline`` is one of:
      - ``"zero"``: 0 in the model's input space (the paper's choice; after ImageNet
        normalisation this is the mean colour, not black);
      - ``"black"``: pixel value 0 before normalisation, i.e. (0 - mean) / std;
      - ``"blur"``: the image blurred with a Gaussian of ``blur_sigma`` pixels;
      - ``"mean"``: each image's per-channel mean;
      - a number: that constant in the model's input space.
    """
    if isinstance(baseline, (int, float)) and not isinstance(baseline, bool):
        return torch.full_like(inputs, float(baseline))
    if baseline == "zero":
        return torch.zeros_like(inputs)
    if baseline == "black":
        if mean is None or std is None:
            raise InputError(
                "baseline 'black' needs the model's normalisation: pass mean= and std= "
                "(or a LoadedModel), or use baseline='zero' or 'blur'"
            )
        m = torch.as_tensor(mean, dtype=inputs.dtype, device=inputs.device).view(1, -1, 1, 1)
        s = torch.as_tensor(std, dtype=inputs.dtype, device=inputs.device).view(1, -1, 1, 1)
        return ((0 - m) / s).expand_as(inputs).clone()
    if baseline == "blur":
        return gaussian_blur(inputs, blur_sigma)
    if baseline == "mean":
        return inputs.mean(dim=(2, 3), keepdim=True).expand_as(inputs).clone()
    raise InputError(f"baseline must be 'zero', 'black', 'blur', 'mean' or a number; got {baseline!r}")
