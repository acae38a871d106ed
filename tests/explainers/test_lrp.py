"""LRP against the literal element-by-element rules of tests/reference/lrp.py."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

import neuromask
from explainers._fixtures import one_thread  # noqa: F401 - autouse fixture
from neuromask.errors import UnsupportedModelError
from reference.lrp import dense_matrix, lrp_literal, merge_batch_norm


def _dense_net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3)).double().eval()


def _conv_net() -> nn.Sequential:
    torch.manual_seed(1)
    net = nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 5 * 5, 4)
    ).double()
    with torch.no_grad():  # a batch norm that does something
        net[1].running_mean.copy_(torch.tensor([0.1, -0.2, 0.3]))
        net[1].running_var.copy_(torch.tensor([0.5, 2.0, 1.5]))
        net[1].weight.copy_(torch.tensor([1.5, 0.7, -0.4]))
        net[1].bias.copy_(torch.tensor([0.2, 0.0, -0.1]))
    return net.eval()


@pytest.mark.parametrize("composite", ["epsilon", "epsilon_plus"])
def test_lrp_dense_net_matches_literal_rule(composite: str) -> None:
    net = _dense_net()
    x = torch.randn(1, 1, 2, 3, dtype=torch.float64)
    target = int(net(x).argmax())
    layers = [
        (net[1].weight.detach(), net[1].bias.detach(), "epsilon"),
        (net[3].weight.detach(), net[3].bias.detach(), "epsilon"),
    ]
    expected = lrp_literal(layers, x.flatten(), target, eps=0.01).view(2, 3)
    got = neuromask.explain(net, x, method="lrp_epsilon", composite=composite, epsilon=0.01).attribution[0]
    assert torch.allclose(got.double(), expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("composite, conv_rule", [("epsilon", "epsilon"), ("epsilon_plus", "zplus")])
def test_lrp_conv_net_with_batch_norm_matches_literal_rule(composite: str, conv_rule: str) -> None:
    net = _conv_net()
    x = torch.randn(1, 2, 5, 5, dtype=torch.float64)
    target = 2
    w, b = dense_matrix(net[0], (2, 5, 5))
    w, b = merge_batch_norm(w.detach(), b.detach(), net[1], spatial=25)
    layers = [(w.detach(), b.detach(), conv_rule), (net[4].weight.detach(), net[4].bias.detach(), "epsilon")]
    expected = lrp_literal(layers, x.flatten(), target, eps=1e-6).view(2, 5, 5).sum(0)
    got = neuromask.explain(net, x, target=target, method="lrp_epsilon", composite=composite).attribution[0]
    assert torch.allclose(got.double(), expected, rtol=1e-4, atol=1e-6)


def test_lrp_non_finite_relevance_raises() -> None:
    net = _dense_net()
    with torch.no_grad():  # a dead first layer: z = 0 and, with epsilon 0, 0 / 0
        net[1].weight.zero_()
        net[1].bias.zero_()
    with pytest.raises(UnsupportedModelError, match="NaN or infinite"):
        neuromask.explain(
            net, torch.randn(1, 1, 2, 3, dtype=torch.float64), method="lrp_epsilon", composite="epsilon", epsilon=0.0
        )


def test_zennit_imports_without_torchvision() -> None:
    """Zennit's __init__ imports torchvision; the method registers a placeholder where it is missing."""
    code = (
        "import importlib.util, sys\n"
        "from neuromask.explainers.lrp_epsilon import _import_zennit\n"
        "z = _import_zennit()\n"
        "from zennit.canonizers import SequentialMergeBatchNorm\n"
        "tv = importlib.util.find_spec('torchvision') is not None\n"
        "print('placeholder' in (sys.modules['zennit.torchvision'].__doc__ or '') or tv)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


@pytest.mark.xfail(
    strict=True,
    raises=TypeError,
    reason="upstream (Captum 0.9): LRP has no rule for "
    "ZeroPad2d (EfficientNet's padding); when this passes, Captum's LRP could run EfficientNet-Lite0",
)
def test_upstream_captum_lrp_runs_through_zero_padding() -> None:
    from captum.attr import LRP

    torch.manual_seed(0)
    net = nn.Sequential(nn.ZeroPad2d(1), nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2)).eval()
    relevance = LRP(net).attribute(torch.randn(1, 3, 6, 6, requires_grad=True), target=0)
    assert torch.isfinite(relevance).all()


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="upstream (Zennit 0.5.1): zennit/__init__.py imports torchvision; when "
    "this passes, _import_zennit's placeholder and the --no-deps install can go",
)
def test_upstream_zennit_imports_without_torchvision() -> None:
    pytest.importorskip("zennit")
    code = "import sys\nsys.modules['torchvision'] = None  # as if it were not installed\nimport zennit\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr.strip().splitlines()[-1]


def test_lrp_refuses_binarized_networks() -> None:
    # Zennit's z+ rule would run BinaryConv2d.forward on clamp(W, 0), which it binarizes
    # again to +1 everywhere: a map that ignores the real binary weights. Refused instead.
    from neuromask.models.binary import BinaryCNN

    torch.manual_seed(0)
    model = BinaryCNN(2, width=4).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(UnsupportedModelError, match="binarized layers.*BinaryConv2d.*BinarySign"):
        neuromask.explain(model, torch.rand(1, 1, 16, 16), method="lrp_epsilon")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model.features[4].weight.requires_grad, "the model is handed back as it was found"
