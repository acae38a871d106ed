"""Shared fixtures: tiny models whose right answer is known by construction."""

from __future__ import annotations

import pytest
import torch
from torch import nn


class RegionModel(nn.Module):
    """Logits depend only on the pixels in rows/cols [r0, r1) x [c0, c1).

    logit_0 = scale * mean of the region over all channels, logit_1 = 0: hiding the
    region (towards 0) drives the prediction of class 0 to chance.
    """

    def __init__(self, region: tuple[int, int, int, int] = (4, 12, 8, 16), scale: float = 8.0) -> None:
        super().__init__()
        self.region = region
        self.conv = nn.Conv2d(3, 3, 1)  # a real layer so that parameters and modes exist
        with torch.no_grad():
            self.conv.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
            self.conv.bias.zero_()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r0, r1, c0, c1 = self.region
        s = self.conv(x)[:, :, r0:r1, c0:c1].mean(dim=(1, 2, 3)) * self.scale
        return torch.stack([s, torch.zeros_like(s)], dim=1)


@pytest.fixture
def region_model() -> RegionModel:
    return RegionModel()


@pytest.fixture
def tiny_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 5),
    )


@pytest.fixture(autouse=True)
def full_precision_on_gpus():
    """On a GPU, full float32 in convolutions and matrix products: PyTorch computes them
    in TF32 by default on Ampere and later (10 bits of mantissa), which moves a 20-step
    optimisation's masks in the third decimal place and lets an optimiser that sorts
    (extremal perturbation's area term) take another path. The CPU-vs-CUDA tests check
    our code on the device, not TF32's rounding."""
    if not torch.cuda.is_available():
        yield
        return
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
