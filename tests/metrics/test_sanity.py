"""Model-parameter randomisation: the copy, the cascade and the rank correlation."""

from __future__ import annotations

import math

import pytest
import torch

from neuromask.errors import InputError
from neuromask.explainers import METHODS
from neuromask.metrics.sanity import (
    cascading_randomisation,
    parameter_layers,
    randomisation_correlation,
    randomised_copy,
    rank_correlation,
)
from neuromask.registry import Entry
from neuromask.types import MethodOutput


def _input_map(model: torch.nn.Module, inputs: torch.Tensor, target: torch.Tensor) -> MethodOutput:
    """An 'explanation' that ignores the model: the image's brightness."""
    return MethodOutput(inputs.mean(dim=1))


@pytest.fixture
def model_blind_method(monkeypatch: pytest.MonkeyPatch) -> str:
    # Registered for this test only: monkeypatch removes it afterwards.
    monkeypatch.setitem(
        METHODS._entries, "test_input_map", Entry("test_input_map", _input_map, {"kind": "baseline", "order": 99})
    )
    return "test_input_map"


def test_rank_correlation_known_values() -> None:
    a = torch.rand(2, 5, 5, generator=torch.Generator().manual_seed(0))
    assert rank_correlation(a, a * 3 + 1).tolist() == pytest.approx([1.0, 1.0])
    assert rank_correlation(a, -a).tolist() == pytest.approx([-1.0, -1.0])
    # Monotone transforms keep ranks: Spearman, not Pearson.
    assert rank_correlation(a, a.exp() ** 5).tolist() == pytest.approx([1.0, 1.0])
    assert all(math.isnan(v) for v in rank_correlation(a, torch.ones(2, 5, 5)).tolist())


def test_rank_correlation_with_ties_against_pearson_of_average_ranks() -> None:
    """Literal oracle: Spearman = Pearson correlation of the average ranks, computed by hand."""
    a = torch.tensor([[[1.0, 2.0, 2.0], [3.0, 0.0, 5.0]]])
    b = torch.tensor([[[2.0, 1.0, 1.0], [4.0, 4.0, 6.0]]])
    ra = torch.tensor([2.0, 3.5, 3.5, 5.0, 1.0, 6.0])  # ranks of 1, 2, 2, 3, 0, 5
    rb = torch.tensor([3.0, 1.5, 1.5, 4.5, 4.5, 6.0])  # ranks of 2, 1, 1, 4, 4, 6
    ra, rb = ra - ra.mean(), rb - rb.mean()
    expected = float((ra * rb).sum() / (ra.square().sum() * rb.square().sum()).sqrt())
    assert rank_correlation(a, b).item() == pytest.approx(expected, abs=1e-6)


def test_randomised_copy_leaves_the_original_and_cascades_from_the_top(small_cnn: torch.nn.Module) -> None:
    before = {k: v.clone() for k, v in small_cnn.state_dict().items()}
    assert [name for name, _ in parameter_layers(small_cnn)] == ["conv1", "conv2", "fc"]
    top1 = randomised_copy(small_cnn, 1, seed=0)
    assert all(torch.equal(v, small_cnn.state_dict()[k]) for k, v in before.items())
    assert not torch.equal(top1.fc.weight, small_cnn.fc.weight)
    assert torch.equal(top1.conv2.weight, small_cnn.conv2.weight)
    full = randomised_copy(small_cnn, None, seed=0)
    assert not torch.equal(full.conv1.weight, small_cnn.conv1.weight)
    # Seeded: the same seed gives the same model, another seed another one.
    assert torch.equal(randomised_copy(small_cnn, None, seed=0).conv1.weight, full.conv1.weight)
    assert not torch.equal(randomised_copy(small_cnn, None, seed=1).conv1.weight, full.conv1.weight)
    with pytest.raises(InputError, match="top must be in"):
        randomised_copy(small_cnn, 4)


def test_a_model_blind_method_fails_the_check(small_cnn, images, model_blind_method) -> None:
    attribution = images.mean(dim=1)
    rho = randomisation_correlation(small_cnn, images, None, attribution, method=model_blind_method)
    assert rho.tolist() == pytest.approx([1.0, 1.0])


def test_neuromask_passes_on_a_small_cnn(small_cnn, images) -> None:
    params = dict(steps=10, lr=0.5, mask_size=None)
    import neuromask

    explanation = neuromask.explain(small_cnn, images, None, method="neuromask", **params)
    names, rho = cascading_randomisation(
        small_cnn, images, None, explanation.attribution, method="neuromask", params=params
    )
    assert names == ["fc", "conv2", "conv1"]
    assert rho.shape == (2, 3)
    assert (rho[:, -1] < 0.9).all()
    full = randomisation_correlation(
        small_cnn, images, None, explanation.attribution, method="neuromask", params=params
    )
    assert torch.allclose(full, rho[:, -1], equal_nan=True)
