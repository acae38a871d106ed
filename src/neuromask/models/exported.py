"""Models as people export them: (N, H, W, C) inputs and softmax outputs.

TensorFlow/Keras models converted to ONNX, and many TorchScript or ONNX files made for
deployment, take channels-last images (N, H, W, C) and end in a softmax, so they return
probabilities (N, L) rather than logits. Every explainer here needs (N, C, H, W) inputs
and builds its objective on logits (NeuroMask's cross-entropy, the gradient methods'
target score). :func:`adapt` detects both and wraps the module:

- the layout: from the ONNX graph's input shape where it fixes one, else by probing
  (the model runs on (1, H, W, C) but not on (1, C, H, W));
- probabilities: the outputs of a few seeded probe inputs are all non-negative and each
  row sums to 1. The wrapper returns log(p), which are valid logits (softmax(log p) = p),
  so every method's objective works on log-probabilities: cross-entropy on log p equals
  cross-entropy on the original logits, and gradients are those of log p.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from ..types import LoadedModel

# How many seeded probe inputs decide "these are probabilities", and how close to 1 each
# row's sum must be (float32 softmax sums are within about 1e-6 of 1).
PROBES = 3
SUM_TOLERANCE = 1e-4


class ChannelsLastInput(nn.Module):
    """Feeds inputs (N, C, H, W) to a module that takes (N, H, W, C)."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.module(inputs.permute(0, 2, 3, 1))
        return logits


class LogProbabilities(nn.Module):
    """Turns a module's probabilities (N, L) into log-probabilities (N, L), usable as logits.

    Probabilities that underflowed to 0 become log of the dtype's smallest normal number
    (about -87 in float32) rather than -inf.
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        p = self.module(inputs)
        return torch.log(p.clamp_min(torch.finfo(p.dtype).tiny))


def _runs(module: nn.Module, shape: tuple[int, ...], device: torch.device) -> bool:
    try:
        with torch.no_grad():
            out = module(torch.zeros(shape, device=device))
    except Exception:  # noqa: BLE001 - any failure means "not this layout"
        return False
    return isinstance(out, torch.Tensor) and out.ndim == 2


def channels_last(module: nn.Module, channels: int, size: tuple[int, int], device: torch.device) -> bool:
    """Whether ``module`` takes (N, H, W, C): it runs on (1, H, W, C) and not on (1, C, H, W)."""
    height, width = size
    if _runs(module, (1, channels, height, width), device):
        return False
    return _runs(module, (1, height, width, channels), device)


def gives_probabilities(module: nn.Module, channels: int, size: tuple[int, int], device: torch.device) -> bool:
    """Whether ``module`` (taking (N, C, H, W)) returns rows that are non-negative and sum to 1
    on :data:`PROBES` seeded standard-normal inputs (one at a time: some exported files fix N = 1)."""
    gen = torch.Generator().manual_seed(0)
    for _ in range(PROBES):
        x = torch.randn((1, channels, *size), generator=gen).to(device)
        try:
            with torch.no_grad():
                out = module(x)
        except Exception:  # noqa: BLE001 - load_model's own check reports a model that cannot run
            return False
        if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[1] < 2:
            return False
        out = out.double()
        if (out < 0).any() or ((out.sum(dim=1) - 1).abs() > SUM_TOLERANCE).any():
            return False
    return True


def adapt(model: LoadedModel, *, layout: str | None = None) -> LoadedModel:
    """``model`` with its module wrapped to take (N, C, H, W) and return logits, when it
    takes (N, H, W, C) (``layout="NHWC"``, or detected) and/or returns probabilities.

    What was done is recorded in ``model.extra``: ``input_layout`` (``"NCHW"`` or
    ``"NHWC"``) and ``outputs`` (``"logits"`` or ``"probabilities"``, the latter explained
    as log-probabilities).
    """
    module = model.module
    device = next((t.device for t in list(module.parameters()) + list(module.buffers())), torch.device("cpu"))
    if layout is None:
        layout = "NHWC" if channels_last(module, model.channels, model.input_size, device) else "NCHW"
    if layout == "NHWC":
        module = ChannelsLastInput(module)
    outputs = "probabilities" if gives_probabilities(module, model.channels, model.input_size, device) else "logits"
    if outputs == "probabilities":
        module = LogProbabilities(module)
    return replace(model, module=module.eval(), extra={**model.extra, "input_layout": layout, "outputs": outputs})
