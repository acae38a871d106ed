"""Cross-check of extremal perturbation against TorchRay, the authors' reference code.

TorchRay is unmaintained: `pip install torchray` pulls a CUDA build of torch and
pycocotools, and nothing pins it; installed with --no-deps next to torch 2.14 and
torchvision 0.29 (the extras environment) its ``extremal_perturbation`` still runs.
The test is skipped where TorchRay is not installed.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import neuromask

pytestmark = pytest.mark.extras


class Blobs(nn.Module):
    """A fixed conv net that responds to bright blobs anywhere (so that the left-right
    flips of both implementations' jitter do not change its answer)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 5, padding=2)
        with torch.no_grad():
            self.conv.weight.fill_(1 / 75)
            self.conv.weight[1].mul_(-1)
            self.conv.bias.fill_(-1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 10 * F.relu(self.conv(x)).mean(dim=(2, 3))


def test_extremal_perturbation_agrees_with_torchray() -> None:
    pytest.importorskip("torchvision")
    ep = pytest.importorskip("torchray.attribution.extremal_perturbation")
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    x[..., 12:24, 36:50] += 2.0  # the evidence
    x[..., 40:56, 8:24] += 0.8  # a weaker distractor
    model = Blobs().eval()
    settings = dict(steps=300, areas=(0.05,), step=4, sigma=8.0)
    ours = neuromask.explain(model, x, target=0, method="extremal_perturbation", **settings).attribution[0]
    theirs, _ = ep.extremal_perturbation(model, x, 0, areas=[0.05], max_iter=300, step=4, sigma=8.0)
    theirs = theirs[0, 0]
    top = int(0.05 * 64 * 64)
    a = set(ours.flatten().topk(top).indices.tolist())
    b = set(theirs.flatten().topk(top).indices.tolist())
    iou = len(a & b) / len(a | b)
    assert iou > 0.5, iou  # measured 0.68
    assert torch.corrcoef(torch.stack([ours.flatten(), theirs.flatten()]))[0, 1] > 0.8  # measured 0.94


def test_mask_generator_equals_torchrays() -> None:
    pytest.importorskip("torchvision")
    ep = pytest.importorskip("torchray.attribution.extremal_perturbation")
    from neuromask.explainers.extremal_perturbation import SmoothMaskGenerator

    for size, step, sigma in [((64, 64), 4, 8.0), ((50, 70), 7, 21.0)]:
        ours = SmoothMaskGenerator(size, step, sigma, torch.device("cpu"))
        theirs = ep.MaskGenerator(size, step, sigma)
        params = torch.rand(2, 1, *ours.grid, generator=torch.Generator().manual_seed(0))
        mask, full = ours(params)
        ref_mask, ref_full = theirs.generate(params)
        assert torch.allclose(mask, ref_mask, atol=1e-6)
        # TorchRay's margin is cut a few pixels short on the bottom and right.
        h, w = ref_full.shape[-2:]
        assert torch.allclose(full[..., :h, :w], ref_full, atol=1e-6)
