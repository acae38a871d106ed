"""Faithfulness: does removing what the map calls relevant change the model's output?

- :func:`deletion` and :func:`insertion` (Petsiuk, Das and Saenko, 2018, "RISE"):
  pixels are deleted (set to ``baseline``, 0 in the model's input space) or inserted
  (copied from the image into a Gaussian-blurred copy, kernel 11 = radius 5, sigma 5)
  in the order of the attribution, most relevant first, ``pixels_per_step`` at a time;
  the curve is the softmax probability of the target after each step, against the
  fraction of pixels changed, and the score is its area (trapezoid rule). Deletion:
  lower is better; insertion: higher is better. The baseline is an option: a constant,
  the image's mean colour, a blur, or ROAD's noisy linear imputation (Rong et al.,
  2022: :func:`noisy_linear_imputation`), which fills a removed region from its
  surroundings so that the region's outline no longer tells the model what was there.
  The model sees the states of all images of a batch together, ``batch_size`` at a time.
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
from collections.abc import Callable

import numpy as np
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


State = Callable[[int, int], torch.Tensor]


def _curve(
    model: nn.Module,
    target: torch.Tensor,
    n: int,
    k: int,
    state: State,
    batch_size: int,
) -> torch.Tensor:
    """Target probability along a perturbation path: (N, K) on the CPU.

    ``state(i, j)`` is image i's j-th perturbed input (C, H, W) on the model's device.
    The N x K states go to the model ``batch_size`` at a time, across images, so that a
    batch of small images fills each model call as a single large image does.
    """
    pairs = [(i, j) for i in range(n) for j in range(k)]
    probs = torch.empty(n, k)
    for s in range(0, len(pairs), batch_size):
        chunk = pairs[s : s + batch_size]
        states = torch.stack([state(i, j) for i, j in chunk])
        which = torch.tensor([i for i, _ in chunk], device=target.device)
        values = target_probability(model, states, target[which], batch_size)
        for (i, j), v in zip(chunk, values.tolist()):
            probs[i, j] = v
    return probs


def _switch(rank: torch.Tensor, counts: torch.Tensor, start: torch.Tensor, end: torch.Tensor) -> State:
    """States that take ``end`` where ``rank[i] < counts[j]`` and ``start`` elsewhere; every
    channel of a pixel follows the pixel's rank. rank (N, H, W), counts (K,), start/end (N, C, H, W)."""
    rank = rank.to(start.device)

    def state(i: int, j: int) -> torch.Tensor:
        return torch.where(rank[i][None] < counts[j], end[i], start[i])

    return state


def _imputed(
    rank: torch.Tensor, counts: torch.Tensor, inputs: torch.Tensor, *, removed_first: bool, noise: float, seed: int
) -> State:
    """ROAD states: the pixels removed at state j re-drawn by :func:`noisy_linear_imputation`.

    ``removed_first``: deletion (the ``counts[j]`` most relevant pixels are removed);
    otherwise insertion (all but the ``counts[j]`` most relevant are removed).
    """

    def state(i: int, j: int) -> torch.Tensor:
        top = rank[i] < counts[j]
        removed = top if removed_first else ~top
        # One noise stream per (image, state): a state does not depend on the batch it is in.
        gen = torch.Generator().manual_seed(seed * 1_000_003 + i * 10_007 + j)
        image = inputs[i].cpu()
        return noisy_linear_imputation(image, removed, noise=noise, generator=gen).to(inputs.device)

    return state


# ROAD's weights of the 8 neighbours (Rong et al. 2022): direct 1/6, diagonal 1/12 (they sum to 1).
ROAD_WEIGHTS: tuple[tuple[int, int, float], ...] = (
    (-1, 0, 1 / 6),
    (1, 0, 1 / 6),
    (0, -1, 1 / 6),
    (0, 1, 1 / 6),
    (-1, -1, 1 / 12),
    (-1, 1, 1 / 12),
    (1, -1, 1 / 12),
    (1, 1, 1 / 12),
)


