"""Validation and model evaluation shared by the metric families."""

from __future__ import annotations

import torch
from torch import nn

from .._core import check_inputs, forward_logits, frozen, model_device, resolve_target
from ..errors import InputError
from ..types import TargetLike


def check_attribution(
    attribution: torch.Tensor, n: int | None = None, size: tuple[int, int] | None = None
) -> torch.Tensor:
    """Validate an attribution (N, H, W) (or (H, W), one image) and return it as float32 on the CPU."""
    if not isinstance(attribution, torch.Tensor):
        raise InputError(f"attribution must be a torch.Tensor (N, H, W); got {type(attribution).__name__}")
    if attribution.ndim == 2:
        attribution = attribution.unsqueeze(0)
    if attribution.ndim != 3:
        raise InputError(f"attribution must be (N, H, W); got shape {tuple(attribution.shape)}")
    if not attribution.is_floating_point():
        raise InputError(f"attribution must be a floating-point tensor; got dtype {attribution.dtype}")
    if n is not None and size is not None and tuple(attribution.shape) != (n, *size):
        raise InputError(
            f"attribution must be (N, H, W) = {(n, *size)} to match the inputs; got {tuple(attribution.shape)}"
        )
    if not torch.isfinite(attribution).all():
        raise InputError("attribution contains NaN or infinite values")
    return attribution.detach().float().cpu()


def check_evidence(evidence: torch.Tensor, attribution: torch.Tensor) -> torch.Tensor:
    """Validate an evidence mask (N, H, W) bool against ``attribution`` (N, H, W); return it on the CPU.

    Every image needs at least one evidence pixel and at least one pixel outside the
    evidence: with either side empty, no localisation score is defined.
    """
    if not isinstance(evidence, torch.Tensor):
        raise InputError(f"evidence must be a torch.Tensor (N, H, W) of bool; got {type(evidence).__name__}")
    if evidence.ndim == 2:
        evidence = evidence.unsqueeze(0)
    if tuple(evidence.shape) != tuple(attribution.shape):
        raise InputError(
            f"evidence must have the attribution's shape {tuple(attribution.shape)}; got {tuple(evidence.shape)}"
        )
    if evidence.dtype != torch.bool:
        raise InputError(f"evidence must be a bool tensor; got dtype {evidence.dtype}")
    evidence = evidence.cpu()
    inside = evidence.flatten(1).sum(1)
    empty = (inside == 0).nonzero().flatten().tolist()
    full = (inside == evidence[0].numel()).nonzero().flatten().tolist()
    if empty or full:
        which = f"images {empty} have no evidence pixel" if empty else f"images {full} are evidence everywhere"
        raise InputError(f"evidence must mark some but not all pixels of each image; {which}")
    return evidence


def prepare(
    model: nn.Module, inputs: torch.Tensor, target: TargetLike, attribution: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Validate the (model, inputs, target, attribution) of a model-based metric.

    Returns inputs (N, C, H, W) on the model's device, target (N,) long on that device
    (``None`` resolves to each image's top-1 class) and attribution (N, H, W) on the CPU.
    """
    if not isinstance(model, nn.Module):
        raise InputError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    inputs = check_inputs(inputs).detach().to(model_device(model))
    n, _, h, w = inputs.shape
    attribution = check_attribution(attribution, n, (h, w))
    with frozen(model):
        logits = forward_logits(model, inputs)
    return inputs, resolve_target(target, logits), attribution


def target_probability(
    model: nn.Module, inputs: torch.Tensor, target: torch.Tensor, batch_size: int = 64
) -> torch.Tensor:
    """Softmax probability of ``target`` (B,) for each of ``inputs`` (B, C, H, W), in batches: (B,) on the CPU.

    The model is frozen (eval mode) for the call and restored afterwards.
    """
    out = []
    with frozen(model), torch.no_grad():
        for start in range(0, inputs.shape[0], batch_size):
            chunk = inputs[start : start + batch_size]
            probs = model(chunk).softmax(dim=1)
            out.append(probs.gather(1, target[start : start + batch_size, None])[:, 0].float().cpu())
    return torch.cat(out)
