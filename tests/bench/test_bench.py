"""The benchmark on ``evaluate``: groups written as folders, one row format, the report read from rows only."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from helpers import one_thread  # noqa: F401 (autouse fixture)
from neuromask.bench import Row, read_benchmark, read_rows, run, write_report
from neuromask.bench.runner import GROUPS
from neuromask.bench.suites import SCALED_POINTING, SUITES, Goals, Suite
from neuromask.bench.tables import ROW_SCHEMA, Verdict, read_groups, within_best
from neuromask.cli.main import build_parser
from neuromask.errors import InputError
from neuromask.explainers import METHODS
from neuromask.registry import Entry
from neuromask.runs import write_parquet

SUITE = Suite(
    name="test",
    datasets=("triangles_squares-cnn",),
    dataset_images=4,
    photos=(),
    sanity_images=2,
    categories={"datasets": ("localisation", "faithfulness", "sanity", "cost")},
    metric_params={"datasets": {**SCALED_POINTING, "deletion": {"pixels_per_step": 64}, "insertion": {"pixels_per_step": 64},
                                "region_perturbation": {"regions": 4}}},
)  # fmt: skip


def _broken(model: torch.nn.Module, inputs: torch.Tensor, target: torch.Tensor) -> None:
    raise InputError("this method always fails")


@pytest.fixture
def broken_method(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        METHODS._entries, "test_broken", Entry("test_broken", _broken, {**METHODS.entry("center").meta})
    )


def _summary(path: Path) -> dict[tuple[str, str, str], dict[str, str]]:
    with path.open() as fh:
        return {(r["group"], r["method"], r["metric"]): r for r in csv.DictReader(fh)}


def test_a_run_evaluates_each_group_and_the_report_reads_the_rows(broken_method: None, tmp_path: Path) -> None:
    failures = run(SUITE, tmp_path, methods=["saliency", "center", "test_broken"], progress=False)
    group = tmp_path / GROUPS / "triangles_squares-cnn"
    scores = pq.read_table(group / "scores.parquet").to_pylist()
    broken = [r for r in scores if r["method"] == "test_broken"]
    assert failures == len(broken) + 4 and all(r["status"] == "failed" for r in broken)  # + the 4 explanations
    # Every metric of the categories (4 localisation, 3 faithfulness, seconds), and randomisation on 2 of the 4 images.
    per_method = {m: sum(r["method"] == m for r in scores) for m in ("saliency", "center")}
    assert per_method == {"saliency": 4 * 8 + 2, "center": 4 * 8 + 2}
    paths = write_report(tmp_path)
    assert {p.name for p in paths} >= {"summary.csv", "results.md", "index.html", "SUMMARY.md", "energy.png"}
    rows = read_benchmark(tmp_path)
    assert len(rows) == len(scores) and {r["group"] for r in rows} == {"triangles_squares-cnn"}
    summary = _summary(tmp_path / "summary.csv")
    energy = summary[("triangles_squares-cnn", "saliency", "energy")]
    values = [r["value"] for r in scores if r["method"] == "saliency" and r["metric"] == "energy"]
    assert float(energy["mean"]) == pytest.approx(np.mean(values)) and energy["n"] == "4" and energy["rank"]
    assert ("triangles_squares-cnn", "saliency", "insertion_minus_deletion") in summary
    md = (tmp_path / "results.md").read_text()
    assert "test_broken: 34 row(s): `no map: the explanation failed: this method always fails`" in md
    assert "<td>saliency</td>" in (tmp_path / "index.html").read_text()
    # The report reads rows.parquet alone: the groups' folders gone, the same summary.
    before = (tmp_path / "summary.csv").read_text()
    shutil.rmtree(tmp_path / GROUPS)
    shutil.rmtree(tmp_path / "data")
    write_report(tmp_path, charts=False)
    assert (tmp_path / "summary.csv").read_text() == before


def test_a_rerun_computes_nothing_and_a_changed_option_computes_everything_again(tmp_path: Path) -> None:
    suite = Suite(name="t", datasets=("triangles_squares-cnn",), dataset_images=3, photos=(),
                  categories={"datasets": ("localisation",)}, metric_params={"datasets": SCALED_POINTING})  # fmt: skip
    assert run(suite, tmp_path, methods=["center"], progress=False) == 0
    group = tmp_path / GROUPS / "triangles_squares-cnn"
    manifests = [(group / name).read_bytes() for name in ("manifest.jsonl", "scores.jsonl")]
    assert run(suite, tmp_path, methods=["center"], progress=False) == 0
    assert [(group / name).read_bytes() for name in ("manifest.jsonl", "scores.jsonl")] == manifests
    changed = Suite(name="t", datasets=suite.datasets, dataset_images=3, photos=(), categories=suite.categories,
                    metric_params=suite.metric_params, method_params={"datasets": {"center": {"sigma": 0.1}}})  # fmt: skip
    assert run(changed, tmp_path, methods=["center"], progress=False) == 0
    assert (group / "manifest.jsonl").read_bytes().count(b"\n") == 6  # every map again, none reused
    write_report(tmp_path, charts=False)
    narrow = [r["value"] for r in pq.read_table(group / "scores.parquet").to_pylist() if r["metric"] == "energy"]
    assert float(_summary(tmp_path / "summary.csv")[("triangles_squares-cnn", "center", "energy")]["mean"]) == (
        pytest.approx(np.mean(narrow))
    )


def _rows(tmp_path: Path, values: dict[tuple[str, str], list[float]], clusters: list[str] | None = None) -> None:
    """A rows.parquet of one group 'g' from {(method, metric): per-image values}."""
    rows = []
    for (method, metric), per_image in values.items():
        for i, v in enumerate(per_image):
            rows.append({"group": "g", "image": str(i), "method": method, "metric": metric, "value": v,
                         "status": "ok", "cluster": clusters[i] if clusters else None})  # fmt: skip
    write_parquet(tmp_path / "rows.parquet", ROW_SCHEMA, rows)


def test_within_best_is_read_from_the_paired_interval_of_the_gap(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    base = rng.random(40)
    cases = {
        "close": base - 0.01,  # every image 0.01 behind: met
        "far": base - 0.05,  # every image 0.05 behind: missed
        "noisy": base - 0.02 + rng.normal(0, 0.05, 40),  # 0.02 behind on average, too noisy to tell
    }
    for name, ours in cases.items():
        _rows(tmp_path, {("best", "energy"): list(base), ("ours", "energy"): list(ours)})
        verdict = within_best(read_groups(tmp_path)["g"], "energy", "ours", 0.02)
        assert isinstance(verdict, Verdict)
        expected = {"close": "met", "far": "missed", "noisy": "undecided"}[name]
        assert verdict.verdict.startswith(f"within 0.02 of the best: {expected}"), (name, verdict)
    _rows(tmp_path, {("best", "energy"): list(base), ("ours", "energy"): list(base + 0.01)})
    assert within_best(read_groups(tmp_path)["g"], "energy", "ours", 0.02).verdict.startswith("first (ahead")


def test_two_object_scenes_are_resampled_by_scene_and_the_share_is_wilson(tmp_path: Path) -> None:
    from neuromask.evaluation.stats import wilson

    margins = [0.6, 0.2, 0.5, -0.1, 0.4, 0.3]  # scenes a, a, b, b, c, c
    _rows(tmp_path, {("ours", "mass_margin"): margins, ("ours", "energy"): [0.5] * 6}, list("aabbcc"))
    stats = read_groups(tmp_path)["g"]
    share = stats.cells[("ours", "own_above_other")]
    assert share.mean == pytest.approx(5 / 6) and (share.low, share.high) == pytest.approx(wilson(5 / 6 * 3, 3))
    weights = stats.boot.weights
    assert np.array_equal(weights[:, 0], weights[:, 1]) and np.array_equal(weights[:, 4], weights[:, 5])
    (tmp_path / "machine.json").write_text(json.dumps({"runs": [{"suite": "full"}]}))
    write_report(tmp_path, charts=False, goal=Goals(highlight="ours", min_margin=0.5))
    summary = (tmp_path / "SUMMARY.md").read_text()
    assert "in 5 of 6 cases (3 scenes)" in summary


def test_the_suites_meet_the_statistics_the_report_needs() -> None:
    from neuromask.datasets.composites import photo

    args = build_parser().parse_args(["benchmark", "--suite", "full", "--out", "x", "--groups", "counting-cnn"])
    assert args.suite == "full" and args.groups == ["counting-cnn"] and args.parts is None
    full = SUITES["full"]
    assert full.dataset_images >= 50 and 2 * full.composite_images >= 30 and full.composite_split == "test"
    assert full.composite_pairs >= 30 and full.sanity_images >= 10 and len(full.photos) >= 8
    assert not any(full.method_params.values()), "the full suite runs every method at its defaults"
    for spec in full.photos:
        assert photo(spec).dtype == np.uint8  # offline
    from neuromask.evaluation import metric_names

    for suite in SUITES.values():
        for options in suite.metric_params.values():
            assert set(options) <= set(metric_names())


@pytest.mark.parametrize("device", ["cuda:99", "not-a-device"])
def test_a_device_this_machine_lacks_is_a_clear_error_before_any_work(device: str, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="device"):
        run(SUITE, tmp_path / "out", methods=["saliency"], device=device, progress=False)
    assert not (tmp_path / "out").exists()


def test_groups_restricts_the_run_and_an_unknown_group_is_named(tmp_path: Path) -> None:
    suite = Suite(name="groups", datasets=("triangles_squares-cnn", "counting-cnn"), dataset_images=1, photos=(),
                  categories={"datasets": ("localisation",)}, metric_params={"datasets": SCALED_POINTING})  # fmt: skip
    assert run(suite, tmp_path, methods=["center"], groups=("counting-cnn",), progress=False) == 0
    assert [p.name for p in (tmp_path / GROUPS).iterdir()] == ["counting-cnn"]
    with pytest.raises(InputError, match="no group named nope.*counting-cnn"):
        run(suite, tmp_path, methods=["center"], groups=("nope",), progress=False)


def test_the_earlier_runners_rows_are_still_read(tmp_path: Path) -> None:
    """The committed results of the runner before evaluate: rows.jsonl.gz, then rows.jsonl; the last row per cell."""
    first = Row("g", "m", "0", "auroc", 0.25, config="c")
    second = Row("g", "m", "1", "auroc", 0.5, config="c")
    with gzip.open(tmp_path / "rows.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write(first.to_json() + "\n" + second.to_json() + "\n")
    (tmp_path / "rows.jsonl").write_text(Row("g", "m", "1", "auroc", 0.75, config="c").to_json() + '\n{"group": "g"')
    assert {r.image: r.value for r in read_rows(tmp_path / "rows.jsonl")} == {"0": 0.25, "1": 0.75}
    assert {r["image"]: r["value"] for r in read_benchmark(tmp_path)} == {"0": 0.25, "1": 0.75}
    (tmp_path / "rows.jsonl").write_text(first.to_json() + "\n{not json\n" + first.to_json() + "\n")
    with pytest.raises(ValueError, match="rows.jsonl:2"):
        read_rows(tmp_path / "rows.jsonl")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_cuda_run_scores_like_the_cpu_run(tmp_path: Path) -> None:
    """The same suite on the GPU and on the CPU: the same rows and, up to rounding, the same
    energy; machine.json records the device."""
    suite = Suite(name="device", datasets=("triangles_squares-cnn",), dataset_images=3, photos=(),
                  categories={"datasets": ("localisation",)}, metric_params={"datasets": SCALED_POINTING},
                  method_params={"datasets": {"neuromask": {"steps": 20}}})  # fmt: skip
    values = {}
    for device in ("cpu", "cuda"):
        assert run(suite, tmp_path / device, methods=["saliency", "neuromask"], device=device, progress=False) == 0
        rows = read_benchmark(tmp_path / device)
        values[device] = {(r["method"], r["image"], r["metric"]): r["value"] for r in rows}
        machine = json.loads((tmp_path / device / "machine.json").read_text())["runs"][-1]
        assert machine["device"] == device and (machine["gpu"] is not None) == (device == "cuda")
    assert values["cpu"].keys() == values["cuda"].keys() and len(values["cpu"]) > 0
    # NeuroMask's Adam normalises each step, so the last bits of float32 may move a mask by
    # up to 1e-2 (measured on an H200: about 2e-3); the mass on the evidence hardly moves.
    for key, value in values["cpu"].items():
        if key[2] == "energy":
            assert values["cuda"][key] == pytest.approx(value, abs=1e-2), key
