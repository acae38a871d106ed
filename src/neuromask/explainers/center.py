"""``center``: a sanity baseline for evaluations, a centred Gaussian that ignores the model.

It captures the photographer's bias of ImageNet, where the object is usually in the
middle; an explainer that does not beat it on localisation metrics has not shown much.
"""

from __future__ import annotations

import torch
from torch import nn

from ..types import MethodOutput
from ._common import check_positive
from ._registry import METHODS


@METHODS.register("center", kind="baseline", order=13)
def center(
    model: nn.Module,
    inputs: torch.Tensor,
    target: torch.Tensor,
    *,
    sigma: float = 0.25,
) -> MethodOutput:
    """A Gaussian bump exp(-d^2 / (2 sigma^2)) around the image centre, ignoring the model.

    Args:
        model: unused (the signature every method shares).
        inputs: (N, C, H, W), only their size is used.
        target: (N,) unused.
        sigma: the Gaussian's standard deviation as a fraction of each side (height
            and width scaled separately, so the bump follows the image's aspect).

    Returns:
        The map (N, H, W) in (0, 1], 1 at the centre.
    """
    check_positive("sigma", sigma, integer=False)
    n, _, h, w = inputs.shape
    ys = (torch.arange(h, dtype=torch.float64) + 0.5) / h - 0.5
    xs = (torch.arange(w, dtype=torch.float64) + 0.5) / w - 0.5
    d2 = ys[:, None] ** 2 + xs[None, :] ** 2
    bump = torch.exp(-d2 / (2 * sigma**2)).to(inputs.device, inputs.dtype)
    return MethodOutput(bump.expand(n, h, w).clone())
