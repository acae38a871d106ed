"""Known answers for the gradient methods: saliency, smoothgrad, integrated gradients,
guided backprop."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import neuromask
from explainers._fixtures import one_thread  # noqa: F401 - autouse fixture
from neuromask.errors import UnsupportedModelError
from reference.guided_backprop import guided_backprop_literal, tiny_relu6_net


class Linear(nn.Module):
    """logits = W x + b over flattened (C, H, W) images."""

    def __init__(self, shape: tuple[int, int, int] = (3, 4, 5), classes: int = 3) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(1)
        self.shape = shape
        self.fc = nn.Linear(shape[0] * shape[1] * shape[2], classes)
        with torch.no_grad():
            self.fc.weight.copy_(torch.randn(self.fc.weight.shape, generator=gen))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1))


def test_saliency_of_a_linear_model_is_its_weights() -> None:
    model = Linear()
    x = torch.randn(2, *model.shape)
    e = neuromask.explain(model, x, target=[1, 2], method="saliency")
    w = model.fc.weight.detach().view(3, *model.shape)
    # Documented: max over channels of |gradient|, and the gradient is the target's row.
    assert torch.allclose(e.attribution[0], w[1].abs().amax(0))
    assert torch.allclose(e.attribution[1], w[2].abs().amax(0))
    signed = neuromask.explain(model, x, target=1, method="saliency", reduction="sum").attribution
    assert torch.allclose(signed[0], w[1].sum(0))


def test_smoothgrad_without_noise_and_one_sample_is_saliency(tiny_cnn: nn.Module) -> None:
    x = torch.randn(2, 3, 10, 10)
    s = neuromask.explain(tiny_cnn, x, method="saliency").attribution
    g = neuromask.explain(tiny_cnn, x, method="smoothgrad", samples=1, noise_level=0.0).attribution
    assert torch.allclose(s, g, atol=1e-7)


def test_smoothgrad_averages_noisy_gradients_and_is_seeded(tiny_cnn: nn.Module) -> None:
    x = torch.randn(1, 3, 10, 10)
    a = neuromask.explain(tiny_cnn, x, method="smoothgrad", samples=8, seed=3).attribution
    b = neuromask.explain(tiny_cnn, x, method="smoothgrad", samples=8, seed=3, batch_size=3).attribution
    c = neuromask.explain(tiny_cnn, x, method="smoothgrad", samples=8, seed=4).attribution
    s = neuromask.explain(tiny_cnn, x, method="saliency").attribution
    assert torch.allclose(a, b, atol=1e-6)  # the batch size changes nothing
    assert not torch.allclose(a, c) and not torch.allclose(a, s)


@pytest.mark.parametrize("baseline", ["zero", 0.5])
def test_integrated_gradients_completeness(tiny_cnn: nn.Module, baseline: str | float) -> None:
    x = torch.randn(2, 3, 8, 8)
    e = neuromask.explain(tiny_cnn, x, target=[0, 3], method="integrated_gradients", steps=64, baseline=baseline)
    with torch.no_grad():
        ref = torch.zeros_like(x) if baseline == "zero" else torch.full_like(x, baseline)
        diff = tiny_cnn.eval()(x)[[0, 1], [0, 3]] - tiny_cnn(ref)[[0, 1], [0, 3]]
    assert torch.allclose(e.attribution.sum(dim=(1, 2)), diff, rtol=1e-2, atol=1e-4)
    assert e.extras["convergence_delta"].abs().max() < 1e-2 * diff.abs().max() + 1e-4


def test_guided_backprop_with_relu6_equals_the_literal_rule() -> None:
    net = tiny_relu6_net()
    x = 2.0 * torch.randn(1, 3, 6, 6, dtype=torch.float64)  # large enough to saturate ReLU6
    assert (net[0](x) > 6).any(), "the fixture must exercise ReLU6's upper bound"
    expected = guided_backprop_literal(net, x, target=1)
    got = neuromask.explain(net, x, target=1, method="guided_backprop", reduction="sum").attribution
    # explain() returns float32; compare against the float64 oracle's channel sum.
    assert torch.allclose(got.double(), expected.sum(1), rtol=1e-4, atol=1e-6)
    saliency = neuromask.explain(net, x, target=1, method="saliency", reduction="sum").attribution
    assert not torch.allclose(got, saliency, atol=1e-4), "guided backprop silently equals saliency"


def test_ours_guides_relu6_where_captum_alone_returns_the_gradient() -> None:
    """The trap this wrapper exists for: Captum hooks nn.ReLU only, so on a ReLU6 network
    its GuidedBackprop is the plain gradient; ours is not."""
    from captum.attr import Saliency

    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU6(), nn.Flatten(), nn.Linear(4 * 4 * 4, 2)).double().eval()
    x = torch.randn(1, 3, 6, 6, dtype=torch.float64)
    plain = Saliency(net).attribute(x.clone().requires_grad_(True), target=0, abs=False)
    ours = neuromask.explain(net, x, target=0, method="guided_backprop", reduction="sum").attribution
    assert not torch.allclose(ours.double(), plain.sum(1), atol=1e-6)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.xfail(
    strict=True,
    reason="upstream (Captum 0.9): GuidedBackprop hooks nn.ReLU only; when this "
    "passes, Captum guides ReLU6 itself and our ReLU6 extension can be dropped",
)
def test_upstream_captum_guided_backprop_guides_relu6() -> None:
    from captum.attr import GuidedBackprop, Saliency

    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU6(), nn.Flatten(), nn.Linear(4 * 4 * 4, 2)).double().eval()
    x = torch.randn(1, 3, 6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    captum_gb = GuidedBackprop(net).attribute(x.clone().requires_grad_(True), target=0)
    plain = Saliency(net).attribute(x.clone().requires_grad_(True), target=0, abs=False)
    assert not torch.equal(captum_gb, plain)


@pytest.mark.parametrize("act", [nn.SiLU, nn.GELU, nn.Hardswish])
def test_guided_backprop_refuses_smooth_activations(act: type[nn.Module]) -> None:
    net = nn.Sequential(nn.Conv2d(3, 4, 3), act(), nn.Flatten(), nn.Linear(4 * 4 * 4, 2))
    with pytest.raises(UnsupportedModelError, match=act.__name__):
        neuromask.explain(net, torch.randn(1, 3, 6, 6), method="guided_backprop")


def test_guided_backprop_refuses_models_without_activation_modules() -> None:
    class Functional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 2, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.conv(x)).mean(dim=(2, 3))

    with pytest.raises(UnsupportedModelError, match="no nn.ReLU"):
        neuromask.explain(Functional(), torch.randn(1, 3, 6, 6), method="guided_backprop")


def test_internal_batches_change_nothing_and_are_bounded(tiny_cnn: nn.Module) -> None:
    """Captum's default (one batch of all path points or noisy copies) was 1.6-2.6x slower
    on EfficientNet-Lite0 than batches of 10 (benchmarks/speed_methods.py measures it):
    the defaults must stay bounded batches, and batching must not change the result."""
    for method, count in (("integrated_gradients", "steps"), ("smoothgrad", "samples")):
        options = neuromask.method_options(method)
        assert options["batch_size"] < options[count]
    x = torch.randn(2, 3, 8, 8)
    a = neuromask.explain(tiny_cnn, x, method="integrated_gradients", steps=20, batch_size=3).attribution
    b = neuromask.explain(tiny_cnn, x, method="integrated_gradients", steps=20, batch_size=40).attribution
    assert torch.allclose(a, b, atol=1e-6)
