"""Grad-CAM (Selvaraju et al., 2017), through Captum's ``LayerGradCam``.

The layer is found by running the model once with counting hooks: the last convolution
(in execution order) that runs exactly once per forward pass. A module that runs twice
cannot be a Grad-CAM layer: its activations and gradients from the two calls get mixed
(EfficientNet's top-level ``_swish`` activation, for example, serves both the stem and
the head), and the map comes out wrong without any error. Naming such a layer raises
:class:`~neuromask.errors.UnsupportedModelError`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UnknownNameError, UnsupportedModelError
from ..types import MethodOutput
from ._registry import METHODS


def call_counts(model: nn.Module, inputs: torch.Tensor) -> dict[str, tuple[int, int, int]]:
    """Run ``model`` once on ``inputs`` (1, C, H, W) and record, for every named submodule,
    (calls, order of its last call, rank of its last output).

    The counting hooks are removed in ``finally``.
    """
    seen: dict[str, list[int]] = {}
    clock = [0]
    handles = []

    def hook_for(name: str) -> Callable[[nn.Module, object, object], None]:
        def hook(module: nn.Module, args: object, output: object) -> None:
            clock[0] += 1
            rank = output.ndim if isinstance(output, torch.Tensor) else -1
            entry = seen.setdefault(name, [0, 0, rank])
            entry[0] += 1
            entry[1] = clock[0]
            entry[2] = rank

        return hook

    try:
        for name, module in model.named_modules():
            if name:
                handles.append(module.register_forward_hook(hook_for(name)))
        with torch.no_grad():
            model(inputs)
    finally:
        for h in handles:
            h.remove()
    return {name: (c, order, rank) for name, (c, order, rank) in seen.items()}


def pick_layer(model: nn.Module, inputs: torch.Tensor, layer: str | None) -> tuple[str, nn.Module]:
    """The Grad-CAM layer: ``layer`` by name, or the last conv layer that runs once."""
    modules = dict(model.named_modules())
    counts = call_counts(model, inputs[:1])
    if layer is not None:
        if layer not in modules or not layer:
            raise UnknownNameError(
                f"the model has no submodule named {layer!r}; names look like "
                f"{', '.join(repr(n) for n in list(modules)[1:4])}, ..."
            )
        calls, _, rank = counts.get(layer, (0, 0, -1))
        if calls != 1:
            raise UnsupportedModelError(
                f"Grad-CAM layer {layer!r} runs {calls} times per forward pass; it needs a layer that "
                "runs exactly once (a shared module mixes the activations of its calls)"
            )
        if rank != 4:
            raise UnsupportedModelError(
                f"Grad-CAM layer {layer!r} must output feature maps (N, K, h, w); its output has rank {rank}"
            )
        return layer, modules[layer]
    convs = [
        (order, name)
        for name, (calls, order, rank) in counts.items()
        if calls == 1 and rank == 4 and isinstance(modules[name], nn.Conv2d)
    ]
    if not convs:
        raise UnsupportedModelError(
            "Grad-CAM found no nn.Conv2d layer that runs exactly once per forward pass; "
            "name a layer with (N, K, h, w) outputs with layer=..."
        )
    name = max(convs)[1]
    return name, modules[name]


@METHODS.register("gradcam", kind="cam", order=5)
def gradcam(
    model: nn.Module,
    inputs: torch.Tensor,
    target: torch.Tensor,
    *,
    layer: str | None = None,
    relu: bool = True,
    upsample: str = "bilinear",
) -> MethodOutput:
    """relu(sum_k alpha_k A_k) with alpha_k the spatial mean of d logit_target / d A_k.

    Args:
        model: frozen classifier, inputs (N, C, H, W) -> logits (N, L).
        inputs: (N, C, H, W) preprocessed images.
        target: (N,) the class whose logit is differentiated.
        layer: the name of the layer whose feature maps A (N, K, h, w) are used (as in
            ``model.named_modules()``); ``None`` picks the last ``nn.Conv2d`` that runs
            exactly once per forward pass.
        relu: keep only the positive part, as the paper does.
        upsample: how the (N, h, w) map is resized to (N, H, W): ``"bilinear"`` (the
            paper) or ``"nearest"``.

    Returns:
        The map (N, H, W) (>= 0 with ``relu``), and extras ``layer``: the layer used.

    Raises:
        UnsupportedModelError: no suitable layer, or the named one runs more than once.
    """
    from captum.attr import LayerGradCam

    if upsample not in ("bilinear", "nearest"):
        raise UnknownNameError(f"upsample must be 'bilinear' or 'nearest'; got {upsample!r}")
    name, module = pick_layer(model, inputs, layer)
    cam = LayerGradCam(model, module).attribute(
        inputs.clone().requires_grad_(True), target=target, relu_attributions=relu
    )
    size = tuple(inputs.shape[-2:])
    align = False if upsample == "bilinear" else None
    cam = F.interpolate(cam.detach(), size=size, mode=upsample, align_corners=align)
    return MethodOutput(cam[:, 0], {"layer": name})
