"""Grad-CAM (Selvaraju et al., 2017) on convolutional feature maps and on vision
transformers' token grids.

The layer is found by running the model once with counting hooks. Convolutional
networks: the last convolution (in execution order) that runs exactly once per forward
pass, through Captum's ``LayerGradCam``. A module that runs twice cannot be a Grad-CAM
layer: its activations and gradients from the two calls get mixed (EfficientNet's
top-level ``_swish`` activation, for example, serves both the stem and the head), and
the map comes out wrong without any error. Naming such a layer raises
:class:`~neuromask.errors.UnsupportedModelError`.

Vision transformers (ViT, DeiT, Swin, from timm, Hugging Face or written by hand): their
only convolution is the patch embedding, the network's *first* layer, so the rule above
would explain the pixels rather than the network. Their feature maps are the tokens,
which every block normalises with a LayerNorm over the channels (the last dimension):
(N, T, D) token sequences (ViT, DeiT, Hugging Face Swin) or (N, h, w, D) grids (timm's
Swin). The layer is the last LayerNorm that runs once after the last such convolution
and whose grid tokens the target's logit depends on. In a ViT that pools its class token
this is the last block's first norm (the input of the last attention, where the patch
tokens still reach the class token; after it they do not, and their gradient is exactly
zero); in a network that averages its tokens (Swin, the simple ViT) it is the final norm.
The tokens are put back on the patch grid: the T tokens of a sequence are the P prefix
tokens (class, distillation and register tokens, first, as timm and Hugging Face place
them; P is the model's ``num_prefix_tokens`` when it has one) followed by the h x w grid
in row-major order, where (h, w) is the patch-embedding convolution's output grid or a
halving of it (Swin's patch merging). The map is then relu(sum_k alpha_k A_k) on that
grid, alpha_k the mean over the grid of the gradient, as for convolutions.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UnknownNameError, UnsupportedModelError
from ..types import MethodOutput
from ._registry import METHODS

# How a layer's output is read as a grid of feature vectors.
LAYOUTS = ("nchw", "nhwc", "tokens")
# The most tokens a sequence may hold before its grid when the model does not say how
# many (a class token, a distillation token, registers).
MAX_PREFIX_TOKENS = 16


@dataclass(frozen=True)
class Grid:
    """Where the feature maps are in a layer's output.

    ``layout``: ``"nchw"`` (N, K, h, w), ``"nhwc"`` (N, h, w, K) or ``"tokens"``
    (N, prefix + h * w, K); ``prefix``: the tokens before the grid (``"tokens"`` only).
    """

    layout: str
    height: int
    width: int
    prefix: int = 0

    def maps(self, output: torch.Tensor) -> torch.Tensor:
        """The layer's output (or its gradient) as feature maps (N, K, h, w)."""
        if self.layout == "nchw":
            return output
        if self.layout == "nhwc":
            return output.permute(0, 3, 1, 2)
        grid = output[:, self.prefix :]
        return grid.transpose(1, 2).reshape(output.shape[0], output.shape[2], self.height, self.width)


@dataclass
class _Seen:
    """What the counting forward pass saw of one submodule."""

    calls: int
    order: int
    shape: tuple[int, ...] | None
    output: torch.Tensor | None  # kept for LayerNorms only: their gradient decides the layer


def _observe(model: nn.Module, inputs: torch.Tensor, keep: tuple[type[nn.Module], ...]) -> dict[str, _Seen]:
    """One forward pass with a hook on every named submodule; the first output of each
    module of a type in ``keep`` is kept (with its graph, when grad is enabled)."""
    seen: dict[str, _Seen] = {}
    clock = [0]
    handles = []

    def hook_for(name: str, module: nn.Module) -> Callable[[nn.Module, object, object], None]:
        def hook(_: nn.Module, args: object, output: object) -> None:
            clock[0] += 1
            shape = tuple(output.shape) if isinstance(output, torch.Tensor) else None
            entry = seen.setdefault(name, _Seen(0, 0, shape, None))
            entry.calls += 1
            entry.order = clock[0]
            entry.shape = shape
            if isinstance(module, keep) and isinstance(output, torch.Tensor) and entry.output is None:
                entry.output = output

        return hook

    try:
        for name, module in model.named_modules():
            if name:
                handles.append(module.register_forward_hook(hook_for(name, module)))
        seen["<output>"] = _Seen(1, 0, None, model(inputs))
    finally:
        for h in handles:
            h.remove()
    return seen


