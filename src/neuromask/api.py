"""``explain()``: validate -> resolve target -> guard the model -> call the method -> Explanation.

Methods only compute. Everything every method needs is done here once: input
validation, the device, target resolution, freezing the model and restoring it
afterwards, filling in default options, and the output's dtype, device and shape.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Mapping, Sequence
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
from .errors import InputError, UnknownNameError
from .explainers import METHODS, MODEL_PARAMS, MethodInfo, method_info, option_defaults, ordered, scale_pixel_options
from .types import Explanation, LoadedModel, MethodOutput, Normalisation, TargetLike

__all__ = ["explain", "methods", "method_info", "method_options", "method_presets", "resolve_options", "MethodInfo"]


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


def resolve_options(
    method: str,
    params: Mapping[str, Any],
    *,
    size: tuple[int, int],
    model: Normalisation | None = None,
) -> dict[str, Any]:
    """Every option ``method`` runs with on images of ``size``: what :func:`explain` passes to
    the method and records in :attr:`Explanation.params`.

    In this order:

    1. the defaults, read from the method's signature (:func:`method_options`);
    2. the values of the preset ``params["preset"]`` names (:func:`method_presets`);
    3. the pixel-sized options (``method_info(method).pixel_options``, whose values are given
       for 224 px images) scaled to ``size`` by its shorter side, integers rounded and at
       least 1; an option ``params`` gives is never scaled;
    4. ``mean`` and ``std`` from ``model`` where the method takes them and they are unset;
    5. ``params``.

    Resolving the result again gives the same result, so a caller may resolve a request
    once (to check it, to record it, to key a cache with it) and pass what it got to
    :func:`explain`.

    Args:
        method: a registered method name, see :func:`methods`.
        params: the options given, by name, with ``preset=NAME`` for a preset.
        size: (H, W) of the model's inputs.
        model: the :class:`LoadedModel` that will be explained (or anything with its ``mean``
            and ``std``), for its normalisation.

    Returns:
        Every option by name; for a method that offers presets, ``preset`` too (``None``
        when none was chosen).

    Raises:
        UnknownNameError: an unknown method, preset or option name.
        InputError: ``size`` is not two positive integers.
    """
    if len(size) != 2 or not all(isinstance(s, int) and not isinstance(s, bool) for s in size) or min(size) < 1:
        raise InputError(f"size must be (H, W), two positive integers; got {tuple(size)!r}")
    entry = METHODS.entry(method)
    info = method_info(method)
    options = option_defaults(entry)
    given = dict(params)
    preset = given.pop("preset", None)
    if preset is not None:
        if preset not in info.presets:
            choices = ", ".join(info.presets) or "none"
            raise UnknownNameError(f"method '{method}' has no preset '{preset}'; presets: {choices}")
        options.update(info.presets[preset])
    unknown = sorted(set(given) - set(options))
    if unknown:
        raise UnknownNameError(
            f"method '{method}' has no option {', '.join(repr(u) for u in unknown)}; "
            f"its options are: {', '.join(sorted(options))}"
        )
    options.update(scale_pixel_options(options, [n for n in info.pixel_options if n not in given], size))
    if model is not None:
        for key in MODEL_PARAMS:
            if key in options and key not in given and options[key] is None:
                options[key] = getattr(model, key)
    options.update(given)
    if info.presets:
        options["preset"] = preset
    return options


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
            selects a named set of them where the method offers presets. Completed by
            :func:`resolve_options` for the inputs' size (pixel-sized options scaled from
            224 px unless given) and recorded in the result's ``params``.

    Returns:
        An :class:`Explanation` whose ``attribution`` is (N, H, W) float32 on the CPU.

    Raises:
        InputError, TargetError, ModelOutputError, UnknownNameError (all ValueError);
        MissingDependencyError (an ImportError) when the method's extra is not installed.
    """
    entry = METHODS.entry(method)
    info = method_info(method).require()
    loaded = model if isinstance(model, LoadedModel) else None
    module = loaded.module if loaded is not None else model
    if not isinstance(module, nn.Module):
        raise InputError(f"model must be a torch.nn.Module or a LoadedModel; got {type(model).__name__}")
    inputs = check_inputs(inputs)
    check_channels(module, inputs)
    options = resolve_options(method, params, size=(int(inputs.shape[2]), int(inputs.shape[3])), model=loaded)
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
        kind=info.kind,
    )
