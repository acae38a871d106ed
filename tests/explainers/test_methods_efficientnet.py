"""The traps measured on the real EfficientNet-Lite0 (ReLU6, a shared top-level activation,
ZeroPad2d and batch norm), one explanation each."""

from __future__ import annotations

import pytest
import torch

import neuromask
from neuromask.errors import UnsupportedModelError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lite0() -> tuple[neuromask.LoadedModel, torch.Tensor]:
    from skimage import data

    model = neuromask.load_model("efficientnet_lite0")
    inputs, _ = neuromask.preprocess_image(model, data.chelsea())
    return model, inputs[None]


def test_guided_backprop_is_not_saliency_on_relu6(lite0: tuple) -> None:
    model, x = lite0
    assert not any(isinstance(m, torch.nn.ReLU) for m in model.module.modules())  # only ReLU6
    gb = neuromask.explain(model, x, method="guided_backprop", reduction="sum").attribution
    sal = neuromask.explain(model, x, method="saliency", reduction="sum").attribution
    assert torch.isfinite(gb).all()
    # Guided backprop zeroes every negative gradient at every ReLU6: far from the plain gradient.
    cosine = torch.nn.functional.cosine_similarity(gb.flatten(), sal.flatten(), dim=0)
    assert cosine < 0.9


def test_gradcam_avoids_the_shared_swish(lite0: tuple) -> None:
    model, x = lite0
    e = neuromask.explain(model, x, method="gradcam")
    assert e.extras["layer"] == "_conv_head"
    assert torch.isfinite(e.attribution).all() and e.attribution.max() > 0
    with pytest.raises(UnsupportedModelError, match="'_swish' runs 2 times"):
        neuromask.explain(model, x, method="gradcam", layer="_swish")


def test_lrp_runs_with_epsilon_plus_and_refuses_nan(lite0: tuple) -> None:
    model, x = lite0
    e = neuromask.explain(model, x, method="lrp_epsilon")
    assert torch.isfinite(e.attribution).all() and e.attribution.abs().sum() > 0
    with pytest.raises(UnsupportedModelError, match="NaN or infinite"):
        neuromask.explain(model, x, method="lrp_epsilon", composite="epsilon")
