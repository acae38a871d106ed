"""Meaningful perturbation (Fong and Vedaldi, 2017): the smallest smooth region whose
blurring destroys the target's probability (the "deletion game").

Written here: neither Captum nor Zennit has it, and the authors' code (Caffe / Matlab)
and its PyTorch ports are not maintained packages. With m (N, 1, h, w) in [0, 1]
(1 = keep), upsampled bilinearly to the image:

    perturbed = m * x + (1 - m) * blur(x, blur_sigma)
    loss      = l1 * mean |1 - m| + tv * (mean |d_x m|^beta + mean |d_y m|^beta)
              + softmax(f(perturbed))_target

minimised with Adam, m clipped to [0, 1] after each step, starting from m = 1. The
attribution is the deleted region 1 - m. The constants are those of the first author's
PyTorch port. The paper additionally jitters the perturbation to fight adversarial
masks; that is left out here, as in the port.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._core import gaussian_blur
from ..types import MethodOutput
from ._common import check_positive
from ._registry import METHODS

PRESETS: dict[str, dict[str, Any]] = {
    # Few steps for tests, the quick benchmark suite and the docs gallery; not a quality setting.
    "fast": dict(steps=30),
    # The authors' setting (300 Adam iterations).
    "paper": dict(steps=300, lr=0.1, l1=0.01, tv=1e-4, tv_beta=3.0, mask_size=28, blur_sigma=10.0),
}


def total_variation(mask: torch.Tensor, beta: float) -> torch.Tensor:
    """Per-image mean |vertical diff|^beta + mean |horizontal diff|^beta: (N, 1, h, w) -> (N,)."""
    dy = (mask[:, :, 1:, :] - mask[:, :, :-1, :]).abs().pow(beta).flatten(1).mean(1)
    dx = (mask[:, :, :, 1:] - mask[:, :, :, :-1]).abs().pow(beta).flatten(1).mean(1)
    return dy + dx


@METHODS.register("meaningful_perturbation", kind="mask", order=10, pixel_options=("blur_sigma",), presets=PRESETS)
def meaningful_perturbation(
    model: nn.Module,
    inputs: torch.Tensor,
    target: torch.Tensor,
    *,
    steps: int = 150,
    lr: float = 0.1,
    l1: float = 0.01,
    tv: float = 1e-4,
    tv_beta: float = 3.0,
    mask_size: int = 28,
    blur_sigma: float = 10.0,
) -> MethodOutput:
    """Learn a deletion mask per image.

    Args:
        model: frozen classifier, inputs (N, C, H, W) -> logits (N, L).
        inputs: (N, C, H, W) preprocessed images.
        target: (N,) the class whose probability the deletion must destroy.
        steps: Adam iterations. The paper runs 300 (``preset="paper"``); 150 costs
            half (about 16 s per image on EfficientNet-Lite0 on a 2-core CPU) and the
            deletion region has usually settled by then.
        lr: Adam's learning rate (the paper: 0.1).
        l1: weight of the deleted area, mean |1 - m| (the paper: 0.01).
        tv: weight of the total variation of m (the paper: 1e-4).
        tv_beta: exponent of the total variation (the paper: 3).
        mask_size: side of the mask m (the paper: 28 x 28, upsampled).
        blur_sigma: the Gaussian blur a deleted pixel becomes, in pixels (the paper: 10).

    Returns:
        The deletion map 1 - m (N, H, W) in [0, 1], and extras ``masked_probability``
        (N,): the target's probability on the final perturbed image.
    """
    check_positive("steps", steps)
    check_positive("mask_size", mask_size)
    n, _, h, w = inputs.shape
    blurred = gaussian_blur(inputs, blur_sigma)
    delta = inputs - blurred
    grid = (min(mask_size, h), min(mask_size, w))
    mask = torch.ones((n, 1) + grid, dtype=inputs.dtype, device=inputs.device, requires_grad=True)
    optimizer = torch.optim.Adam([mask], lr=lr)

    def perturbed(m: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(m, size=(h, w), mode="bilinear", align_corners=False)
        return blurred + up * delta

    for _ in range(steps):
        probability = model(perturbed(mask)).softmax(1).gather(1, target[:, None])[:, 0]
        loss = l1 * (1 - mask).abs().flatten(1).mean(1) + tv * total_variation(mask, tv_beta) + probability
        optimizer.zero_grad()
        # Summed over images: Adam is element-wise, so each mask evolves as if alone.
        loss.sum().backward()
        optimizer.step()
        with torch.no_grad():
            mask.clamp_(0, 1)
    with torch.no_grad():
        final = model(perturbed(mask)).softmax(1).gather(1, target[:, None])[:, 0]
        up = F.interpolate(mask, size=(h, w), mode="bilinear", align_corners=False)
    return MethodOutput((1 - up)[:, 0], {"masked_probability": final})
