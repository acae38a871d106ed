"""``explain()``: validate -> resolve target -> guard the model -> call the method -> Explanation.

Methods only compute. Everything every method needs is done here once: input
validation, the device, target resolution, freezing the model and restoring it
afterwards, filling in default options, and the output's dtype, device and shape.
"""

from __future__ import annotations

import contextlib
import inspect
import time
from typing import Any, Iterator, Sequence

import torch
from torch import nn

from .errors import InputError, ModelOutputError, TargetError, UnknownNameError
from .registry import Entry
from .types import Explanation, LoadedModel, TargetLike

# Keyword-only parameters a method may declare to receive context from explain()
# instead of options from the user: the original logits (N, L), computed once.
CONTEXT_PARAMS = ("logits",)
# Options a method may declare that a LoadedModel fills in when the user does not.
MODEL_PARAMS = ("mean", "std")


def methods() -> list[str]:
    """The names of every registered explanation method."""
    from .methods import METHODS

    return METHODS.names()


def method_options(method: str) -> dict[str, Any]:
    """The options of ``method`` with their defaults, read from its signature."""
    from .methods import METHODS

    return _defaults(METHODS.entry(method))


def method_presets(method: str) -> dict[str, dict[str, Any]]:
    """Named sets of option values a method offers (``preset=NAME``)."""
    from .methods import METHODS

    return dict(METHODS.entry(method).meta.get("presets", {}))


def _defaults(entry: Entry) -> dict[str, Any]:
    sig = inspect.signature(entry.obj)
    return {
        name: p.default
        for name, p in sig.parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and name not in CONTEXT_PARAMS
    }


def resolve_options(entry: Entry, params: dict[str, Any], model: LoadedModel | None) -> dict[str, Any]:
    """Defaults from the signature, then the preset's values, then the user's."""
    options = _defaults(entry)
    params = dict(params)
    presets: dict[str, dict[str, Any]] = entry.meta.get("presets", {})
    preset = params.pop("preset", None)
    if preset is not None:
        if preset not in presets:
            choices = ", ".join(presets) or "none"
            raise UnknownNameError(f"method '{entry.name}' has no preset '{preset}'; presets: {choices}")
        options.update(presets[preset])
    unknown = sorted(set(params) - set(options))
    if unknown:
        raise UnknownNameError(
            f"method '{entry.name}' has no option {', '.join(repr(u) for u in unknown)}; "
            f"its options are: {', '.join(sorted(options))}"
        )
    if model is not None:
        for key in MODEL_PARAMS:
            if key in options and key not in params and options[key] is None:
                options[key] = getattr(model, key)
    options.update(params)
    if presets:
        options["preset"] = preset
    return options


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
    return inputs


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter or buffer (CPU for a stateless model)."""
    for t in list(model.parameters()) + list(model.buffers()):
        return t.device
    return torch.device("cpu")


def _check_channels(model: nn.Module, inputs: torch.Tensor) -> None:
    first_conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if first_conv is not None and first_conv.in_channels != inputs.shape[1]:
        raise InputError(
            f"inputs must have {first_conv.in_channels} channels for this model; "
            f"got shape {tuple(inputs.shape)}"
        )


@contextlib.contextmanager
def frozen(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode with no parameter gradients; restore both in ``finally``.

    Frozen parameters mean backward passes compute gradients w.r.t. the inputs only,
    which is most of the speed-up over a naive loop (no weight gradients).
    """
    modes = {m: m.training for m in model.modules()}
    flags = {p: p.requires_grad for p in model.parameters()}
    try:
        model.eval()
        for p in flags:
            p.requires_grad_(False)
        yield model
    finally:
        for m, mode in modes.items():
            m.training = mode
        for p, flag in flags.items():
            p.requires_grad_(flag)


def forward_logits(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """Run the model once without gradients and check it returns finite logits (N, L)."""
    with torch.no_grad():
        try:
            out = model(inputs)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
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


def resolve_target(target: TargetLike | str | Sequence[str], logits: torch.Tensor, model: LoadedModel | None = None) -> torch.Tensor:
    """Target as (N,) long on the logits' device: None -> top-1; int or names -> each image."""
    n, num_classes = logits.shape
    if target is None:
        return logits.argmax(dim=1)
    if isinstance(target, str) or (
        isinstance(target, Sequence) and not isinstance(target, torch.Tensor) and any(isinstance(t, str) for t in target)
    ):
        if model is None:
            raise TargetError("a class name needs a model with labels (neuromask.load_model); pass an index instead")
        names = [target] if isinstance(target, str) else list(target)
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
        InputError, TargetError, ModelOutputError, UnknownNameError (all ValueError).
    """
    from .methods import METHODS

    entry = METHODS.entry(method)
    loaded = model if isinstance(model, LoadedModel) else None
    module = loaded.module if loaded is not None else model
    if not isinstance(module, nn.Module):
        raise InputError(f"model must be a torch.nn.Module or a LoadedModel; got {type(model).__name__}")
    inputs = check_inputs(inputs)
    _check_channels(module, inputs)
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

    attribution, extras = result if isinstance(result, tuple) else (result, {})
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
    )
