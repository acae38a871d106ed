"""Every registered metric declares what it needs and which way is better, and is documented."""

from __future__ import annotations

import inspect

import pytest

from neuromask.errors import UnknownNameError
from neuromask.metrics import METRICS, metrics

CATEGORIES = {"faithfulness", "localisation", "sanity", "complexity", "cost"}
NEEDS = {(), ("evidence",), ("evidence", "other_evidence"), ("model",), ("explain",), ("cost",)}
FIRST_ARGS = {
    (): ["attribution"],
    ("evidence",): ["attribution", "evidence"],
    ("evidence", "other_evidence"): ["attribution", "evidence", "other_evidence"],
    ("model",): ["model", "inputs", "target", "attribution"],
    ("explain",): ["model", "inputs", "target", "attribution"],
    ("cost",): ["cost"],
}


@pytest.mark.parametrize("name", metrics())
def test_metadata_and_signature(name: str) -> None:
    entry = METRICS.entry(name)
    assert isinstance(entry.meta["higher_is_better"], bool)
    assert entry.meta["category"] in CATEGORIES
    assert entry.meta["needs"] in NEEDS
    assert entry.meta["applies_to"] in ("any", "mask")
    params = list(inspect.signature(entry.obj).parameters.values())
    expected = FIRST_ARGS[entry.meta["needs"]]
    assert [p.name for p in params[: len(expected)]] == expected
    # Everything after the data is a keyword-only option with a default.
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[len(expected) :])
    assert inspect.getdoc(entry.obj)


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
        METRICS.entry("ginni")