def noisy_linear_imputation(
    image: torch.Tensor,
    removed: torch.Tensor,
    *,
    noise: float = 0.01,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """ROAD's noisy linear imputation (Rong, Leemann, Borisov, Kasneci and Kasneci, 2022).

    Every removed pixel takes the weighted mean of its neighbours inside the image
    (:data:`ROAD_WEIGHTS`: 1/6 for the four direct, 1/12 for the four diagonal ones),
    removed neighbours included as unknowns: for each removed pixel p,
    ``(sum_q w_q) x_p - sum_{q removed} w_q x_q = sum_{q kept} w_q v_q``, one sparse
    linear system per image solved for all channels at once. The imputed values then get
    Gaussian noise of standard deviation ``noise``. Unlike a constant or a blur, the
    imputed region carries no trace of the removed shape's outline (its values come from
    its surroundings only), which is the leak ROAD removes.

    Only an image removed entirely leaves the system singular (its solutions are the
    constants): there every pixel takes the image's mean colour, plus the noise.

    Args:
        image: (C, H, W), in the model's input space.
        removed: (H, W) bool, the pixels to impute.
        noise: standard deviation of the noise added to imputed pixels (ROAD's 0.01).
        generator: for the noise (a local generator; ``None``: seeded with 0).

    Returns:
        (C, H, W): ``image`` with the removed pixels imputed.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.linalg import splu

    if image.ndim != 3 or tuple(removed.shape) != tuple(image.shape[1:]):
        raise InputError(
            f"noisy_linear_imputation needs image (C, H, W) and removed (H, W); got {tuple(image.shape)} "
            f"and {tuple(removed.shape)}"
        )
    c, h, w = image.shape
    out = image.detach().to("cpu", torch.float64).clone()
    flat_removed = removed.cpu().reshape(-1).numpy().astype(bool)
    unknown = np.flatnonzero(flat_removed)
    if unknown.size == 0:
        return image.clone()
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    values = out.reshape(c, -1).numpy()
    if unknown.size == h * w:
        solution = np.broadcast_to(values.mean(axis=1), (unknown.size, c)).copy()
    else:
        index = np.full(h * w, -1)
        index[unknown] = np.arange(unknown.size)
        rows, cols = np.divmod(unknown, w)
        diagonal = np.zeros(unknown.size)
        rhs = np.zeros((unknown.size, c))
        a_rows, a_cols, a_vals = [], [], []
        for dy, dx, weight in ROAD_WEIGHTS:
            ny, nx = rows + dy, cols + dx
            inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
            p = np.flatnonzero(inside)
            q = ny[inside] * w + nx[inside]
            diagonal[p] += weight
            gone = flat_removed[q]
            a_rows.append(p[gone])
            a_cols.append(index[q[gone]])
            a_vals.append(np.full(int(gone.sum()), -weight))
            rhs[p[~gone]] += weight * values[:, q[~gone]].T
        a_rows.append(np.arange(unknown.size))
        a_cols.append(np.arange(unknown.size))
        a_vals.append(diagonal)
        matrix = coo_matrix(
            (np.concatenate(a_vals), (np.concatenate(a_rows), np.concatenate(a_cols))), shape=(unknown.size,) * 2
        ).tocsc()
        solution = splu(matrix).solve(rhs)
    jitter = torch.randn((unknown.size, c), generator=gen, dtype=torch.float64).numpy() * noise
    values[:, unknown] = (solution + jitter).T
    return torch.from_numpy(values.reshape(c, h, w)).to(image.dtype)


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


def _steps(h: int, w: int, pixels_per_step: int | None, steps: int = REFERENCE_STEPS) -> tuple[int, torch.Tensor]:
    """Pixels per step and the pixel counts changed at each state (K,), from 0 to H*W."""
    total = h * w
    if pixels_per_step is None:
        _check_positive("steps", steps)
        pixels_per_step = math.ceil(total / steps)
    _check_positive("pixels_per_step", pixels_per_step)
    steps = math.ceil(total / pixels_per_step)
    return pixels_per_step, (torch.arange(steps + 1) * pixels_per_step).clamp(max=total)


BASELINES = ("zero", "mean", "blur", "road")


def _states(
    inputs: torch.Tensor,
    rank: torch.Tensor,
    counts: torch.Tensor,
    baseline: str | float,
    *,
    deleting: bool,
    blur_sigma: float,
    blur_radius: int,
    noise: float,
    seed: int,
) -> State:
    """The states of a deletion (``deleting``) or insertion path with the given baseline."""
    if baseline == "road":
        return _imputed(rank, counts, inputs, removed_first=deleting, noise=noise, seed=seed)
    if isinstance(baseline, (int, float)) and not isinstance(baseline, bool):
        other = torch.full_like(inputs, float(baseline))
    elif baseline == "zero":
        other = torch.zeros_like(inputs)
    elif baseline == "mean":
        other = inputs.mean(dim=(2, 3), keepdim=True).expand_as(inputs)
    elif baseline == "blur":
        other = gaussian_blur(inputs, blur_sigma, radius=blur_radius)
    else:
        raise InputError(f"baseline must be one of {', '.join(BASELINES)} or a number; got {baseline!r}")
    return _switch(rank, counts, inputs, other) if deleting else _switch(rank, counts, other, inputs)


def _path_curve(
    model: nn.Module,
    inputs: torch.Tensor,
    target: TargetLike,
    attribution: torch.Tensor,
    deleting: bool,
    pixels_per_step: int | None,
    steps: int,
    baseline: str | float,
    blur_sigma: float,
    blur_radius: int,
    noise: float,
    seed: int,
    batch_size: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The deletion (``deleting``) or insertion curve: fractions (K,) and probabilities (N, K)."""
    inputs, tgt, attribution = prepare(model, inputs, target, attribution)
    _check_positive("batch_size", batch_size)
    _, counts = _steps(inputs.shape[2], inputs.shape[3], pixels_per_step, steps)
    state = _states(
        inputs,
        _pixel_rank(attribution),
        counts,
        baseline,
        deleting=deleting,
        blur_sigma=blur_sigma,
        blur_radius=blur_radius,
        noise=noise,
        seed=seed,
    )
    probs = _curve(model, tgt, inputs.shape[0], counts.numel(), state, batch_size)
    return counts.float() / counts[-1], probs


def deletion_curve(
    model: nn.Module,
    inputs: torch.Tensor,
    target: TargetLike,
    attribution: torch.Tensor,
    *,
    pixels_per_step: int | None = None,
    steps: int = REFERENCE_STEPS,
    baseline: str | float = 0.0,
    blur_sigma: float = 5.0,
    blur_radius: int = 5,
    noise: float = 0.01,
    seed: int = 0,
    batch_size: int = 64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The deletion curve: target probability as the most relevant pixels are deleted.

    Args:
        model: classifier, inputs (N, C, H, W) -> logits (N, L); left as found.
        inputs: (N, C, H, W) preprocessed images.
        target: (N,) classes (or an int, or ``None`` for each image's top-1 class).
        attribution: (N, H, W), higher = more relevant.
        pixels_per_step: pixels deleted per step; ``None``: ceil(H * W / steps).
        steps: the number of steps when ``pixels_per_step`` is ``None``; 224 (the default)
            is Petsiuk et al.'s 224 pixels per step at 224 x 224, and 224 steps at any size.
        baseline: what a deleted pixel becomes, in the model's input space: a number (in
            every channel; 0, the default, is the protocol's, and after mean/std
            normalisation the data set's mean colour), ``"zero"`` (the same as 0),
            ``"mean"`` (the image's own mean colour), ``"blur"`` (a blurred copy,
            ``blur_sigma``/``blur_radius``) or ``"road"`` (ROAD's noisy linear
            imputation from the pixels still there, :func:`noisy_linear_imputation`).
        blur_sigma, blur_radius: the blur of ``"blur"``.
        noise, seed: ``"road"``'s noise standard deviation and its seed.
        batch_size: perturbed images per forward pass, across the images of the batch.

    Returns:
        fractions (K,) of pixels deleted, from 0 to 1, and probabilities (N, K).
    """
    return _path_curve(
        model,
        inputs,
        target,
        attribution,
        True,
        pixels_per_step,
        steps,
        baseline,
        blur_sigma,
        blur_radius,
        noise,
        seed,
        batch_size,
    )


def insertion_curve(
    model: nn.Module,
    inputs: torch.Tensor,
    target: TargetLike,
    attribution: torch.Tensor,
    *,
    pixels_per_step: int | None = None,
    steps: int = REFERENCE_STEPS,
    baseline: str | float = "blur",
    blur_sigma: float = 5.0,
    blur_radius: int = 5,
    noise: float = 0.01,
    seed: int = 0,
    batch_size: int = 64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The insertion curve: target probability as the most relevant pixels are restored
    into a baseline image (by default a blurred copy of the image).

    Args:
        model, inputs, target, attribution, pixels_per_step, steps, batch_size: as
            :func:`deletion_curve`.
        baseline: what a pixel not yet inserted is, as in :func:`deletion_curve`;
            default ``"blur"``, Petsiuk et al.'s.
        blur_sigma, blur_radius: the Gaussian that makes the blurred image (sigma 5,
            radius 5 = kernel 11: Petsiuk et al.'s), applied in the model's input space.
        noise, seed: ``"road"``'s noise and seed.

    Returns:
        fractions (K,) of pixels inserted, from 0 to 1, and probabilities (N, K).
    """
    return _path_curve(
        model,
        inputs,
        target,
        attribution,
        False,
        pixels_per_step,
        steps,
        baseline,
        blur_sigma,
        blur_radius,
        noise,
        seed,
        batch_size,
    )


@METRICS.register("deletion", higher_is_better=False, category="faithfulness", needs=("model",), applies_to="any")
def deletion(
    model: nn.Module,
    inputs: torch.Tensor,
    target: TargetLike,
    attribution: torch.Tensor,
    *,
    pixels_per_step: int | None = None,
    steps: int = REFERENCE_STEPS,
    baseline: str | float = 0.0,
    blur_sigma: float = 5.0,
    blur_radius: int = 5,
    noise: float = 0.01,
    seed: int = 0,
    batch_size: int = 64,
) -> torch.Tensor:
    """Deletion AUC (N,) in [0, 1]: the trapezoid area under :func:`deletion_curve`. Lower is better."""
    fractions, probs = _path_curve(
        model,
        inputs,
        target,
        attribution,
        True,
        pixels_per_step,
        steps,
        baseline,
        blur_sigma,
        blur_radius,
        noise,
        seed,
        batch_size,
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
    steps: int = REFERENCE_STEPS,
    baseline: str | float = "blur",
    blur_sigma: float = 5.0,
    blur_radius: int = 5,
    noise: float = 0.01,
    seed: int = 0,
    batch_size: int = 64,
) -> torch.Tensor:
    """Insertion AUC (N,) in [0, 1]: the trapezoid area under :func:`insertion_curve`. Higher is better."""
    fractions, probs = _path_curve(
        model,
        inputs,
        target,
        attribution,
        False,
        pixels_per_step,
        steps,
        baseline,
        blur_sigma,
        blur_radius,
        noise,
        seed,
        batch_size,
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
    probs = _curve(model, tgt, n, counts.numel(), _switch(rank, counts, inputs, end), batch_size)
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
