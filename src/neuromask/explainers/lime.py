"""LIME (Ribeiro, Singh and Guestrin, 2016) on superpixels, through Captum's ``Lime``.

The image is cut into superpixels with scikit-image (SLIC by default; quickshift with
LIME's own parameters on request); random subsets of superpixels are hidden, and a
weighted ridge regression from "which superpixels were kept" to the target's probability
gives each superpixel a weight. The sampling and the sample weights are passed to Captum
explicitly: Captum's default sampler draws from the global RNG, and its default kernel
compares images pixel by pixel, while LIME compares the binary keep-vectors
(cosine distance, kernel width 0.25).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from .._core import make_baseline
from ..errors import InputError
from ..types import MethodOutput
from ._common import check_positive, probability_model
from ._registry import METHODS


def grid_segments(height: int, width: int, segments: int) -> torch.Tensor:
    """A regular grid of about ``segments`` cells (at least 2), shaped like the image: (H, W) long."""
    rows = min(height, max(1, round(math.sqrt(segments * height / width))))
    cols = min(width, max(1, round(segments / rows)))
    if rows * cols < 2:  # the image is at least 2x2 (explain() checks it)
        rows, cols = (1, 2) if width >= height else (2, 1)
    r = torch.arange(height) * rows // height
    c = torch.arange(width) * cols // width
    return r[:, None] * cols + c[None, :]


def superpixels(
    image: torch.Tensor, segmentation: str, segments: int, compactness: float = 10.0
) -> tuple[torch.Tensor, str]:
    """Label map (H, W) long, labels 0..K-1, of one image (C, H, W) scaled to [0, 1], and the
    segmentation actually used.

    SLIC and quickshift follow the image's content, so on some images (flat colours,
    noise at a low compactness, a few pixels) they return a single segment, which gives
    LIME nothing to vary: those images fall back to :func:`grid_segments`, and the second
    value says ``"grid"``.
    """
    from skimage.segmentation import quickshift, slic

    height, width = image.shape[-2:]
    if segmentation == "grid":
        return grid_segments(height, width, segments), "grid"
    pixels = image.detach().permute(1, 2, 0).cpu().double().numpy()
    channel_axis = -1 if pixels.shape[-1] > 1 else None
    if channel_axis is None:
        pixels = pixels[..., 0]
    if segmentation == "slic":
        labels = slic(pixels, n_segments=segments, compactness=compactness, start_label=0, channel_axis=channel_axis)
    elif segmentation == "quickshift":
        if channel_axis is None:
            pixels = np.repeat(pixels[..., None], 3, axis=-1)
        # LIME's parameters, for pixel values in [0, 255].
        labels = quickshift(pixels * 255.0, kernel_size=4, max_dist=200, ratio=0.2)
    else:
        raise InputError(f"segmentation must be 'slic', 'quickshift' or 'grid'; got {segmentation!r}")
    # Relabel to 0..K-1: Captum numbers the interpretable features by the mask's values.
    values, dense = np.unique(labels, return_inverse=True)
    if len(values) < 2:
        return grid_segments(height, width, segments), "grid"
    return torch.from_numpy(dense.reshape(labels.shape)).long(), segmentation


def _to_unit_range(x: torch.Tensor, mean: Sequence[float] | None, std: Sequence[float] | None) -> torch.Tensor:
    """One image (C, H, W) back to [0, 1] for the segmentation."""
    if mean is not None and std is not None:
        m = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(-1, 1, 1)
        s = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(-1, 1, 1)
        return (x * s + m).clamp(0, 1)
    low, high = x.min(), x.max()
    return (x - low) / (high - low).clamp_min(1e-12)


def _superpixel_means(x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Each pixel of x (C, H, W) replaced by its superpixel's mean colour (LIME's hide colour)."""
    c = x.shape[0]
    flat = labels.to(x.device).flatten()
    k = int(flat.max()) + 1
    sums = torch.zeros(c, k, dtype=x.dtype, device=x.device).index_add_(1, flat, x.reshape(c, -1))
    counts = torch.bincount(flat, minlength=k).to(x.dtype)
    return (sums / counts)[:, flat].reshape(x.shape)


