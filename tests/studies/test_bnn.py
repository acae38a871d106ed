"""The BNN study: the estimator swap leaves forward-only methods bit-identical, and a tiny
run writes the findings in the contract's format (shared/design/api.md) and reuses its work."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import neuromask
from helpers import one_thread  # noqa: F401 - autouse: one torch thread
from neuromask.models.binary import BACKWARD_RULES, BinaryCNN, backward_rule
from neuromask.studies import bnn
from neuromask.studies.findings import VERDICTS
from neuromask.studies.models import Recipe


def _tiny_bnn() -> BinaryCNN:
    torch.manual_seed(0)
    model = BinaryCNN(2, width=4, sign_shift=0.0)
    model.train()
    with torch.no_grad():
        model(torch.rand(8, 1, 16, 16, generator=torch.Generator().manual_seed(1)))
    return model.eval()


def test_estimator_swap_leaves_forward_only_methods_bit_identical() -> None:
    model = _tiny_bnn()
    x = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(2))
    forward_only = [
        m for m in neuromask.methods(available=True) if neuromask.method_info(m).kind in bnn.FORWARD_ONLY_KINDS
    ]
    assert {"occlusion", "rise", "lime"} <= set(forward_only)
    for method in forward_only + ["saliency"]:
        base = neuromask.explain(model, x, target=0, method=method).attribution
        moved = False
        for rule in BACKWARD_RULES:
            with backward_rule(model, rule):
                other = neuromask.explain(model, x, target=0, method=method).attribution
            if method in forward_only:
                assert torch.equal(other, base), f"{method} changed under the {rule} rule"
            moved |= not torch.equal(other, base)
        if method == "saliency":
            assert moved, "a gradient map must depend on the backward rule"


TINY = replace(
    bnn.QUICK,
    name="test",
    datasets=("triangles_squares",),
    seeds=2,
    images=2,
    methods=("saliency", "smoothgrad", "gradcam", "occlusion"),
    recipes={"triangles_squares": Recipe(256, 1)},
    smoothgrad_noise=(0.15,),
    smoothgrad_samples=(2,),
    occupancy_noise=(0.0, 0.15),
    forward_samples=8,
    sanity_methods=("saliency",),
    resamples=30,
)


def test_tiny_study_writes_the_contract_and_reuses_its_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = bnn.run_bnn_study(tmp_path, config=TINY, log=lambda line: None)
    stored = json.loads((tmp_path / "findings.json").read_text())
    assert stored["neuromask"] is None, "NeuroMask was not in this run's methods"
    stored = stored["findings"]
    assert [f["id"] for f in stored] == [1, 2, 3] == [f["id"] for f in summary["findings"]]
    for f in stored:
        assert isinstance(f["statistic"], str) and f["statistic"]
        assert isinstance(f["value"], float)
        assert len(f["ci95"]) == 2
        assert f["verdict"] in VERDICTS + ("undetermined",)
    for name in ("report.md", "report.html", "results.json", "grid_triangles_squares.png", "similarity_bands.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert "Findings" in (tmp_path / "report.md").read_text()
    assert len(list((tmp_path / "models").glob("*.pt"))) == 4, "2 seeds x 2 architectures cached"
    # A rerun must read the finished dataset instead of computing anything again.
    monkeypatch.setattr(bnn, "study_dataset", lambda *a, **k: pytest.fail("recomputed a finished dataset"))
    again = bnn.run_bnn_study(tmp_path, config=TINY, log=lambda line: None)
    assert [f["value"] for f in again["findings"]] == [f["value"] for f in summary["findings"]]


def test_unknown_dataset_is_refused(tmp_path: Path) -> None:
    with pytest.raises(neuromask.InputError, match="unknown dataset"):
        bnn.run_bnn_study(tmp_path, datasets=["mnist"], config=TINY)
