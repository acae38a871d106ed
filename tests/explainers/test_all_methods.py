"""Every registered method: shape, dtype, finiteness, batch = one by one, and the model
left exactly as it was found, also when the method fails half-way. Each runs with the
registry's ``fast`` preset and its pixel options scaled to the image (``fast_options``)."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

import neuromask
from explainers._fixtures import fast_options, one_thread  # noqa: F401 - autouse fixture
from neuromask.errors import InputError

PAPER_METHODS = {
    "saliency",
    "smoothgrad",
    "integrated_gradients",
    "guided_backprop",
    "gradcam",
    "occlusion",
    "lime",
    "lrp_epsilon",
    "rise",
    "meaningful_perturbation",
    "extremal_perturbation",
    "random",
    "center",
    "neuromask",
}


def full_state(model: nn.Module) -> dict[str, Any]:
    """Parameters and buffers (values and presence), modes, requires_grad and every hook dict."""
    hook_dicts = (
        "_forward_hooks",
        "_forward_pre_hooks",
        "_backward_hooks",
        "_backward_pre_hooks",
        "_forward_hooks_with_kwargs",
        "_forward_pre_hooks_with_kwargs",
        "_state_dict_hooks",
    )
    return {
        "tensors": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "parameters": {n: (p is None) for m_name, m in model.named_modules() for n, p in m._parameters.items()},
        "training": {n: m.training for n, m in model.named_modules()},
        "requires_grad": {n: p.requires_grad for n, p in model.named_parameters()},
        "hooks": {(n, d): len(getattr(m, d, {})) for n, m in model.named_modules() for d in hook_dicts},
    }


def assert_unchanged(before: dict[str, Any], after: dict[str, Any]) -> None:
    for key in ("parameters", "training", "requires_grad", "hooks"):
        assert before[key] == after[key], key
    assert before["tensors"].keys() == after["tensors"].keys()
    for k, v in before["tensors"].items():
        assert torch.equal(v, after["tensors"][k]), k


def test_every_method_of_the_issue_is_registered() -> None:
    assert set(neuromask.methods()) >= PAPER_METHODS


@pytest.mark.parametrize("method", neuromask.methods())
def test_method_output_and_model_state(method: str, tiny_cnn: nn.Module) -> None:
    tiny_cnn.train()  # explain() must restore the caller's mode
    tiny_cnn[0].weight.requires_grad_(False)  # ... and a mixed requires_grad
    before = full_state(tiny_cnn)
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    e = neuromask.explain(tiny_cnn, x, method=method, **fast_options(method, (16, 16)))
    assert e.attribution.shape == (2, 16, 16)
    assert e.attribution.dtype == torch.float32
    assert torch.isfinite(e.attribution).all()
    assert_unchanged(before, full_state(tiny_cnn))


@pytest.mark.parametrize("method", neuromask.methods())
def test_batch_equals_images_one_by_one(method: str, tiny_cnn: nn.Module) -> None:
    x = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    options = fast_options(method, (16, 16))
    batch = neuromask.explain(tiny_cnn, x, target=[0, 1, 2], method=method, **options).attribution
    alone = torch.cat(
        [neuromask.explain(tiny_cnn, x[i : i + 1], target=i, method=method, **options).attribution for i in range(3)]
    )
    scale = alone.abs().amax().clamp_min(1e-12)
    assert torch.allclose(batch / scale, alone / scale, atol=1e-4), (batch - alone).abs().max()


class FailsOnCall(nn.Module):
    """Wraps a model and raises on its ``n``-th forward call."""

    def __init__(self, model: nn.Module, n: int) -> None:
        super().__init__()
        self.model, self.n, self.calls = model, n, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls == self.n:
            raise RuntimeError("failing on purpose")
        return self.model(x)


MODEL_FREE = {"random", "center"}
# The forward call that fails: call 1 is explain()'s own; single-pass methods fail on
# their only pass (call 2), after their hooks or canonizers are in place; Grad-CAM spends
# call 2 on choosing its layer; iterative methods fail on their second pass (call 3).
FAIL_AT = {"saliency": 2, "guided_backprop": 2, "lrp_epsilon": 2, "smoothgrad": 2, "integrated_gradients": 2}


@pytest.mark.parametrize("method", sorted(set(neuromask.methods()) - MODEL_FREE))
def test_method_failing_half_way_leaves_model_unchanged(method: str, tiny_cnn: nn.Module) -> None:
    model = FailsOnCall(tiny_cnn, n=FAIL_AT.get(method, 3))
    before = full_state(model)
    with pytest.raises(RuntimeError, match="failing on purpose"):
        neuromask.explain(model, torch.randn(1, 3, 16, 16), method=method, **fast_options(method, (16, 16)))
    assert model.calls == FAIL_AT.get(method, 3)
    assert_unchanged(before, full_state(model))


@pytest.mark.parametrize(
    "method, options",
    [
        ("smoothgrad", dict(samples=0)),
        ("smoothgrad", dict(noise_level=-1.0)),
        ("integrated_gradients", dict(steps=0)),
        ("saliency", dict(reduction="median")),
        ("occlusion", dict(output="margin")),
        ("rise", dict(p=1.5)),
        ("lime", dict(segmentation="watershed")),
        ("gradcam", dict(upsample="cubic")),
        ("lrp_epsilon", dict(composite="alpha_beta")),
        ("extremal_perturbation", dict(areas=())),
        ("extremal_perturbation", dict(areas=(0.0,))),
        ("meaningful_perturbation", dict(steps=-1)),
        ("center", dict(sigma=0.0)),
    ],
)
def test_bad_options_raise_input_error(method: str, options: dict[str, Any], tiny_cnn: nn.Module) -> None:
    with pytest.raises(InputError):
        neuromask.explain(tiny_cnn, torch.randn(1, 3, 16, 16), method=method, **options)
