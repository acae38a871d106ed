"""Grad-CAM: the known answer with one active channel, and the choice of layer."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import neuromask
from explainers._fixtures import one_thread  # noqa: F401 - autouse fixture
from neuromask.errors import UnknownNameError, UnsupportedModelError


class OneChannel(nn.Module):
    """conv -> ReLU -> conv (3 maps) -> ReLU -> mean -> linear that reads map 0 only."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 3, 3, padding=1, stride=2)
        self.act = nn.ReLU()
        self.fc = nn.Linear(3, 2)
        with torch.no_grad():
            self.fc.weight.copy_(torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 1.0]]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.act(self.conv2(self.act(self.conv1(x))))  # the ReLU module runs twice
        return self.fc(a.mean(dim=(2, 3)))


def test_gradcam_with_one_active_channel_is_that_channel() -> None:
    model = OneChannel()
    x = torch.randn(2, 3, 8, 8)
    e = neuromask.explain(model, x, target=0, method="gradcam")
    assert e.extras["layer"] == "conv2"  # not the shared ReLU that runs after it
    with torch.no_grad():
        a = model.conv2(model.act(model.conv1(x)))  # (2, 3, 4, 4)
    # alpha_0 = mean over positions of d logit_0 / d A_0 = 2 * 1[A_0 > 0] / 16; others 0.
    alpha0 = 2.0 * (a[:, 0] > 0).float().mean(dim=(1, 2)) / 16
    expected = F.interpolate((alpha0.view(2, 1, 1, 1) * a[:, :1]).clamp(min=0), size=(8, 8), mode="bilinear")
    assert torch.allclose(e.attribution, expected[:, 0], atol=1e-6)


def test_gradcam_refuses_a_layer_that_runs_twice() -> None:
    with pytest.raises(UnsupportedModelError, match="runs 2 times"):
        neuromask.explain(OneChannel(), torch.randn(1, 3, 8, 8), method="gradcam", layer="act")


def test_gradcam_skips_a_shared_last_conv() -> None:
    class SharedHead(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Conv2d(3, 4, 3, padding=1)
            self.head = nn.Conv2d(4, 4, 1)  # applied twice, last

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.head(torch.relu(self.body(x)))).mean(dim=(2, 3))

    e = neuromask.explain(SharedHead(), torch.randn(1, 3, 6, 6), method="gradcam")
    assert e.extras["layer"] == "body"


def test_gradcam_named_layer_and_errors() -> None:
    model = OneChannel()
    x = torch.randn(1, 3, 8, 8)
    assert neuromask.explain(model, x, method="gradcam", layer="conv1").extras["layer"] == "conv1"
    with pytest.raises(UnknownNameError, match="no submodule named 'nope'"):
        neuromask.explain(model, x, method="gradcam", layer="nope")
    with pytest.raises(UnsupportedModelError, match="rank 2"):
        neuromask.explain(model, x, method="gradcam", layer="fc")
    flat = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 2))
    with pytest.raises(UnsupportedModelError, match="no nn.Conv2d"):
        neuromask.explain(flat, torch.randn(1, 3, 4, 4), method="gradcam")
