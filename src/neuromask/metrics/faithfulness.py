"""Faithfulness: does removing what the map calls relevant change the model's output?

- :func:`deletion` and :func:`insertion` (Petsiuk, Das and Saenko, 2018, "RISE"):
  pixels are deleted (set to ``baseline``, 0 in the model's input space) or inserted
  (copied from the image into a Gaussian-blurred copy, kernel 11 = radius 5, sigma 5)
  in the order of the attribution, most relevant first, ``pixels_per_step`` at a time;
  the curve is the softmax probability of the target after each step, against the
  fraction of pixels changed, and the score is its area (trapezoid rule). Deletion:
  lower is better; insertion: higher is better.
- :func:`region_perturbation` (Samek, Binder, Montavon, Lapuschkin and Mueller, 2017):
  the image is cut into non-overlapping ``patch_size`` squares ranked by their summed
  attribution; the most relevant first (MoRF), ``regions`` of them are replaced one
  by one with uniform noise; the score is the area over the perturbation curve,
  AOPC = 1/(L+1) sum_{k=0..L} (p_0 - p_k), with p the target's softmax probability.
  Higher is better.

Every perturbation replaces all colour channels of a pixel together (Quantus and
iNNvestigate once perturbed only the first channel; ``tests/metrics`` checks this).
Pixels of equal attribution are taken in raster order (a stable sort), so a uniform
map deletes the image row by row.

Deviations from the papers, stated: the blur reflects at the image border (RISE's code
pads with zeros); curves use the softmax probability for all three measures (Samek et
al. used the classifier's score), so that they share a scale.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .._core import gaussian_blur
from ..errors import InputError
from ..types import TargetLike
from ._common import prepare, target_probability
from ._registry import METRICS

# Petsiuk et al. delete 224 pixels per step at 224 x 224, i.e. the image in 224 steps;
# other sizes keep the 224 steps (and thus the curve's resolution).
REFERENCE_STEPS = 224
# Samek et al. perturb 9 x 9 regions of 224 x 224 images; other sizes scale the side.
REFERENCE_PATCH = 9
REFERENCE_SIZE = 224


def _curve(
    model: nn.Module,
    inputs: torch.Tensor,
    target: torch.Tensor,
    rank: torch.Tensor,
    counts: torch.Tensor,
    start: torch.Tensor,
    end: torch.Tensor,
    batch_size: int,
) -> torch.Tensor:
    """Target probability along a perturbation path: (N, K) on the CPU.

    State k of image i takes ``end`` where ``rank[i] < counts[k]`` and ``start``
    elsewhere; rank (N, H, W) long, counts (K,) long, start and end (N, C, H, W). Every
    channel of a pixel follows the pixel's rank.
    """
    n = inputs.shape[0]
    device = inputs.device
    probs = torch.empty(n, counts.numel())
    for i in range(n):
        r = rank[i].to(device)[None, None]
        for s in range(0, counts.numel(), batch_size):
            k = counts[s : s + batch_size].to(device).view(-1, 1, 1, 1)
            states = torch.where(r < k, end[i : i + 1], start[i : i + 1])
            probs[i, s : s + k.shape[0]] = target_probability(model, states, target[i].expand(k.shape[0]), batch_size)
    return probs


def _pixel_rank(attribution: torch.Tensor) -> torch.Tensor:
    """Rank (N, H, W) of each pixel, 0 = most relevant; ties in raster order."""
    n, h, w = attribution.shape
    order = attribution.reshape(n, -1).argsort(dim=1, descending=True, stable=True)
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(h * w).expand(n, -1).contiguous())
    return rank.view(n, h, w)


def _check_positive(name: str, value: int | float) -> None:
    if value <= 0:
        raise InputError(f"{name} must be > 0; got {value}")


def _steps(h: int, w: int, pixels_per_step: int | None) -> tuple[int, torch.Tensor]:
    """Pixels per step and the pixel counts changed at each state (K,), from 0 to H*W."""
    total = h * w
    if pixels_per_step is None:
        pixels_per_step = math.ceil(total / REFERENCE_STEPS)
    _check_positive("pixels_per_step", pixels_per_step)
    steps = math.ceil(total / pixels_per_step)
    return pixels_per_step, (torch.arange(steps + 1) * pixels_per_step).clamp(max=total)


def deletion_curve(
    model: nn.Module,
    inputs: torch.Tensor,
    target: TargetLike,
    attribution: torch.Tensor,
    *,
    pixels_per_step: int | None = None,
    baseline: float = 0.0,
    batch_size: int = 64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The deletion curve: target probability as the most relevant pixels are deleted.

    Args:
        model: classifier, inputs (N, C, H, W) -> logits (N, L); left as found.
        inputs: (N, C, H, W) preprocessed images.
        target: (N,) classes (or an int, or ``None`` for each image's top-1 class).
        attribution: (N, H, W), higher = more relevant.
        pixels_per_step: pixels deleted per step; ``None``: ceil(H * W / 224), which is
            Petsiuk et al.'s 224 at 224 x 224 and 224 steps at any size.
        baseline: the value, in the model's input space, a deleted pixel takes in every
            channel (0: the protocol's; after mean/std normalisation, the mean colour).
        batch_size: perturbed images per forward pass.

    Returns:
        fractions (K,) of pixels deleted, from 0 to 1, and probabilities (N, K).
    """
    inputs, tgt, attribution = prepare(model, inputs, target, attribution)
    _check_positive("batch_size", batch_size)
    _, counts = _steps(inputs.shape[2], inputs.shape[3], pixels_per_step)
    end = torch.full_like(inputs, float(baseline))
    probs = _curve(model, inputs, tgt, _pixel_rank(attribution), counts, inputs, end, batch_size)
    return counts.float() / counts[-1], probs


