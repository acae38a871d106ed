"""Small pieces shared by the attribution methods: channel reduction, option checks,
target-logit functions and batched gradients.

Kept private: methods import them, users never need them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import nn

from ..errors import InputError

# How a per-channel attribution (N, C, H, W) becomes a map (N, H, W).
REDUCTIONS = ("max_abs", "sum_abs", "sum", "l2")


def reduce_channels(attribution: torch.Tensor, reduction: str) -> torch.Tensor:
    """(N, C, H, W) -> (N, H, W).

    ``"max_abs"``: max over channels of |a| (Simonyan et al.'s saliency map);
    ``"sum_abs"``: sum of |a|; ``"sum"``: signed sum (keeps conservation / completeness:
    the map sums to what the channels sum to); ``"l2"``: Euclidean norm over channels.
    """
    if reduction == "max_abs":
        return attribution.abs().amax(dim=1)
    if reduction == "sum_abs":
        return attribution.abs().sum(dim=1)
    if reduction == "sum":
        return attribution.sum(dim=1)
    if reduction == "l2":
        norm: torch.Tensor = attribution.norm(dim=1)
        return norm
    raise InputError(f"reduction must be one of {', '.join(REDUCTIONS)}; got {reduction!r}")


def check_positive(name: str, value: int | float, *, integer: bool = True) -> None:
    """Raise InputError unless ``value`` is a positive number (an int when ``integer``)."""
    if isinstance(value, bool) or (integer and not isinstance(value, int)) or not value > 0:
        kind = "a positive integer" if integer else "a positive number"
        raise InputError(f"{name} must be {kind}; got {value!r}")


def check_fraction(name: str, value: float, *, low_open: bool = True) -> None:
    """Raise InputError unless ``value`` is in (0, 1] (or [0, 1] with ``low_open=False``)."""
    ok = (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and ((0 < value <= 1) if low_open else (0 <= value <= 1))
    )
    if not ok:
        interval = "(0, 1]" if low_open else "[0, 1]"
        raise InputError(f"{name} must be in {interval}; got {value!r}")


def target_scores(logits: torch.Tensor, target: torch.Tensor, output: str) -> torch.Tensor:
    """Each row's score for its target class: logits (N, L), target (N,) -> (N,).

    ``output`` is ``"logit"`` (the raw score) or ``"probability"`` (softmax).
    """
    if output == "logit":
        return logits.gather(1, target[:, None])[:, 0]
    if output == "probability":
        return logits.softmax(dim=1).gather(1, target[:, None])[:, 0]
    raise InputError(f"output must be 'logit' or 'probability'; got {output!r}")


def probability_model(model: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """A forward function returning softmax probabilities (N, L) instead of logits."""

    def forward(x: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = model(x)
        return logits.softmax(dim=1)

    return forward


def chunks(total: int, size: int) -> Iterator[slice]:
    """Consecutive slices of at most ``size`` covering range(total)."""
    for start in range(0, total, size):
        yield slice(start, min(start + size, total))


def input_gradients(model: nn.Module, inputs: torch.Tensor, target: torch.Tensor, batch_size: int) -> torch.Tensor:
    """d logit_target / d inputs for every row, ``batch_size`` rows per backward pass.

    inputs (M, C, H, W), target (M,) -> gradients (M, C, H, W). The model is frozen and in
    eval mode, so rows do not interact and the chunking does not change the result.
    """
    grads = torch.empty_like(inputs)
    for sl in chunks(inputs.shape[0], batch_size):
        x = inputs[sl].detach().clone().requires_grad_(True)
        score = model(x).gather(1, target[sl, None]).sum()
        (grads[sl],) = torch.autograd.grad(score, x)
    return grads


def transformer_parts(model: nn.Module) -> list[str]:
    """The type names of the model's attention and LayerNorm modules, sorted; empty for a CNN.

    Attention is recognised by its class name (``Attention``, ``WindowAttention``,
    ``ViTSelfAttention``, ``nn.MultiheadAttention``, ...): timm, Hugging Face and
    hand-written transformers share no base class for it.
    """
    return sorted(
        {type(m).__name__ for m in model.modules() if isinstance(m, nn.LayerNorm) or "Attention" in type(m).__name__}
    )