def _patch_grids(seen: dict[str, _Seen], modules: dict[str, nn.Module]) -> set[tuple[int, int]]:
    """Every convolution's output grid (h, w), and its halvings (floor or ceil) down to 1 x 1."""
    grids: set[tuple[int, int]] = set()
    frontier = {
        s.shape[2:]
        for name, s in seen.items()
        if isinstance(modules.get(name), nn.Conv2d) and s.shape is not None and len(s.shape) == 4
    }
    while frontier:
        grids |= frontier
        frontier = {
            (a, b) for h, w in frontier for a in {h // 2, -(-h // 2)} for b in {w // 2, -(-w // 2)} if a and b
        } - grids
    return grids


def _plausible(h: int, w: int, grids: set[tuple[int, int]], size: tuple[int, int]) -> bool:
    """(h, w) is a patch grid: one of ``grids``, or, for a model without convolutions,
    within one cell per side of the input's aspect ratio."""
    if grids:
        return (h, w) in grids
    height, width = size
    return abs(h * width - w * height) < height + width


def _token_grid(count: int, prefix: int | None, grids: set[tuple[int, int]], size: tuple[int, int]) -> Grid | None:
    """The grid of a sequence of ``count`` tokens: ``prefix`` tokens (the model's
    ``num_prefix_tokens``, or the fewest that leave a grid) then h x w in row-major order."""
    for p in [prefix] if prefix is not None else range(MAX_PREFIX_TOKENS + 1):
        cells = count - p
        if cells < 1:
            break
        shapes = [(h, cells // h) for h in range(1, cells + 1) if cells % h == 0]
        fits = [(h, w) for h, w in shapes if _plausible(h, w, grids, size)]
        if fits:
            # Of several factorings (rare: a grid and its halvings), the closest to the input's shape.
            h, w = min(fits, key=lambda hw: abs(math.log(hw[0] * size[1] / (hw[1] * size[0]))))
            return Grid("tokens", h, w, p)
    return None


def _channels_last_grid(
    module: nn.Module, shape: tuple[int, ...], prefix: int | None, grids: set[tuple[int, int]], size: tuple[int, int]
) -> Grid | None:
    """The grid of a LayerNorm's output: it normalises the last dimension, so that is the
    channels, and the others are tokens (N, T, K) or a grid (N, h, w, K)."""
    if not isinstance(module, nn.LayerNorm) or shape[-1] != module.normalized_shape[-1]:
        return None
    if len(shape) == 3:
        return _token_grid(shape[1], prefix, grids, size)
    if len(shape) == 4 and _plausible(shape[1], shape[2], grids, size):
        return Grid("nhwc", shape[1], shape[2])
    return None


def _prefix_tokens(model: nn.Module) -> int | None:
    """The model's own count of tokens before the grid (timm's ``num_prefix_tokens``), also
    when the transformer is wrapped in another module."""
    for module in model.modules():
        value = getattr(module, "num_prefix_tokens", None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def pick_layer(
    model: nn.Module, inputs: torch.Tensor, target: torch.Tensor, layer: str | None, layout: str | None = None
) -> tuple[str, nn.Module, Grid]:
    """The Grad-CAM layer and how its output is a grid: ``layer`` by name, or the rule of
    the module docstring, probed on the first image and its target."""
    if layout is not None and layout not in LAYOUTS:
        raise UnknownNameError(f"layout must be one of {', '.join(LAYOUTS)} or None; got {layout!r}")
    modules = dict(model.named_modules())
    size = (inputs.shape[-2], inputs.shape[-1])
    probe = inputs[:1].detach().clone().requires_grad_(layer is None)
    # The automatic choice needs the LayerNorms' gradients, a named layer only the shapes.
    with torch.set_grad_enabled(layer is None):
        seen = _observe(model, probe, keep=(nn.LayerNorm,) if layer is None else ())
    grids = _patch_grids(seen, modules)
    prefix = _prefix_tokens(model)
    if layer is not None:
        return layer, *_named_layer(layer, layout, modules, seen, prefix, grids, size)
    convs = [
        (s.order, name, Grid("nchw", s.shape[2], s.shape[3]))
        for name, s in seen.items()
        if s.calls == 1 and s.shape is not None and len(s.shape) == 4 and isinstance(modules.get(name), nn.Conv2d)
    ]
    last_conv = max(convs)[0] if convs else 0
    norms = []
    for name, s in seen.items():
        module = modules.get(name)
        if s.calls != 1 or s.output is None or s.order < last_conv or module is None:
            continue
        grid = _channels_last_grid(module, tuple(s.output.shape), prefix, grids, size)
        if grid is not None:
            norms.append((s.order, name, grid, s.output))
    norms.sort(key=lambda item: item[0])
    if norms:
        output = seen["<output>"].output
        if output is None:
            raise RuntimeError("the model's output was not recorded")  # the hook on the model itself keeps it
        score = output[0, int(target[0])]
        gradients = torch.autograd.grad(score, [n[3] for n in norms], allow_unused=True)
        reached = [(order, name, grid) for (order, name, grid, _), g in zip(norms, gradients) if _reaches(g, grid)]
        if reached:
            _, name, grid = reached[-1]
            return name, modules[name], grid
    if not convs:
        raise UnsupportedModelError(
            "Grad-CAM found no nn.Conv2d layer and no LayerNorm over a token grid that runs exactly once per "
            "forward pass; name a layer with layer=... (and its layout with layout=...)"
        )
    _, name, grid = max(convs, key=lambda item: item[0])
    return name, modules[name], grid


def _reaches(gradient: torch.Tensor | None, grid: Grid) -> bool:
    """Whether the target's logit depends on the grid cells (not only on prefix tokens)."""
    return gradient is not None and bool(grid.maps(gradient).abs().amax() > 0)


def _named_layer(
    layer: str,
    layout: str | None,
    modules: dict[str, nn.Module],
    seen: dict[str, _Seen],
    prefix: int | None,
    grids: set[tuple[int, int]],
    size: tuple[int, int],
) -> tuple[nn.Module, Grid]:
    if layer not in modules or not layer:
        raise UnknownNameError(
            f"the model has no submodule named {layer!r}; names look like "
            f"{', '.join(repr(n) for n in list(modules)[1:4])}, ..."
        )
    s = seen.get(layer)
    calls = s.calls if s is not None else 0
    if calls != 1:
        raise UnsupportedModelError(
            f"Grad-CAM layer {layer!r} runs {calls} times per forward pass; it needs a layer that "
            "runs exactly once (a shared module mixes the activations of its calls)"
        )
    shape = s.shape if s is not None and s.shape is not None else ()
    module = modules[layer]
    if layout is None:
        grid = _channels_last_grid(module, shape, prefix, grids, size) if len(shape) in (3, 4) else None
        if grid is None and len(shape) == 4:
            grid = Grid("nchw", shape[2], shape[3])
        if grid is None and len(shape) == 3:
            grid = _token_grid(shape[1], prefix, grids, size)
    elif layout == "tokens" and len(shape) == 3:
        grid = _token_grid(shape[1], prefix, grids, size)
    elif len(shape) == 4:
        grid = Grid(layout, *(shape[2:] if layout == "nchw" else shape[1:3]))
    else:
        grid = None
    if grid is None:
        raise UnsupportedModelError(
            f"Grad-CAM layer {layer!r} must output feature maps (N, K, h, w), (N, h, w, K) or tokens "
            f"(N, T, K) on a patch grid; its output has rank {len(shape)} (shape {shape})"
        )
    return module, grid


@METHODS.register("gradcam", kind="cam", order=5)
def gradcam(
    model: nn.Module,
    inputs: torch.Tensor,
    target: torch.Tensor,
    *,
    layer: str | None = None,
    layout: str | None = None,
    relu: bool = True,
    upsample: str = "bilinear",
) -> MethodOutput:
    """relu(sum_k alpha_k A_k) with alpha_k the spatial mean of d logit_target / d A_k.

    Args:
        model: frozen classifier, inputs (N, C, H, W) -> logits (N, L).
        inputs: (N, C, H, W) preprocessed images.
        target: (N,) the class whose logit is differentiated.
        layer: the name of the layer whose feature maps A are used (as in
            ``model.named_modules()``); ``None`` picks it by the rule of the module
            docstring: the last ``nn.Conv2d`` that runs exactly once per forward pass, or,
            in a vision transformer, the last LayerNorm over a token grid that the
            target depends on.
        layout: how the named layer's output holds the maps: ``"nchw"`` (N, K, h, w),
            ``"nhwc"`` (N, h, w, K) or ``"tokens"`` (N, T, K, prefix tokens first);
            ``None`` reads it from the layer (a LayerNorm's channels are last; other
            rank-4 outputs are (N, K, h, w), rank-3 ones tokens).
        relu: keep only the positive part, as the paper does.
        upsample: how the (N, h, w) map is resized to (N, H, W): ``"bilinear"`` (the
            paper) or ``"nearest"``.

    Returns:
        The map (N, H, W) (>= 0 with ``relu``), and extras ``layer``: the layer used,
        and ``grid``: its layout and (h, w), e.g. ``"tokens 4x4 after 1"``.

    Raises:
        UnsupportedModelError: no suitable layer, or the named one runs more than once
            or holds no grid.
    """
    if upsample not in ("bilinear", "nearest"):
        raise UnknownNameError(f"upsample must be 'bilinear' or 'nearest'; got {upsample!r}")
    name, module, grid = pick_layer(model, inputs, target, layer, layout)
    if grid.layout == "nchw":
        from captum.attr import LayerGradCam

        cam = LayerGradCam(model, module).attribute(
            inputs.clone().requires_grad_(True), target=target, relu_attributions=relu
        )
    else:
        cam = _grid_cam(model, module, grid, inputs, target, relu)
    size = tuple(inputs.shape[-2:])
    align = False if upsample == "bilinear" else None
    cam = F.interpolate(cam.detach(), size=size, mode=upsample, align_corners=align)
    where = f"{grid.layout} {grid.height}x{grid.width}" + (f" after {grid.prefix}" if grid.prefix else "")
    return MethodOutput(cam[:, 0], {"layer": name, "grid": where})


def _grid_cam(
    model: nn.Module, module: nn.Module, grid: Grid, inputs: torch.Tensor, target: torch.Tensor, relu: bool
) -> torch.Tensor:
    """Grad-CAM (N, 1, h, w) on a channels-last or token layer, read as maps by ``grid``."""
    captured: list[torch.Tensor] = []
    handle = module.register_forward_hook(lambda _m, _a, output: captured.append(output))
    try:
        logits = model(inputs.clone().requires_grad_(True))
    finally:
        handle.remove()
    (gradient,) = torch.autograd.grad(logits.gather(1, target[:, None]).sum(), captured[0])
    activations, gradients = grid.maps(captured[0].detach()), grid.maps(gradient)
    cam = (gradients.mean(dim=(2, 3), keepdim=True) * activations).sum(dim=1, keepdim=True)
    return cam.clamp(min=0) if relu else cam
