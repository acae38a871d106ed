"""The 'why' probes against literal oracles."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import neuromask
from helpers import one_thread  # noqa: F401 - autouse: one torch thread
from neuromask.models.binary import BinaryCNN, BinarySign
from neuromask.models.small import SmallCNN
from neuromask.studies.probes import following_batch_norm, forward_smoothgrad, gradcam_centred, window_occupancy


class Quadratic(nn.Module):
    """logit 0 = <w, x>, logit 1 = sum x^2: the smoothed gradients are w and 2x exactly."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([(x * self.w).flatten(1).sum(1), (x**2).flatten(1).sum(1)], dim=1)


def test_forward_smoothgrad_recovers_the_smoothed_gradient() -> None:
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(1, 1, 4, 4, generator=gen)
    x = torch.rand(1, 1, 4, 4, generator=gen) + 0.5
    model = Quadratic(w)
    # Linear: the antithetic difference is exactly 2 sigma <w, e>, so the estimate is
    # mean_k <w, e_k> e_k -> w, with Monte-Carlo error ~ |w| sqrt(d / K).
    lin = forward_smoothgrad(model, x, torch.tensor([0]), samples=8000, noise_level=0.2)
    assert torch.allclose(lin[0], w.abs()[0, 0], atol=0.1)
    # Quadratic: E[(x + s e)^2] = x^2 + s^2, so the smoothed gradient is 2x; the antithetic
    # pair cancels the s^2 term exactly and the estimate is mean_k 2 <x, e_k> e_k -> 2x.
    quad = forward_smoothgrad(model, x, torch.tensor([1]), samples=8000, noise_level=0.2)
    assert torch.allclose(quad[0], 2 * x[0, 0], atol=0.25)
    assert model.w.requires_grad, "the model is handed back as it was found"


def _tiny(cls: type[nn.Module]) -> nn.Module:
    torch.manual_seed(0)
    model = cls(3, width=4)
    model.train()
    with torch.no_grad():  # running statistics that are not the initial zeros
        model(torch.rand(8, 1, 16, 16, generator=torch.Generator().manual_seed(1)))
    return model.eval()


@pytest.mark.parametrize("cls", [SmallCNN, BinaryCNN])
def test_gradcam_uncentred_equals_captum_and_centring_shifts_by_the_mean(cls: type[nn.Module]) -> None:
    model = _tiny(cls)
    x = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(2))
    target = torch.tensor([0, 2])
    layers = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    for layer in layers:
        ours = gradcam_centred(model, x, target, layer, centre=False)
        captum = neuromask.explain(model, x, target=target, method="gradcam", layer=layer).attribution
        assert torch.allclose(ours, captum, atol=1e-5), layer
    # With the following batch norm's running mean set to 0, centring changes nothing.
    bn = following_batch_norm(model, layers[-1])
    assert bn.running_mean.abs().sum() > 0
    centred = gradcam_centred(model, x, target, layers[-1])
    bn.running_mean.zero_()
    assert torch.allclose(
        gradcam_centred(model, x, target, layers[-1]), gradcam_centred(model, x, target, layers[-1], centre=False)
    )
    assert not torch.allclose(centred, gradcam_centred(model, x, target, layers[-1]))


def test_window_occupancy_matches_running_the_layers_by_hand() -> None:
    model = _tiny(BinaryCNN)
    x = torch.rand(3, 1, 16, 16, generator=torch.Generator().manual_seed(3))
    expected = []
    with torch.no_grad():
        h = x
        for layer in model.features:
            if isinstance(layer, BinarySign):
                expected.append((h.abs() <= 1).flatten(1).float().mean(1))
            h = layer(h)
    got = window_occupancy(model, x)
    assert got.shape == (3, 3)
    assert torch.allclose(got, torch.stack(expected))
    noisy = window_occupancy(model, x, noise_level=0.3, repeats=2)
    assert not torch.allclose(noisy, got)
