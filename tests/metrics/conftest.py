"""Known-answer fixtures for the metrics: models whose output is a known function of a region."""

from __future__ import annotations

import pytest
import torch
from torch import nn


class LinearProbModel(nn.Module):
    """softmax(f(x))[0] = (mean of the region over ``channels`` + 1) / 3, exactly.

    logits = log(m + 1), log(2 - m) with m the region's mean, so the target
    probability is linear in m and finite for m in [0, 1]: deletion curves of this
    model are piecewise linear and their trapezoid areas are exact by hand.
    """

    def __init__(self, region: tuple[int, int, int, int], channels: slice = slice(None)) -> None:
        super().__init__()
        self.region = region
        self.channels = channels
        self.gain = nn.Parameter(torch.ones(1))  # a parameter, so that freezing has something to do

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r0, r1, c0, c1 = self.region
        m = (self.gain * x[:, self.channels, r0:r1, c0:c1]).mean(dim=(1, 2, 3))
        return torch.stack([torch.log(m + 1), torch.log(2 - m)], dim=1)


def region_mask(h: int, w: int, region: tuple[int, int, int, int]) -> torch.Tensor:
    """(H, W) bool, True inside rows [r0, r1) x cols [c0, c1)."""
    r0, r1, c0, c1 = region
    mask = torch.zeros(h, w, dtype=torch.bool)
    mask[r0:r1, c0:c1] = True
    return mask


class SmallCNN(nn.Module):
    """A small random CNN with fixed, seeded weights (a local generator)."""

    def __init__(self, channels: int = 3, classes: int = 3, seed: int = 0) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.fc = nn.Linear(8, classes)
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv2(self.conv1(x).relu()).relu()
        return self.fc(x.mean(dim=(2, 3)))


@pytest.fixture
def small_cnn() -> SmallCNN:
    return SmallCNN()


@pytest.fixture
def images() -> torch.Tensor:
    """(2, 3, 16, 16) seeded random images."""
    return torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
