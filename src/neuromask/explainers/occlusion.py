"""Occlusion (Zeiler and Fergus, 2014), through Captum's ``Occlusion``: slide a square
over the image and record how much the target's score drops.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .._core import make_baseline
from ..errors import InputError
from ..types import MethodOutput
from ._common import check_positive, probability_model
from ._registry import METHODS


@METHODS.register("occlusion", kind="perturbation", order=8, pixel_options=("window", "stride"))
def occlusion(
    model: nn.Module,
    inputs: torch.Tensor,
    target: torch.Tensor,
    *,
    window: int = 32,
    stride: int = 16,
    baseline: str | float = "zero",
    output: str = "probability",
    batch_size: int = 16,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> MethodOutput:
    """score(x) - score(x with a window x window square replaced by the baseline), each pixel
    averaged over the squares that cover it.

    Args:
        model: frozen classifier, inputs (N, C, H, W) -> logits (N, L).
        inputs: (N, C, H, W) preprocessed images.
        target: (N,) the class whose score is watched.
        window: side of the occluding square in pixels (all channels at once); clipped
            to the image. The paper slides a grey square; 32 px with stride 16 costs
            169 forward passes at 224 x 224.
        stride: step between squares in pixels.
        baseline: what an occluded pixel becomes (see ``neuromask._core.make_baseline``);
            ``"zero"`` is the mean colour of an ImageNet-normalised model, the paper's
            grey square.
        output: the score, ``"probability"`` (the paper's figures) or ``"logit"``.
        batch_size: occluded images per forward pass (Captum's ``perturbations_per_eval``).
        mean, std: the model's normalisation, needed by ``baseline="black"``.

    Returns:
        The map (N, H, W), signed: positive where hiding the pixel lowers the score.
        The C channels are occluded together, so the per-channel maps are equal and the
        first is returned.
    """
    from captum.attr import Occlusion

    check_positive("window", window)
    check_positive("stride", stride)
    check_positive("batch_size", batch_size)
    _, c, h, w = inputs.shape
    win = min(window, h, w)
    if output not in ("probability", "logit"):
        raise InputError(f"output must be 'probability' or 'logit'; got {output!r}")
    forward = probability_model(model) if output == "probability" else model
    attributions = Occlusion(forward).attribute(
        inputs,
        sliding_window_shapes=(c, win, win),
        strides=(c, stride, stride),
        baselines=make_baseline(inputs, baseline, mean=mean, std=std),
        target=target,
        perturbations_per_eval=batch_size,
    )
    return MethodOutput(attributions[:, 0].detach())
