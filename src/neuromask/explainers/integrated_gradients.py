"""Integrated gradients (Sundararajan, Taly and Yan, 2017), through Captum's
``IntegratedGradients``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .._core import make_baseline
from ..types import MethodOutput
from ._common import check_positive, reduce_channels
from ._registry import METHODS


# "fast": few steps for tests, the quick benchmark suite and the docs gallery.
@METHODS.register("integrated_gradients", kind="gradient", order=4, presets={"fast": dict(steps=8)})
def integrated_gradients(
    model: nn.Module,
    inputs: torch.Tensor,
    target: torch.Tensor,
    *,
    steps: int = 50,
    baseline: str | float = "zero",
    integration: str = "gausslegendre",
    reduction: str = "sum",
    batch_size: int = 10,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> MethodOutput:
    """(x - x') * integral over a in [0, 1] of d logit_target(x' + a (x - x')) / dx.

    Args:
        model: frozen classifier, inputs (N, C, H, W) -> logits (N, L).
        inputs: (N, C, H, W) preprocessed images.
        target: (N,) the class whose logit is attributed.
        steps: points of the path integral (the paper: 20-300; Captum's default 50).
        baseline: the reference image x' (see ``neuromask._core.make_baseline``): ``"zero"`` in
            the model's input space (for an ImageNet-normalised model the mean colour),
            ``"black"`` (the paper's black image; needs ``mean``/``std``), ``"blur"``,
            ``"mean"`` or a number.
        integration: Captum's quadrature, ``"gausslegendre"`` or ``"riemann_trapezoid"``
            (and the other ``riemann_*`` rules).
        reduction: how the signed per-channel attribution becomes (N, H, W). The default
            ``"sum"`` keeps completeness: the map sums to logit(x) - logit(x') up to the
            quadrature error reported in extras.
        batch_size: images on the path per forward/backward pass, all inputs together
            (Captum's ``internal_batch_size``), at least N. Captum's default, one batch of
            all points, was 1.6-2.6x slower on EfficientNet-Lite0 on a 2-core CPU than
            batches of 10.
        mean, std: the model's normalisation, needed by ``baseline="black"``.

    Returns:
        The map (N, H, W), and extras ``convergence_delta`` (N,): the sum of the
        attributions minus (logit(x) - logit(x')).
    """
    from captum.attr import IntegratedGradients

    check_positive("steps", steps)
    check_positive("batch_size", batch_size)
    reference = make_baseline(inputs, baseline, mean=mean, std=std)
    attributions, delta = IntegratedGradients(model).attribute(
        inputs.clone().requires_grad_(True),
        baselines=reference,
        target=target,
        n_steps=steps,
        method=integration,
        # Captum needs at least one path point per image in a pass; below N it warns and uses N.
        internal_batch_size=max(batch_size, inputs.shape[0]),
        return_convergence_delta=True,
    )
    return MethodOutput(reduce_channels(attributions.detach(), reduction), {"convergence_delta": delta.detach()})
