"""``random``: a sanity baseline for evaluations. Any useful explainer must beat noise."""

from __future__ import annotations

import torch
from torch import nn

from ..types import MethodOutput
from ._registry import METHODS


@METHODS.register("random", kind="baseline", order=12)
def random(
    model: nn.Module,
    inputs: torch.Tensor,
    target: torch.Tensor,
    *,
    seed: int = 0,
) -> MethodOutput:
    """Uniform noise in [0, 1), ignoring model and image.

    Args:
        model: unused (the signature every method shares).
        inputs: (N, C, H, W), only their size is used.
        target: (N,) unused.
        seed: seeds a local generator. Every image gets the map of a generator seeded
            with ``seed``, so a batch equals its images one by one.

    Returns:
        The map (N, H, W).
    """
    n, _, h, w = inputs.shape
    one = torch.rand((1, h, w), generator=torch.Generator().manual_seed(seed))
    return MethodOutput(one.expand(n, h, w).to(inputs.device, inputs.dtype).clone())
