"""Probes that explain *why* BNN and full-precision maps differ.

* :func:`forward_smoothgrad`: the gradient of the Gaussian-smoothed score estimated from
  forward passes only (no straight-through estimator involved);
* :func:`window_occupancy`: the share of pre-sign activations inside the straight-through
  estimator's window |a| <= 1, with and without input noise;
* :func:`gradcam_centred`: Grad-CAM on a layer's activations with the running mean of the
  batch norm that follows it removed.

Every probe takes ``model`` (inputs (N, C, H, W) -> logits (N, L)), ``inputs``
(N, C, H, W) and ``target`` (N,) long, and leaves the model as it found it.
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from .._core import frozen
from ..errors import InputError, UnsupportedModelError
from ..models.binary import BinarySign


def _sigma(x: torch.Tensor, noise_level: float) -> float:
    """SmoothGrad's noise: ``noise_level`` times the image's value range (x: (1, C, H, W))."""
    return noise_level * float(x.max() - x.min())


@torch.no_grad()
def forward_smoothgrad(
    model: nn.Module,
    inputs: torch.Tensor,
    target: torch.Tensor,
    *,
    noise_level: float = 0.15,
    samples: int = 1000,
    batch_size: int = 250,
    seed: int = 0,
) -> torch.Tensor:
    """Gradient of E[f(x + sigma e)], e ~ N(0, I), estimated from forward passes: (N, H, W).

    By Stein's lemma grad E[f(x + sigma e)] = E[f(x + sigma e) e] / sigma; the antithetic
    form mean_k (f(x + sigma e_k) - f(x - sigma e_k)) e_k / (2 sigma) has the same
    expectation and much less variance. f is the target's logit, sigma =
    ``noise_level * (max(x) - min(x))`` as in SmoothGrad, and the channels are reduced by
    max |.| as SmoothGrad's default. This is what SmoothGrad estimates (the gradient of
    the smoothed score) without any backward pass, so on a BNN it does not depend on the
    sign's straight-through estimator at all.

    ``samples`` antithetic pairs per image, drawn from a generator seeded with ``seed``
    (one per image, so a batch equals its images one by one).
    """
    if samples < 1 or noise_level <= 0:
        raise InputError(f"forward_smoothgrad needs samples >= 1 and noise_level > 0; got {samples}, {noise_level}")
    out = torch.zeros(inputs.shape[0], *inputs.shape[1:])
    with frozen(model):
        for i in range(inputs.shape[0]):
            x = inputs[i : i + 1]
            sigma = _sigma(x, noise_level)
            gen = torch.Generator().manual_seed(seed)
            total = torch.zeros(x.shape[1:], dtype=torch.float64)
            for first in range(0, samples, batch_size):
                k = min(batch_size, samples - first)
                e = torch.randn((k,) + tuple(x.shape[1:]), generator=gen).to(x.dtype)
                plus = model(x + sigma * e)[:, int(target[i])]
                minus = model(x - sigma * e)[:, int(target[i])]
                total += ((plus - minus).double()[:, None, None, None] * e.double()).sum(0)
            out[i] = (total / (2 * sigma * samples)).float()
    return out.abs().amax(dim=1)


@torch.no_grad()
def window_occupancy(
    model: nn.Module,
    inputs: torch.Tensor,
    *,
    noise_level: float = 0.0,
    repeats: int = 4,
    seed: int = 0,
) -> torch.Tensor:
    """Share of pre-sign activations with |a| <= 1, per sign layer and image: (K, N).

    K is the number of :class:`~neuromask.models.binary.BinarySign` modules in execution
    order. With ``noise_level`` > 0 the images get SmoothGrad's noise (sigma =
    ``noise_level`` times each image's range) and the share is averaged over ``repeats``
    draws (a generator seeded with ``seed``).

    Raises:
        UnsupportedModelError: the model has no BinarySign.
    """
    signs = [m for m in model.modules() if isinstance(m, BinarySign)]
    if not signs:
        raise UnsupportedModelError("window_occupancy needs a binarized model (one with BinarySign layers)")
    seen: dict[int, list[torch.Tensor]] = {id(m): [] for m in signs}

    def hook(module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        seen[id(module)].append((args[0].abs() <= 1).flatten(1).float().mean(1))

    handles = [m.register_forward_pre_hook(hook) for m in signs]
    gen = torch.Generator().manual_seed(seed)
    try:
        with frozen(model):
            draws = repeats if noise_level > 0 else 1
            span = (inputs.amax(dim=(1, 2, 3)) - inputs.amin(dim=(1, 2, 3)))[:, None, None, None]
            for _ in range(draws):
                noise = torch.randn(inputs.shape, generator=gen).to(inputs.dtype)
                model(inputs + noise_level * span * noise)
    finally:
        for h in handles:
            h.remove()
    return torch.stack([torch.stack(seen[id(m)]).mean(0) for m in signs])


def following_batch_norm(model: nn.Module, layer: str) -> nn.BatchNorm2d:
    """The first ``nn.BatchNorm2d`` after the module named ``layer`` in registration order
    (for the small CNNs: conv -> batch norm, or binarized conv -> max pool -> batch norm)."""
    names = [n for n, _ in model.named_modules()]
    modules = dict(model.named_modules())
    if layer not in modules:
        raise InputError(f"the model has no submodule named {layer!r}")
    for name in names[names.index(layer) + 1 :]:
        if isinstance(modules[name], nn.BatchNorm2d):
            return cast(nn.BatchNorm2d, modules[name])
    raise UnsupportedModelError(f"no BatchNorm2d follows layer {layer!r}")


def gradcam_centred(
    model: nn.Module, inputs: torch.Tensor, target: torch.Tensor, layer: str, *, centre: bool = True
) -> torch.Tensor:
    """Grad-CAM (N, H, W) of ``layer`` on A - mu instead of A.

    mu (K,) is the running mean of the batch norm that follows the layer: the offset the
    network itself removes before the next nonlinearity. With ``centre=False`` this is
    plain Grad-CAM, relu(sum_k alpha_k A_k) with alpha_k the spatial mean of
    d logit / d A_k, bilinearly upsampled (equal to ``explain(method="gradcam")``).
    Max pooling between the layer and the batch norm commutes with subtracting a
    per-channel constant, so removing mu before or after it is the same.
    """
    modules = dict(model.named_modules())
    if layer not in modules:
        raise InputError(f"the model has no submodule named {layer!r}")
    mu = None
    if centre:
        running_mean = following_batch_norm(model, layer).running_mean
        if running_mean is None:
            raise UnsupportedModelError(f"the batch norm after layer {layer!r} keeps no running mean to remove")
        mu = running_mean.detach()
    store: dict[str, torch.Tensor] = {}

    def hook(module: nn.Module, args: object, output: torch.Tensor) -> None:
        store["a"] = output
        output.register_hook(lambda g: store.__setitem__("g", g))

    handle = modules[layer].register_forward_hook(hook)
    try:
        with frozen(model):
            x = inputs.clone().requires_grad_(True)
            logits = model(x)
            logits.gather(1, target[:, None]).sum().backward()
    finally:
        handle.remove()
    a, g = store["a"].detach(), store["g"].detach()
    if mu is not None:
        a = a - mu[None, :, None, None]
    cam = F.relu((g.mean(dim=(2, 3), keepdim=True) * a).sum(1, keepdim=True))
    return F.interpolate(cam, size=tuple(inputs.shape[-2:]), mode="bilinear", align_corners=False)[:, 0]
