"""What an :class:`~neuromask.Explanation` keeps to show itself: the images as pixels and the targets' names."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:  # types shows an Explanation through viz, which writes files through _core
    from ..types import LoadedModel


def display_images(inputs: torch.Tensor, model: LoadedModel | None) -> torch.Tensor:
    """Inputs (N, C, H, W) as pixels (N, C, H, W) in [0, 1] on the CPU, for display.

    A :class:`LoadedModel`'s normalisation is undone; inputs of a plain module, whose
    normalisation is unknown here, are rescaled per image from their range to [0, 1].
    """
    inputs = inputs.detach().float().cpu()
    if model is not None:
        return model.denormalize(inputs).clamp(0.0, 1.0)
    low = inputs.amin(dim=(1, 2, 3), keepdim=True)
    high = inputs.amax(dim=(1, 2, 3), keepdim=True)
    return (inputs - low) / (high - low).clamp_min(torch.finfo(torch.float32).tiny)


def target_labels(target: torch.Tensor, model: LoadedModel | None) -> list[str] | None:
    """The class name of each target (N,), or ``None`` without a model that has labels."""
    if model is None or model.labels is None:
        return None
    return [model.label(int(t)) for t in target]
