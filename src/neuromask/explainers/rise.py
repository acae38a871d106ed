"""RISE (Petsiuk, Das and Saenko, 2018): the target's probability under random masks,
averaged with the masks as weights.

Written here: neither Captum nor Zennit has RISE, and TorchRay (which has) is
unmaintained. The masks follow the paper and TorchRay: a random binary grid
(``grid`` x ``grid``, each cell kept with probability ``p``), bilinearly upsampled to
(grid + 1) cells, then cropped at a random sub-cell shift, so that mask edges fall
anywhere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._core import make_baseline
from ..types import MethodOutput
from ._common import check_fraction, check_positive, chunks, target_scores
from ._registry import METHODS

PRESETS: dict[str, dict[str, Any]] = {
    # Few masks for tests, the quick benchmark suite and the docs gallery; not a quality setting.
    "fast": dict(masks=100),
    # Petsiuk et al.'s setting for ImageNet classifiers.
    "paper": dict(masks=4000, grid=7, p=0.5),
}


def random_masks(count: int, size: tuple[int, int], grid: int, p: float, gen: torch.Generator) -> torch.Tensor:
    """RISE masks (count, 1, H, W) in [0, 1], drawn from ``gen`` (on the CPU)."""
    h, w = size
    cell_h, cell_w = math.ceil(h / grid), math.ceil(w / grid)
    cells = (torch.rand((count, 1, grid, grid), generator=gen) < p).float()
    up = F.interpolate(cells, size=((grid + 1) * cell_h, (grid + 1) * cell_w), mode="bilinear", align_corners=False)
    dy = torch.randint(0, cell_h, (count,), generator=gen)
    dx = torch.randint(0, cell_w, (count,), generator=gen)
    return torch.stack([up[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(count)])


@METHODS.register("rise", kind="perturbation", order=9, presets=PRESETS)
def rise(
    model: nn.Module,
    inputs: torch.Tensor,
    target: torch.Tensor,
    *,
    masks: int = 500,
    grid: int = 7,
    p: float = 0.5,
    baseline: str | float = "zero",
    output: str = "probability",
    batch_size: int = 25,
    seed: int = 0,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> MethodOutput:
    """sum_i score(x masked by M_i) * M_i / (masks * p) for each pixel.

    Args:
        model: frozen classifier, inputs (N, C, H, W) -> logits (N, L).
        inputs: (N, C, H, W) preprocessed images.
        target: (N,) the class whose score is watched.
        masks: number of random masks. The paper uses 4000 (``preset="paper"``); 500
            forward passes keep one explanation of EfficientNet-Lite0 to seconds on a
            CPU, at the price of a noisier map.
        grid: cells per side of the random binary grid (the paper: 7).
        p: probability that a cell is kept (the paper: 0.5).
        baseline: what a masked pixel becomes (see ``neuromask._core.make_baseline``); the
            paper multiplies the normalised input by the mask, i.e. ``"zero"``.
        output: the score, ``"probability"`` (the paper) or ``"logit"``.
        batch_size: masked images per forward pass.
        seed: seeds the masks (a local generator). Every image sees the same masks, so
            a batch equals its images one by one.
        mean, std: the model's normalisation, needed by ``baseline="black"``.

    Returns:
        The map (N, H, W), >= 0 for probabilities; about E[score] where nothing matters.
    """
    check_positive("masks", masks)
    check_positive("grid", grid)
    check_positive("batch_size", batch_size)
    check_fraction("p", p)
    n, _, h, w = inputs.shape
    background = make_baseline(inputs, baseline, mean=mean, std=std)
    delta = inputs - background
    saliency = torch.zeros(n, h, w, dtype=inputs.dtype, device=inputs.device)
    for i in range(n):
        # One generator per image, seeded alike: the same masks for every image.
        gen = torch.Generator().manual_seed(seed)
        for sl in chunks(masks, batch_size):
            m = random_masks(sl.stop - sl.start, (h, w), grid, p, gen).to(inputs.device, inputs.dtype)
            with torch.no_grad():
                logits = model(background[i : i + 1] + m * delta[i : i + 1])
                scores = target_scores(logits, target[i].expand(m.shape[0]), output)
            saliency[i] += (scores.view(-1, 1, 1) * m[:, 0]).sum(dim=0)
    return MethodOutput(saliency / (masks * p))
