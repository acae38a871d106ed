"""Complexity: how sparse and how smooth a map is, and for masks how much they keep.

- :func:`gini`: the Gini index of |attribution| (Chalasani et al., 2020, as Quantus's
  ``Sparseness``): 0 for a uniform map, 1 - 1/n for a single non-zero pixel of n.
  Higher = sparser.
- :func:`total_variation`: the mean absolute difference between 4-neighbours of the map
  rescaled to [0, 1] (min-max per image, so that methods of different scales compare).
  Lower = smoother.
- :func:`masked_probability` and :func:`mask_area`, for masks m in [0, 1] only: the
  target's softmax probability on m * x + (1 - m) * baseline (higher = the mask keeps
  the evidence), and the mean of m (lower = a smaller explanation).
"""

from __future__ import annotations

import torch
from torch import nn

from .._core import make_baseline, relative_blur_sigma
from ..errors import InputError
from ..types import TargetLike
from ._common import check_attribution, prepare, target_probability
from ._registry import METRICS


@METRICS.register("gini", higher_is_better=True, category="complexity", needs=(), applies_to="any")
def gini(attribution: torch.Tensor) -> torch.Tensor:
    """Gini index (N,) in [0, 1) of the absolute attribution (N, H, W); 0 for an all-zero map.

    With a_(1) <= ... <= a_(n) the sorted |attribution|:
    G = sum_k (2k - n - 1) a_(k) / (n sum_k a_(k)).
    """
    attribution = check_attribution(attribution)
    values = attribution.abs().flatten(1).double().sort(dim=1).values
    n = values.shape[1]
    weights = 2 * torch.arange(1, n + 1, dtype=torch.float64) - n - 1
    total = values.sum(1)
    score = (values * weights).sum(1) / (n * total.clamp(min=torch.finfo(torch.float64).tiny))
    return torch.where(total > 0, score, 0.0).float()


@METRICS.register("total_variation", higher_is_better=False, category="complexity", needs=(), applies_to="any")
def total_variation(attribution: torch.Tensor) -> torch.Tensor:
    """Total variation (N,) in [0, 1] of the attribution (N, H, W) min-max scaled to [0, 1].

    The mean of |a(y, x+1) - a(y, x)| and |a(y+1, x) - a(y, x)| over all neighbouring
    pairs; 0 for a constant map, 1 for a checkerboard of 0s and 1s.
    """
    attribution = check_attribution(attribution).double()
    lo = attribution.amin(dim=(1, 2), keepdim=True)
    span = attribution.amax(dim=(1, 2), keepdim=True) - lo
    scaled = torch.where(span > 0, (attribution - lo) / span.clamp(min=torch.finfo(torch.float64).tiny), 0.0)
    dx = (scaled[:, :, 1:] - scaled[:, :, :-1]).abs().flatten(1)
    dy = (scaled[:, 1:, :] - scaled[:, :-1, :]).abs().flatten(1)
    return (torch.cat([dx, dy], dim=1).mean(1)).float()


def _check_mask(attribution: torch.Tensor) -> None:
    if attribution.min() < -1e-6 or attribution.max() > 1 + 1e-6:
        raise InputError(
            f"a mask metric needs an attribution in [0, 1]; got values in "
            f"[{attribution.min().item():.3g}, {attribution.max().item():.3g}]"
        )


@METRICS.register(
    "masked_probability", higher_is_better=True, category="complexity", needs=("model",), applies_to="mask"
)
def masked_probability(
    model: nn.Module,
    inputs: torch.Tensor,
    target: TargetLike,
    attribution: torch.Tensor,
    *,
    baseline: str | float = "blur",
    blur_sigma: float | None = None,
    batch_size: int = 64,
) -> torch.Tensor:
    """Target probability (N,) on the masked inputs m * x + (1 - m) * baseline.

    Args:
        model: classifier (N, C, H, W) -> logits (N, L); left as found.
        inputs: (N, C, H, W) preprocessed images.
        target: (N,) classes (or an int, or ``None`` for the top-1 class).
        attribution: the mask m (N, H, W) in [0, 1].
        baseline: what a hidden pixel becomes (see ``neuromask._core.make_baseline``):
            by default the image blurred with ``blur_sigma`` (NeuroMask's and extremal
            perturbation's default), the same for every method so that they compare.
        blur_sigma: the blur's sigma in pixels; ``None``: NeuroMask's default,
            ``neuromask._core.BLUR_FRACTION`` (10 / 224) of the image's shorter side.
        batch_size: images per forward pass.
    """
    inputs, tgt, attribution = prepare(model, inputs, target, attribution)
    _check_mask(attribution)
    if blur_sigma is None:
        blur_sigma = relative_blur_sigma((int(inputs.shape[2]), int(inputs.shape[3])))
    background = make_baseline(inputs, baseline, blur_sigma=blur_sigma)
    mask = attribution.to(inputs.device, inputs.dtype)[:, None]
    masked = background + mask * (inputs - background)
    return target_probability(model, masked, tgt, batch_size)


@METRICS.register("mask_area", higher_is_better=False, category="complexity", needs=(), applies_to="mask")
def mask_area(attribution: torch.Tensor) -> torch.Tensor:
    """Mean of the mask (N,) in [0, 1]: the share of the image the mask keeps; attribution (N, H, W) in [0, 1]."""
    attribution = check_attribution(attribution)
    _check_mask(attribution)
    return attribution.flatten(1).mean(1)
