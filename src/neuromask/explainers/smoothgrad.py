"""SmoothGrad (Smilkov, Thorat, Kim, Viegas and Wattenberg, 2017): the gradient averaged
over noisy copies of the image.

Written here instead of wrapping Captum's ``NoiseTunnel`` for two reasons: NoiseTunnel
draws its noise from the global RNG (``torch.normal`` without a generator), which this
library never touches, and it takes one noise level for the whole batch, while the paper
scales the noise to each image's own range (max - min).
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import InputError
from ..types import MethodOutput
from ._common import check_positive, input_gradients, reduce_channels
from ._registry import METHODS


# "fast": few samples for tests, the quick benchmark suite and the docs gallery.
@METHODS.register("smoothgrad", kind="gradient", order=2, presets={"fast": dict(samples=8)})
def smoothgrad(
    model: nn.Module,
    inputs: torch.Tensor,
    target: torch.Tensor,
    *,
    samples: int = 50,
    noise_level: float = 0.15,
    reduction: str = "max_abs",
    batch_size: int = 10,
    seed: int = 0,
) -> MethodOutput:
    """Mean gradient over ``samples`` copies x + N(0, sigma^2), sigma = noise_level * (max(x) - min(x)).

    The signed gradients are averaged first (the paper's equation 2), then reduced over
    channels like :func:`~neuromask.explainers.saliency.saliency`; so with ``samples=1`` and
    ``noise_level=0`` the result is exactly the saliency map.

    Args:
        model: frozen classifier, inputs (N, C, H, W) -> logits (N, L).
        inputs: (N, C, H, W) preprocessed images.
        target: (N,) the class whose logit is differentiated.
        samples: noisy copies per image (the paper: 50).
        noise_level: sigma as a fraction of each image's value range (the paper: 10-20 %,
            15 % in its reference code).
        reduction: channel reduction of the mean gradient (see ``saliency``).
        batch_size: noisy copies per forward/backward pass. One batch of all samples
            (Captum's default) was 1.6-2.6x slower on EfficientNet-Lite0 on a 2-core CPU
            than batches of 10.
        seed: seeds the noise (a local generator). Every image draws its noise from a
            generator seeded with ``seed``, so a batch equals its images one by one.

    Returns:
        The map (N, H, W).
    """
    check_positive("samples", samples)
    check_positive("batch_size", batch_size)
    if noise_level < 0:
        raise InputError(f"noise_level must be >= 0; got {noise_level}")
    n = inputs.shape[0]
    sums = torch.zeros_like(inputs)
    for i in range(n):
        x = inputs[i : i + 1]
        sigma = noise_level * float(x.max() - x.min())
        gen = torch.Generator().manual_seed(seed)
        noise = torch.randn((samples,) + tuple(x.shape[1:]), generator=gen).to(x.device, x.dtype)
        noisy = x + sigma * noise
        grads = input_gradients(model, noisy, target[i].expand(samples), batch_size)
        sums[i] = grads.sum(dim=0)
    return MethodOutput(reduce_channels(sums / samples, reduction))
