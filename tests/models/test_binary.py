"""The binarized twin: {-1, +1} weights and activations, scaling, straight-through gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers import one_thread  # noqa: F401 - autouse: one torch thread
from neuromask.models.binary import BinaryCNN, BinaryConv2d, BinarySign, binarize
from neuromask.models.train import build


@pytest.fixture
def model() -> BinaryCNN:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        # No initial shift: both signs show up in every layer from the first step.
        m = BinaryCNN(3, width=8, sign_shift=0.0)
    # One train-mode pass so that the batch norms' running statistics are not trivial.
    m.train()
    with torch.no_grad():
        m(torch.rand(16, 1, 32, 32, generator=torch.Generator().manual_seed(1)))
    return m.eval()


def test_twin_of_small_cnn() -> None:
    """Same convolutions (shapes) and classifier as the full-precision CNN; only three are binarized."""
    fp, bnn = build("cnn", 3, width=8), build("bnn", 3, width=8)
    shapes = lambda m: [tuple(c.weight.shape) for c in m.modules() if isinstance(c, nn.Conv2d)]  # noqa: E731
    assert shapes(fp) == shapes(bnn)
    convs = [c for c in bnn.modules() if isinstance(c, nn.Conv2d)]
    assert [type(c) for c in convs] == [nn.Conv2d, BinaryConv2d, BinaryConv2d, BinaryConv2d]
    assert isinstance(bnn.classifier, nn.Linear) and bnn.classifier.weight.shape == fp.classifier.weight.shape


def test_forward_uses_plus_minus_one_weights_and_activations(model: BinaryCNN) -> None:
    seen: list[tuple[torch.Tensor, torch.Tensor, BinaryConv2d]] = []
    hooks = [
        m.register_forward_hook(lambda mod, inp, out: seen.append((inp[0].detach(), out.detach(), mod)))
        for m in model.modules()
        if isinstance(m, BinaryConv2d)
    ]
    try:
        with torch.no_grad():
            model(torch.rand(4, 1, 32, 32, generator=torch.Generator().manual_seed(2)))
    finally:
        for h in hooks:
            h.remove()
    assert len(seen) == 3
    for inputs, output, conv in seen:
        assert set(inputs.unique().tolist()) == {-1.0, 1.0}, "activations entering a binary conv"
        # An independent re-computation: convolve with literal +-1 weights, scale per channel.
        signs = torch.where(conv.weight >= 0, 1.0, -1.0)
        alpha = conv.weight.abs().mean(dim=(1, 2, 3)).view(1, -1, 1, 1)
        expected = F.conv2d(inputs, signs, padding=1) * alpha
        assert torch.allclose(output, expected, atol=1e-5)
        assert set(conv.binary_weight().unique().tolist()) == {-1.0, 1.0}


def test_binary_activations_start_sparse() -> None:
    """The batch norms feeding a sign start shifted, so few activations start at +1."""
    model = build("bnn", 2, seed=0).train()
    seen = []
    hooks = [
        m.register_forward_hook(lambda mod, inp, out: seen.append(out))
        for m in model.modules()
        if isinstance(m, BinarySign)
    ]
    try:
        with torch.no_grad():
            model(torch.rand(8, 1, 32, 32, generator=torch.Generator().manual_seed(4)))
    finally:
        for h in hooks:
            h.remove()
    assert len(seen) == 3
    for out in seen:
        assert 0.0 < float((out > 0).float().mean()) < 0.1


def test_sign_of_zero_is_plus_one() -> None:
    assert binarize(torch.tensor([-0.5, 0.0, 2.0])).tolist() == [-1.0, 1.0, 1.0]
    assert BinarySign()(torch.zeros(1, 1, 2, 2)).eq(1).all()


def test_straight_through_estimator_for_activations() -> None:
    x = torch.tensor([-2.0, -1.0, -0.3, 0.0, 0.7, 1.5], requires_grad=True)
    (binarize(x) * torch.arange(1.0, 7.0)).sum().backward()
    # hardtanh's gradient: pass where |x| <= 1, zero elsewhere.
    assert x.grad.tolist() == [0.0, 2.0, 3.0, 4.0, 5.0, 0.0]


def test_gradients_reach_every_latent_weight(model: BinaryCNN) -> None:
    model.train()
    inputs = torch.rand(8, 1, 32, 32, generator=torch.Generator().manual_seed(3))
    F.cross_entropy(model(inputs), torch.arange(8) % 3).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    # The first (full-precision) conv learns through three sign activations.
    first = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    assert first.weight.grad.abs().sum() > 0


def test_weight_gradient_is_straight_through() -> None:
    conv = BinaryConv2d(1, 1, 1, bias=False)
    with torch.no_grad():
        conv.weight.fill_(2.5)  # beyond 1: BinaryNet's clipped estimator would stop here
    conv(torch.ones(1, 1, 1, 1)).sum().backward()
    # out = alpha * sign(w) * x with alpha = |w|: d out / d w = sign(w) * x (alpha) + alpha * 1 (STE).
    assert conv.weight.grad.item() == pytest.approx(1.0 + 2.5)


def test_binary_conv_is_a_conv_for_explainers() -> None:
    """Grad-CAM and friends pick the last nn.Conv2d; in the BNN it is a binarized one."""
    convs = [m for m in build("bnn", 2).modules() if isinstance(m, nn.Conv2d)]
    assert isinstance(convs[-1], BinaryConv2d)


# --- the sign's backward rule, swapped at explanation time -------------------------------

POINTS = torch.tensor([-1.5, -0.5, 0.0, 0.3, 1.2])
# d(surrogate)/dx at POINTS, written out by hand from each rule's definition.
DERIVATIVES = {
    "hardtanh": [0.0, 1.0, 1.0, 1.0, 0.0],  # 1 on |x| <= 1 (BinaryNet)
    "identity": [1.0, 1.0, 1.0, 1.0, 1.0],  # straight through
    "bireal": [0.0, 1.0, 2.0, 1.4, 0.0],  # 2 + 2x on [-1, 0), 2 - 2x on [0, 1)
    "tanh": [1 - float(torch.tanh(torch.tensor(v))) ** 2 for v in POINTS.tolist()],
}


@pytest.mark.parametrize("rule", sorted(DERIVATIVES))
def test_backward_rule_gradient_and_unchanged_forward(rule: str) -> None:
    x = POINTS.clone().requires_grad_(True)
    y = binarize(x, rule)
    assert y.tolist() == [-1.0, -1.0, 1.0, 1.0, 1.0]
    y.sum().backward()
    assert torch.allclose(x.grad, torch.tensor(DERIVATIVES[rule]), atol=1e-6)


def test_backward_rule_swaps_every_sign_and_restores(model: BinaryCNN) -> None:
    from neuromask.errors import UnknownNameError
    from neuromask.models.binary import BACKWARD_RULES, backward_rule

    assert set(BACKWARD_RULES) == set(DERIVATIVES)
    x = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(3), requires_grad=True)
    grads, logits = {}, {}
    for rule in BACKWARD_RULES:
        with backward_rule(model, rule):
            assert {m.rule for m in model.modules() if isinstance(m, BinarySign)} == {rule}
            out = model(x)
            (g,) = torch.autograd.grad(out[:, 0].sum(), x)
        grads[rule], logits[rule] = g, out.detach()
    assert all(torch.equal(logits[r], logits["hardtanh"]) for r in BACKWARD_RULES)
    assert not torch.equal(grads["identity"], grads["hardtanh"]), "the identity rule passes more gradient"
    with pytest.raises(RuntimeError), backward_rule(model, "tanh"):
        raise RuntimeError("boom")
    assert {m.rule for m in model.modules() if isinstance(m, BinarySign)} == {"hardtanh"}
    with pytest.raises(UnknownNameError, match="unknown backward rule 'sigmoid'"), backward_rule(model, "sigmoid"):
        pass


def test_padding_value_matches_explicit_padding() -> None:
    from neuromask.models.binary import padding_value

    torch.manual_seed(4)
    conv = BinaryConv2d(3, 2, 3, padding=1, bias=False)
    x = torch.where(torch.rand(1, 3, 5, 5) > 0.5, 1.0, -1.0)
    w = conv.weight.abs().mean(dim=(1, 2, 3), keepdim=True) * torch.where(conv.weight >= 0, 1.0, -1.0)
    with torch.no_grad():
        assert torch.allclose(conv(x), F.conv2d(F.pad(x, (1, 1, 1, 1), value=0.0), w), atol=1e-6)
        with padding_value(conv, -1.0):
            assert torch.allclose(conv(x), F.conv2d(F.pad(x, (1, 1, 1, 1), value=-1.0), w), atol=1e-6)
        assert conv.pad_value == 0.0