def insertion_curve(
    model: nn.Module,
    inputs: torch.Tensor,
    target: TargetLike,
    attribution: torch.Tensor,
    *,
    pixels_per_step: int | None = None,
    blur_sigma: float = 5.0,
    blur_radius: int = 5,
    batch_size: int = 64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The insertion curve: target probability as the most relevant pixels are restored
    into a blurred copy of the image.

    Args:
        model, inputs, target, attribution, pixels_per_step, batch_size: as
            :func:`deletion_curve`.
        blur_sigma, blur_radius: the Gaussian that makes the starting image (sigma 5,
            radius 5 = kernel 11: Petsiuk et al.'s), applied in the model's input space.

    Returns:
        fractions (K,) of pixels inserted, from 0 to 1, and probabilities (N, K).
    """
    inputs, tgt, attribution = prepare(model, inputs, target, attribution)
    _check_positive("batch_size", batch_size)
    _, counts = _steps(inputs.shape[2], inputs.shape[3], pixels_per_step)
    start = gaussian_blur(inputs, blur_sigma, radius=blur_radius)
    probs = _curve(model, inputs, tgt, _pixel_rank(attribution), counts, start, inputs, batch_size)
    return counts.float() / counts[-1], probs


@METRICS.register("deletion", higher_is_better=False, category="faithfulness", needs=("model",), applies_to="any")
def deletion(
    model: nn.Module,
    inputs: torch.Tensor,
    target: TargetLike,
    attribution: torch.Tensor,
    *,
    pixels_per_step: int | None = None,
    baseline: float = 0.0,
    batch_size: int = 64,
) -> torch.Tensor:
    """Deletion AUC (N,) in [0, 1]: the trapezoid area under :func:`deletion_curve`. Lower is better."""
    fractions, probs = deletion_curve(
        model, inputs, target, attribution, pixels_per_step=pixels_per_step, baseline=baseline, batch_size=batch_size
    )
    return torch.trapezoid(probs, fractions, dim=1)


@METRICS.register("insertion", higher_is_better=True, category="faithfulness", needs=("model",), applies_to="any")
def insertion(
    model: nn.Module,
    inputs: torch.Tensor,
    target: TargetLike,
    attribution: torch.Tensor,
    *,
    pixels_per_step: int | None = None,
    blur_sigma: float = 5.0,
    blur_radius: int = 5,
    batch_size: int = 64,
) -> torch.Tensor:
    """Insertion AUC (N,) in [0, 1]: the trapezoid area under :func:`insertion_curve`. Higher is better."""
    fractions, probs = insertion_curve(
        model,
        inputs,
        target,
        attribution,
        pixels_per_step=pixels_per_step,
        blur_sigma=blur_sigma,
        blur_radius=blur_radius,
        batch_size=batch_size,
    )
    return torch.trapezoid(probs, fractions, dim=1)


def _region_rank(attribution: torch.Tensor, patch_size: int) -> tuple[torch.Tensor, int]:
    """Rank (N, H, W) of the patch each pixel belongs to (0 = most relevant patch), and the patch count.

    Patches tile the image from the top-left corner; those at the right and bottom edges
    may be smaller. A patch's relevance is the sum of its attribution.
    """
    n, h, w = attribution.shape
    gh, gw = math.ceil(h / patch_size), math.ceil(w / patch_size)
    rows = torch.arange(h) // patch_size
    cols = torch.arange(w) // patch_size
    patch = (rows[:, None] * gw + cols[None, :]).reshape(-1)
    sums = torch.zeros(n, gh * gw).index_add_(1, patch, attribution.reshape(n, -1))
    order = sums.argsort(dim=1, descending=True, stable=True)
    patch_rank = torch.empty_like(order)
    patch_rank.scatter_(1, order, torch.arange(gh * gw).expand(n, -1).contiguous())
    return patch_rank[:, patch].view(n, h, w), gh * gw


def region_perturbation_curve(
    model: nn.Module,
    inputs: torch.Tensor,
    target: TargetLike,
    attribution: torch.Tensor,
    *,
    patch_size: int | None = None,
    regions: int = 100,
    perturbation: str | float = "uniform",
    seed: int = 0,
    batch_size: int = 64,
) -> torch.Tensor:
    """The MoRF curve: drop in target probability p_0 - p_k after perturbing the k most relevant regions.

    Args:
        model, inputs, target, attribution, batch_size: as :func:`deletion_curve`.
        patch_size: side of the square regions; ``None``: 9 at 224 x 224 (Samek et
            al.'s), scaled with the shorter image side (at least 1).
        regions: number L of regions perturbed (at most the number of patches).
        perturbation: what a perturbed pixel becomes: ``"uniform"`` (Samek et al.:
            noise drawn uniformly between the image's per-channel minimum and maximum,
            one draw per pixel and channel, fixed along the curve) or a number in the
            model's input space (e.g. 0).
        seed: seeds the noise (a local generator).

    Returns:
        (N, L + 1) with column 0 equal to 0.
    """
    inputs, tgt, attribution = prepare(model, inputs, target, attribution)
    _check_positive("batch_size", batch_size)
    _check_positive("regions", regions)
    n, c, h, w = inputs.shape
    if patch_size is None:
        patch_size = max(1, round(REFERENCE_PATCH * min(h, w) / REFERENCE_SIZE))
    _check_positive("patch_size", patch_size)
    rank, patches = _region_rank(attribution, patch_size)
    if isinstance(perturbation, (int, float)) and not isinstance(perturbation, bool):
        end = torch.full_like(inputs, float(perturbation))
    elif perturbation == "uniform":
        gen = torch.Generator().manual_seed(seed)
        noise = torch.rand(inputs.shape, generator=gen, dtype=inputs.dtype).to(inputs.device)
        lo = inputs.amin(dim=(2, 3), keepdim=True)
        hi = inputs.amax(dim=(2, 3), keepdim=True)
        end = lo + noise * (hi - lo)
    else:
        raise InputError(f"perturbation must be 'uniform' or a number; got {perturbation!r}")
    counts = torch.arange(min(regions, patches) + 1)
    probs = _curve(model, inputs, tgt, rank, counts, inputs, end, batch_size)
    return probs[:, :1] - probs


@METRICS.register(
    "region_perturbation", higher_is_better=True, category="faithfulness", needs=("model",), applies_to="any"
)
def region_perturbation(
    model: nn.Module,
    inputs: torch.Tensor,
    target: TargetLike,
    attribution: torch.Tensor,
    *,
    patch_size: int | None = None,
    regions: int = 100,
    perturbation: str | float = "uniform",
    seed: int = 0,
    batch_size: int = 64,
) -> torch.Tensor:
    """MoRF AOPC (N,): the mean of :func:`region_perturbation_curve` over its L + 1 points. Higher is better."""
    curve = region_perturbation_curve(
        model,
        inputs,
        target,
        attribution,
        patch_size=patch_size,
        regions=regions,
        perturbation=perturbation,
        seed=seed,
        batch_size=batch_size,
    )
    return curve.mean(dim=1)
