"""``explain()``: validate -> resolve target -> guard the model -> call the method -> Explanation.

Methods only compute. Everything every method needs is done here once: input
validation, the device, target resolution, freezing the model and restoring it
afterwards, filling in default options, and the output's dtype, device and shape.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ._core import (
    check_channels,
    check_inputs,
    display_images,
    forward_logits,
    frozen,
    model_device,
    resolve_target,
    target_labels,
)
from .errors import InputError
from .explainers import (
    METHODS,
    MethodInfo,
    method_info,
    option_defaults,
    ordered,
    require_available,
    resolve_options,
)
from .types import Explanation, LoadedModel, MethodOutput, TargetLike

__all__ = ["explain", "methods", "method_info", "method_options", "method_presets", "MethodInfo"]


def methods(*, available: bool = False) -> list[str]:
    """The names of every registered explanation method, in display order.

    Args:
        available: only the methods whose optional dependencies are installed here
            (see :func:`method_info`'s ``install`` for the command that adds the others).
    """
    names = ordered()
    return [n for n in names if method_info(n).available] if available else names


def method_options(method: str) -> dict[str, Any]:
    """The options of ``method`` with their defaults, read from its signature."""
    return option_defaults(METHODS.entry(method))


def method_presets(method: str) -> dict[str, dict[str, Any]]:
    """Named sets of option values a method offers (``preset=NAME``)."""
    return method_info(method).presets


def explain(
    model: nn.Module | LoadedModel,
    inputs: torch.Tensor,
    target: TargetLike | str | Sequence[str] = None,
    method: str = "neuromask",
    **params: Any,
) -> Explanation:
    """Explain the model's decision on ``inputs`` with ``method``.

    Args:
        model: a module mapping inputs (N, C, H, W) to logits (N, L), or a
            :class:`LoadedModel` (which also supplies the normalisation and labels).
            It is left exactly as it was found (mode, ``requires_grad``, weights).
        inputs: (N, C, H, W) or (C, H, W) float, preprocessed for the model. They are
            moved to the model's device.
        target: ``None`` (each image's top-1 class), an int, N ints, or class names
            when ``model`` is a :class:`LoadedModel` with labels.
        method: a registered method name, see :func:`methods`.
        **params: the method's options (see :func:`method_options`); ``preset=NAME``
            selects a named set of them where the method offers presets.

    Returns:
        An :class:`Explanation` whose ``attribution`` is (N, H, W) float32 on the CPU.

    Raises:
        InputError, TargetError, ModelOutputError, UnknownNameError (all ValueError);
        MissingDependencyError (an ImportError) when the method's extra is not installed.
    """
    entry = METHODS.entry(method)
    require_available(method)
    loaded = model if isinstance(model, LoadedModel) else None
    module = loaded.module if loaded is not None else model
    if not isinstance(module, nn.Module):
        raise InputError(f"model must be a torch.nn.Module or a LoadedModel; got {type(model).__name__}")
    inputs = check_inputs(inputs)
    check_channels(module, inputs)
    options = resolve_options(entry, params, loaded)
    inputs = inputs.detach().to(model_device(module))

    with frozen(module):
        logits = forward_logits(module, inputs)
        tgt = resolve_target(target, logits, loaded)
        context = {k: v for k, v in {"logits": logits}.items() if k in inspect.signature(entry.obj).parameters}
        call_options = {k: v for k, v in options.items() if k != "preset"}
        start = time.perf_counter()
        result = entry.obj(module, inputs, tgt, **call_options, **context)
        if inputs.device.type == "cuda":
            torch.cuda.synchronize(inputs.device)
        seconds = time.perf_counter() - start

    if not isinstance(result, MethodOutput):
        raise TypeError(f"method '{method}' must return a MethodOutput; got {type(result).__name__}")
    attribution, extras = result.attribution, result.extras
    n, _, h, w = inputs.shape
    if tuple(attribution.shape) != (n, h, w):
        raise RuntimeError(f"method '{method}' returned shape {tuple(attribution.shape)}, expected {(n, h, w)}")
    probability = logits.softmax(dim=1).gather(1, tgt[:, None])[:, 0]
    return Explanation(
        attribution=attribution.detach().float().cpu(),
        target=tgt.cpu(),
        method=method,
        params=options,
        probability=probability.float().cpu(),
        seconds=seconds,
        extras={k: (v.detach().cpu() if isinstance(v, torch.Tensor) else v) for k, v in extras.items()},
        images=display_images(inputs, loaded),
        labels=target_labels(tgt, loaded),
    )