# "fast": few samples for tests, the quick benchmark suite and the docs gallery.
@METHODS.register("lime", kind="perturbation", order=6, presets={"fast": dict(samples=60)})
def lime(
    model: nn.Module,
    inputs: torch.Tensor,
    target: torch.Tensor,
    *,
    samples: int = 300,
    segments: int = 50,
    segmentation: str = "slic",
    compactness: float = 10.0,
    baseline: str | float = "superpixel_mean",
    kernel_width: float = 0.25,
    alpha: float = 1.0,
    batch_size: int = 16,
    seed: int = 0,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> MethodOutput:
    """Superpixel weights of a local linear surrogate of the target's probability.

    Args:
        model: frozen classifier, inputs (N, C, H, W) -> logits (N, L).
        inputs: (N, C, H, W) preprocessed images.
        target: (N,) the class whose probability is explained.
        samples: perturbed images per image. LIME's image default is 1000; 300 (about
            6 per superpixel) keeps one explanation of EfficientNet-Lite0 to seconds
            on a CPU.
        segments: approximate number of SLIC superpixels.
        segmentation: ``"slic"``, ``"quickshift"`` (LIME's own, kernel 4, max distance
            200, ratio 0.2; slower, and its segment count follows the image) or ``"grid"``
            (a regular grid of about ``segments`` cells). An image on which SLIC or
            quickshift finds a single segment falls back to the grid.
        compactness: SLIC's balance of space over colour (scikit-image's default 10;
            noisy or tiny images need more, e.g. 100).
        baseline: what a hidden superpixel becomes: ``"superpixel_mean"`` (LIME: its
            mean colour) or any ``neuromask._core.make_baseline`` choice.
        kernel_width: width of LIME's exponential kernel on the cosine distance between
            the keep-vector and all-ones: weight = sqrt(exp(-d^2 / width^2)).
        alpha: ridge penalty of the surrogate (LIME's ``Ridge(alpha=1)``).
        batch_size: perturbed images per forward pass.
        seed: seeds the sampling of keep-vectors (a local generator, one per image
            seeded with ``seed``, so a batch equals its images one by one).
        mean, std: the model's normalisation: used to turn the inputs back into [0, 1]
            pixels for the segmentation (else each image is min-max scaled), and by
            ``baseline="black"``.

    Returns:
        The map (N, H, W): every pixel holds its superpixel's signed weight (positive
        supports the target), and extras ``superpixels`` (N, H, W) long and ``grid``
        (N,) bool: whether the image fell back to (or asked for) the grid.
    """
    from captum._utils.models.linear_model import SkLearnRidge
    from captum.attr import Lime

    check_positive("samples", samples)
    check_positive("segments", segments)
    check_positive("batch_size", batch_size)
    check_positive("kernel_width", kernel_width, integer=False)
    maps, labels_all, grid = [], [], []
    for i in range(inputs.shape[0]):
        x = inputs[i : i + 1]
        labels, used = superpixels(_to_unit_range(x[0], mean, std), segmentation, segments, compactness)
        grid.append(used == "grid")
        if baseline == "superpixel_mean":
            hidden = _superpixel_means(x[0], labels)[None]
        else:
            hidden = make_baseline(x, baseline, mean=mean, std=std)
        gen = torch.Generator().manual_seed(seed)

        def sample(original: torch.Tensor, **kwargs: Any) -> torch.Tensor:
            n_features = int(kwargs["num_interp_features"])
            keep = torch.rand((1, n_features), generator=gen) < 0.5  # noqa: B023 - called within this iteration
            return keep.long().to(original.device)

        def similarity(original: torch.Tensor, perturbed: torch.Tensor, keep: torch.Tensor, **_: Any) -> float:
            # Cosine distance between the keep-vector and all-ones: 1 - |kept| / sqrt(K |kept|).
            kept, total = float(keep.sum()), keep.numel()
            distance = 1.0 - (kept / math.sqrt(total * kept) if kept > 0 else 0.0)
            return math.sqrt(math.exp(-(distance**2) / kernel_width**2))

        explainer = Lime(
            probability_model(model),
            interpretable_model=SkLearnRidge(alpha=alpha),
            similarity_func=similarity,
            perturb_func=sample,
        )
        attribution = explainer.attribute(
            x,
            baselines=hidden,
            target=target[i : i + 1],
            feature_mask=labels.to(x.device)[None, None],
            n_samples=samples,
            perturbations_per_eval=batch_size,
        )
        maps.append(attribution[:, 0].detach())
        labels_all.append(labels)
    return MethodOutput(torch.cat(maps), {"superpixels": torch.stack(labels_all), "grid": torch.tensor(grid)})
