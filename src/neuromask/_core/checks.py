"""Input checks and model evaluation that explain(), the explainers, the metrics and the benchmark share."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ..errors import InputError, ModelOutputError, TargetError

if TYPE_CHECKING:  # annotations only: types shows an Explanation through viz, which writes through _core
    from ..types import LoadedModel, TargetLike

# The messages torch gives when a model is fed inputs of the wrong shape or channel count
# (convolution, linear, reshape, pooling and elementwise broadcasting), the only
# RuntimeErrors that forward_logits reports as the caller's InputError.
SHAPE_MISMATCH = re.compile(
    r"shapes cannot be multiplied|expected input\[.*\] to have \d+ channels|"
    r"Expected \d+D \(unbatched\) or \d+D \(batched\) input|size mismatch|"
    r"shape '\[.*\]' is invalid for input of size|Kernel size can't be greater than actual input size|"
    r"Output size is too small|must match the size of tensor|input image .* is smaller than kernel|"
    r"padding size should be less than|non-positive output size",
    re.IGNORECASE,
)


def check_inputs(inputs: Any) -> torch.Tensor:
    """Validate and return inputs as (N, C, H, W)."""
    if not isinstance(inputs, torch.Tensor):
        raise InputError(f"inputs must be a torch.Tensor (N, C, H, W); got {type(inputs).__name__}")
    if inputs.ndim == 3:
        inputs = inputs.unsqueeze(0)
    if inputs.ndim != 4:
        raise InputError(f"inputs must be (N, C, H, W) or (C, H, W); got shape {tuple(inputs.shape)}")
    if not inputs.is_floating_point():
        raise InputError(f"inputs must be a floating-point tensor; got dtype {inputs.dtype}")
    if inputs.shape[0] == 0 or inputs.shape[2] < 2 or inputs.shape[3] < 2:
        raise InputError(f"inputs must hold at least one image of at least 2x2 pixels; got shape {tuple(inputs.shape)}")
    if not torch.isfinite(inputs).all():
        bad = int((~torch.isfinite(inputs)).sum())
        raise InputError(f"inputs contain {bad} NaN or infinite values; clean or re-preprocess the images")
    checked: torch.Tensor = inputs
    return checked


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter or buffer (CPU for a stateless model)."""
    for t in list(model.parameters()) + list(model.buffers()):
        return t.device
    return torch.device("cpu")


def check_channels(model: nn.Module, inputs: torch.Tensor) -> None:
    first_conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if first_conv is not None and first_conv.in_channels != inputs.shape[1]:
        raise InputError(
            f"inputs must have {first_conv.in_channels} channels for this model; got shape {tuple(inputs.shape)}"
        )


def forward_logits(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """Run the model once without gradients and check it returns finite logits (N, L)."""
    with torch.no_grad():
        try:
            out = model(inputs)
        except RuntimeError as exc:
            # Only a shape or channel mismatch is the caller's input; anything else (out of
            # memory, a bug in the model or in torch) propagates as it is.
            if not SHAPE_MISMATCH.search(str(exc)):
                raise
            first = str(exc).strip().splitlines()[0]
            raise InputError(f"the model cannot run on inputs of shape {tuple(inputs.shape)}: {first}") from exc
    if not isinstance(out, torch.Tensor):
        raise ModelOutputError(
            f"the model must return a logits tensor (N, L); got {type(out).__name__} "
            "(wrap it so that forward returns only the class scores)"
        )
    if out.ndim != 2 or out.shape[0] != inputs.shape[0]:
        raise ModelOutputError(
            f"the model must return logits of shape (N, L) = ({inputs.shape[0]}, L); got {tuple(out.shape)}"
        )
    if out.shape[1] < 2:
        raise ModelOutputError(f"the model must return at least 2 class scores; got shape {tuple(out.shape)}")
    if not torch.isfinite(out).all():
        raise ModelOutputError("the model returned NaN or infinite logits for these inputs")
    return out


def resolve_target(
    target: TargetLike | str | Sequence[str], logits: torch.Tensor, model: LoadedModel | None = None
) -> torch.Tensor:
    """Target as (N,) long on the logits' device: None -> top-1; int or names -> each image."""
    n, num_classes = logits.shape
    if target is None:
        return logits.argmax(dim=1)
    # A Tensor is not a collections.abc.Sequence: a sequence here is a list or tuple.
    if isinstance(target, str) or (isinstance(target, Sequence) and any(isinstance(t, str) for t in target)):
        if model is None:
            raise TargetError("a class name needs a model with labels (neuromask.load_model); pass an index instead")
        names: list[int | str] = [target] if isinstance(target, str) else list(target)
        target = [model.class_index(t) for t in names]
    if isinstance(target, bool):
        raise TargetError(f"target must be an int, a sequence of N ints or None; got {target!r}")
    if isinstance(target, int):
        t = torch.full((n,), target, dtype=torch.long)
    else:
        try:
            t = torch.as_tensor(target)
        except (TypeError, ValueError) as exc:
            raise TargetError(f"target must be an int, a sequence of N ints or None; got {target!r}") from exc
        if t.is_floating_point() or t.dtype == torch.bool:
            raise TargetError(f"target must hold integer class indices; got dtype {t.dtype}")
        t = t.long().reshape(-1)
        if t.numel() == 1:
            t = t.expand(n).clone()
        if t.numel() != n:
            raise TargetError(f"target must hold one class per image ({n}); got {t.numel()}")
    if (t < 0).any() or (t >= num_classes).any():
        raise TargetError(f"target class must be in [0, {num_classes - 1}]; got {t.tolist()}")
    return t.to(logits.device)
