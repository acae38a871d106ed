"""Saliency (Simonyan, Vedaldi and Zisserman, 2014): the gradient of the target's logit
with respect to the input pixels, through Captum's ``Saliency``.
"""

from __future__ import annotations

import torch
from torch import nn

from ..types import MethodOutput
from ._common import reduce_channels
from ._registry import METHODS


@METHODS.register("saliency", kind="gradient", order=1)
def saliency(
    model: nn.Module,
    inputs: torch.Tensor,
    target: torch.Tensor,
    *,
    reduction: str = "max_abs",
) -> MethodOutput:
    """Vanilla gradient saliency.

    Args:
        model: frozen classifier, inputs (N, C, H, W) -> logits (N, L).
        inputs: (N, C, H, W) preprocessed images.
        target: (N,) the class whose logit is differentiated.
        reduction: how the signed gradient (N, C, H, W) becomes (N, H, W): ``"max_abs"``
            (the paper: max over channels of the absolute value), ``"sum_abs"``, ``"sum"``
            or ``"l2"``.

    Returns:
        The map (N, H, W); with ``"max_abs"`` it is >= 0.
    """
    from captum.attr import Saliency

    x = inputs.clone().requires_grad_(True)
    # abs=False: Captum's abs is element-wise; the reduction decides how signs are treated.
    grads = Saliency(model).attribute(x, target=target, abs=False)
    return MethodOutput(reduce_channels(grads.detach(), reduction))
