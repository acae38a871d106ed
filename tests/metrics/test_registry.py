"""The metric registry checks each registration against the contract (neuromask.metrics), and
score() gives each metric what its needs name."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from neuromask.errors import InputError, UnknownNameError
from neuromask.metrics import METRICS, ScoringData, arguments, metric_info, metrics, score
from neuromask.metrics.complexity import gini
from neuromask.metrics.localisation import mass_margin
from neuromask.types import LoadedModel


def test_every_registered_metric_reads_back_its_registration() -> None:
    assert len(metrics()) >= 15
    for name in metrics():
        info = metric_info(name)
        assert info.name == name and info.summary
        assert info.direction in ("higher", "lower")
    deletion = metric_info("deletion")
    assert (deletion.category, deletion.direction, deletion.needs) == ("faithfulness", "lower", ("model",))
    assert deletion.arguments == ("model", "inputs", "target", "attribution")
    assert set(deletion.options) == {"pixels_per_step", "baseline", "batch_size"}
    randomisation = metric_info("randomisation_correlation")
    assert "method" not in randomisation.options and "params" not in randomisation.options
    assert metric_info("mask_area").applies("mask") and not metric_info("mask_area").applies("gradient")
    assert metric_info("gini").applies("gradient")


def test_families_and_unknown_names() -> None:
    assert set(metrics("localisation")) == {
        "pointing_game",
        "energy_pointing_game",
        "auroc",
        "equal_area_iou",
        "mass_margin",
    }
    assert set(metrics("faithfulness")) == {"deletion", "insertion", "region_perturbation"}
    with pytest.raises(UnknownNameError, match="did you mean 'gini'"):
        metric_info("ginni")


def test_arguments_follow_the_needs() -> None:
    assert arguments(()) == ("attribution",)
    assert arguments(("evidence", "other_evidence")) == ("attribution", "evidence", "other_evidence")
    assert arguments(("model",)) == ("model", "inputs", "target", "attribution")
    assert arguments(("inputs",)) == ("inputs", "attribution")
    assert arguments(("cost",)) == ("cost",)


def _ok(attribution: torch.Tensor, evidence: torch.Tensor, *, option: int = 1) -> torch.Tensor:
    """A well-formed metric."""
    return attribution.sum((1, 2))


def _swapped(evidence: torch.Tensor, attribution: torch.Tensor) -> torch.Tensor:
    """Takes its arguments in the wrong order."""
    return attribution.sum((1, 2))


def _no_default(attribution: torch.Tensor, *, option: int) -> torch.Tensor:
    """An option without a default."""
    return attribution.sum((1, 2))


def _no_doc(attribution: torch.Tensor) -> torch.Tensor:
    return attribution.sum((1, 2))


@pytest.mark.parametrize(
    "fn, meta, message",
    [
        (_ok, {"higher_is_better": "yes", "category": "localisation", "needs": ("evidence",)}, "higher_is_better"),
        (_ok, {"higher_is_better": True, "category": "beauty", "needs": ("evidence",)}, "category"),
        (_ok, {"higher_is_better": True, "category": "localisation", "needs": ("mask",)}, "needs"),
        (_ok, {"higher_is_better": True, "category": "localisation", "needs": "evidence"}, "needs as a tuple"),
        (_ok, {"higher_is_better": True, "category": "localisation", "needs": ()}, r"take \(attribution\) first"),
        (_swapped, {"higher_is_better": True, "category": "localisation", "needs": ("evidence",)}, "first"),
        (_no_default, {"higher_is_better": True, "category": "complexity"}, "must have a default"),
        (_no_doc, {"higher_is_better": True, "category": "complexity"}, "docstring"),
        (_ok, {"higher_is_better": True, "category": "cost", "needs": ("cost", "evidence")}, "'cost' alone"),
        (mass_margin, {"higher_is_better": True, "category": "localisation", "needs": ("other_evidence",)}, "without"),
        (
            _ok,
            {"higher_is_better": True, "category": "localisation", "needs": ("evidence",), "applies_to": "gradient"},
            "applies_to",
        ),
    ],
)
def test_a_registration_that_breaks_the_contract_is_refused(fn, meta, message) -> None:
    with pytest.raises(RuntimeError, match=message):
        METRICS.register("test_bad", **meta)(fn)
    assert "test_bad" not in METRICS


def test_score_gives_each_metric_what_it_needs() -> None:
    attribution = torch.zeros(2, 4, 4)
    attribution[0, 0, 0] = 1.0
    attribution[1] = 1.0
    evidence = torch.zeros(2, 4, 4, dtype=torch.bool)
    evidence[:, :2, :2] = True
    other = torch.zeros(2, 4, 4, dtype=torch.bool)
    other[:, 2:, 2:] = True
    data = ScoringData(attribution=attribution, evidence=evidence, other_evidence=other)
    torch.testing.assert_close(score("gini", data), gini(attribution))
    torch.testing.assert_close(score("mass_margin", data), mass_margin(attribution, evidence, other))
    # With pointing_game's option passed through: the peak (0, 0) of image 0 is inside.
    assert score("pointing_game", data, tolerance=0)[0] == 1.0
    with pytest.raises(InputError, match="metric 'auroc' needs a ground-truth mask"):
        score("auroc", ScoringData(attribution=attribution))
    with pytest.raises(InputError, match="needs the classifier"):
        score("deletion", data)


def test_a_model_metric_gets_the_module_of_a_loaded_model() -> None:
    module = nn.Sequential(nn.Conv2d(1, 2, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()
    loaded = LoadedModel(module, "m", (6, 6), channels=1)
    inputs = torch.rand(1, 1, 6, 6, generator=torch.Generator().manual_seed(0))
    attribution = torch.rand(1, 6, 6, generator=torch.Generator().manual_seed(1))
    target = torch.tensor([1])
    plain = score("insertion", ScoringData(attribution=attribution, model=module, inputs=inputs, target=target))
    wrapped = score("insertion", ScoringData(attribution=attribution, model=loaded, inputs=inputs, target=target))
    torch.testing.assert_close(plain, wrapped)
    missing = metric_info("randomisation_correlation").missing(
        ScoringData(attribution=attribution, model=loaded, inputs=inputs, target=target)
    )
    assert missing == ["explain"]  # no method to explain again
