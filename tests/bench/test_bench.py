"""The benchmark runner (rows, resume, failures) and the report, on a tiny model and grid."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from helpers import GreyCNN

from neuromask.bench import RowStore, read_rows, write_report
from neuromask.bench.rows import Row
from neuromask.bench.runner import Group, _metrics_of, run_group
from neuromask.bench.suites import SUITES, Suite
from neuromask.cli.main import build_parser
from neuromask.explainers import METHODS
from neuromask.registry import Entry
from neuromask.types import LoadedModel

METHOD_NAMES = ["center", "saliency", "test_broken"]




def _broken(model: nn.Module, inputs: torch.Tensor, target: torch.Tensor) -> None:
    raise RuntimeError("this method always fails\nsecond line")


@pytest.fixture
def broken_method(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(METHODS._entries, "test_broken", Entry("test_broken", _broken, {"kind": "gradient", "order": 99}))


@pytest.fixture
def group() -> Group:
    gen = torch.Generator().manual_seed(0)
    n, size = 2, 12
    evidence = torch.zeros(n, size, size, dtype=torch.bool)
    evidence[:, 3:7, 4:9] = True
    model = LoadedModel(module=GreyCNN().eval(), name="grey", input_size=(size, size), channels=1)
    return Group(
        name="grey-net",
        part="datasets",
        model=model,
        inputs=torch.rand(n, 1, size, size, generator=gen),
        images=["0", "1"],
        target=torch.tensor([0, 1]),
        evidence=evidence,
        metrics=_metrics_of(("localisation", "faithfulness", "complexity", "cost")),
    )


SUITE = Suite(
    name="test",
    datasets=(),
    dataset_images=2,
    photos=(),
    metric_params={"datasets": {"deletion": {"pixels_per_step": 16}, "insertion": {"pixels_per_step": 16},
                                "region_perturbation": {"regions": 4}}},
)


def test_rows_resume_and_failures(group: Group, broken_method: None, tmp_path: Path) -> None:
    store = RowStore(tmp_path / "rows.jsonl")
    failures = run_group(group, METHOD_NAMES, SUITE, store, tmp_path)
    rows = read_rows(tmp_path / "rows.jsonl")
    # Mask-only metrics do not apply to these methods: 10 metrics per (method, image).
    per_cell = len([e for e in group.metrics if e.meta["applies_to"] == "any"])
    assert len(rows) == 3 * 2 * per_cell
    broken = [r for r in rows if r.method == "test_broken"]
    assert failures == len(broken) == 2 * per_cell
    assert all(r.status == "error" and r.error == "RuntimeError: this method always fails" for r in broken)
    good = [r for r in rows if r.method != "test_broken"]
    assert all(r.status == "ok" for r in good)
    assert (tmp_path / "maps" / "grey-net" / "saliency" / "1.npy").exists()

    # A rerun writes nothing for the cells done and tries the failed ones again.
    lines_before = (tmp_path / "rows.jsonl").read_text().count("\n")
    again = run_group(group, METHOD_NAMES, SUITE, RowStore(tmp_path / "rows.jsonl"), tmp_path)
    lines_after = (tmp_path / "rows.jsonl").read_text().count("\n")
    assert again == 2 * per_cell
    assert lines_after - lines_before == 2 * per_cell


def test_report_reads_rows_only(group: Group, broken_method: None, tmp_path: Path) -> None:
    run_group(group, METHOD_NAMES, SUITE, RowStore(tmp_path / "rows.jsonl"), tmp_path)
    paths = write_report(tmp_path)
    names = {p.name for p in paths}
    assert {"summary.csv", "results.md", "index.html", "energy_pointing_game.png", "quality_vs_seconds.png"} <= names
    md = (tmp_path / "results.md").read_text()
    assert "| saliency |" in md and "| center |" in md
    assert "insertion_minus_deletion ↑" in md and "seconds ↓" in md
    assert "test_broken: 20 cell(s): `RuntimeError: this method always fails`" in md
    csv_text = (tmp_path / "summary.csv").read_text()
    assert "grey-net,center,pointing_game,localisation,True" in csv_text


def test_report_values_and_derived_column(tmp_path: Path) -> None:
    rows = [
        Row("g", "a", "0", "insertion", 0.9), Row("g", "a", "0", "deletion", 0.2),
        Row("g", "a", "1", "insertion", 0.7), Row("g", "a", "1", "deletion", 0.4),
        Row("g", "b", "0", "insertion", 0.5), Row("g", "b", "0", "deletion", 0.5),
        Row("g", "b", "1", "insertion", None, "error", "ValueError: x"),
    ]
    (tmp_path / "rows.jsonl").write_text("".join(r.to_json() + "\n" for r in rows) + '{"group": "g", "meth')
    write_report(tmp_path, charts=False)
    summary = {(l.split(",")[1], l.split(",")[2]): l.split(",") for l in (tmp_path / "summary.csv").read_text().splitlines()[1:]}
    assert float(summary[("a", "insertion_minus_deletion")][5]) == pytest.approx(0.5)  # (0.7 + 0.3) / 2
    assert float(summary[("a", "deletion")][5]) == pytest.approx(0.3)
    assert summary[("b", "insertion")][9] == "1"  # one failure
    md = (tmp_path / "results.md").read_text()
    assert "**0.500 ± 0.200**" in md  # a's insertion - deletion is the best


def test_read_rows_keeps_the_last_row_per_cell(tmp_path: Path) -> None:
    first = Row("g", "m", "0", "gini", None, "error", "E: x")
    second = Row("g", "m", "0", "gini", 0.5)
    (tmp_path / "rows.jsonl").write_text(first.to_json() + "\n" + second.to_json() + "\n")
    assert read_rows(tmp_path / "rows.jsonl") == [second]
    assert RowStore(tmp_path / "rows.jsonl").done(second.key)
    assert json.loads(second.to_json())["value"] == 0.5


def test_cli_and_suites() -> None:
    args = build_parser().parse_args(["benchmark", "--suite", "full", "--out", "x"])
    assert args.suite == "full" and callable(args.run)
    assert set(SUITES) == {"quick", "full"}
    for suite in SUITES.values():
        for part in (suite.metric_params, suite.method_params):
            for options in part.values():
                assert all(name in METHODS or name in _metric_names() for name in options)


def _metric_names() -> list[str]:
    from neuromask.metrics import metrics

    return metrics()
