"""The benchmark runner (rows, resume, failures) and the report, on a tiny model and grid."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from helpers import GreyCNN
from neuromask.bench import RowStore, read_rows, write_report
from neuromask.bench.report import bootstrap_interval, summarise
from neuromask.bench.rows import Row
from neuromask.bench.runner import Group, _metrics_of, _record_run, cell_config, cell_options, run_group
from neuromask.bench.suites import SUITES, Goals, Suite
from neuromask.cli.main import build_parser
from neuromask.explainers import METHODS
from neuromask.registry import Entry
from neuromask.types import LoadedModel

METHOD_NAMES = ["center", "saliency", "test_broken"]


def _broken(model: nn.Module, inputs: torch.Tensor, target: torch.Tensor) -> None:
    raise RuntimeError("this method always fails\nsecond line")


@pytest.fixture
def broken_method(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        METHODS._entries, "test_broken", Entry("test_broken", _broken, {"kind": "gradient", "order": 99})
    )


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
    metric_params={
        "datasets": {
            "deletion": {"pixels_per_step": 16},
            "insertion": {"pixels_per_step": 16},
            "region_perturbation": {"regions": 4},
        }
    },
)


def test_rows_resume_and_failures(group: Group, broken_method: None, tmp_path: Path) -> None:
    store = RowStore(tmp_path / "rows.jsonl")
    failures = run_group(group, METHOD_NAMES, SUITE, store, tmp_path)
    rows = read_rows(tmp_path / "rows.jsonl")
    # Mask-only metrics do not apply to these methods: 10 metrics per (method, image).
    per_cell = len([e for e in group.metrics if e.applies_to == "any"])
    assert len(rows) == 3 * 2 * per_cell
    broken = [r for r in rows if r.method == "test_broken"]
    assert failures == len(broken) == 2 * per_cell
    assert all(r.status == "error" and r.error == "RuntimeError: this method always fails" for r in broken)
    good = [r for r in rows if r.method != "test_broken"]
    assert all(r.status == "ok" for r in good)
    assert len(list((tmp_path / "maps" / "grey-net" / "saliency").glob("*/1.npy"))) == 1

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
    assert {
        "summary.csv",
        "results.md",
        "index.html",
        "energy_pointing_game.png",
        "quality_vs_seconds-energy_pointing_game.png",
    } <= names
    md = (tmp_path / "results.md").read_text()
    assert "| saliency |" in md and "| center |" in md
    assert "insertion_minus_deletion ↑" in md and "seconds ↓" in md and "equal_area_iou ↑" in md
    per_cell = len([e for e in group.metrics if e.applies_to == "any"])
    assert f"test_broken: {2 * per_cell} cell(s): `RuntimeError: this method always fails`" in md
    csv_text = (tmp_path / "summary.csv").read_text()
    assert "grey-net,center,pointing_game,localisation,True" in csv_text
    # The page is built from the same table data, not from the Markdown.
    page = (tmp_path / "index.html").read_text()
    assert "<td>saliency</td>" in page and "**" not in page


def test_report_values_and_derived_column(tmp_path: Path) -> None:
    rows = [
        Row("g", "a", "0", "insertion", 0.9),
        Row("g", "a", "0", "deletion", 0.2),
        Row("g", "a", "1", "insertion", 0.7),
        Row("g", "a", "1", "deletion", 0.4),
        Row("g", "b", "0", "insertion", 0.5),
        Row("g", "b", "0", "deletion", 0.5),
        Row("g", "b", "1", "insertion", None, "error", "ValueError: x"),
    ]
    (tmp_path / "rows.jsonl").write_text("".join(r.to_json() + "\n" for r in rows) + '{"group": "g", "meth')
    write_report(tmp_path, charts=False, paired=False)
    summary = {
        (line.split(",")[1], line.split(",")[2]): line.split(",")
        for line in (tmp_path / "summary.csv").read_text().splitlines()[1:]
    }
    assert float(summary[("a", "insertion_minus_deletion")][5]) == pytest.approx(0.5)  # (0.7 + 0.3) / 2
    assert float(summary[("a", "deletion")][5]) == pytest.approx(0.3)
    assert summary[("b", "insertion")][10] == "1"  # one failure
    # Two images, 0.7 and 0.3: every bootstrap mean is 0.3, 0.5 or 0.7, so the 95 % interval is [0.3, 0.7].
    assert float(summary[("a", "insertion_minus_deletion")][6]) == pytest.approx(0.3)
    assert float(summary[("a", "insertion_minus_deletion")][7]) == pytest.approx(0.7)
    md = (tmp_path / "results.md").read_text()
    assert "**0.500 [0.300, 0.700] n=2**" in md  # a's insertion - deletion is the best


def test_bootstrap_interval_known_answers() -> None:
    assert bootstrap_interval([0.4] * 9, resamples=500, seed=0) == (pytest.approx(0.4), pytest.approx(0.4))
    low, high = bootstrap_interval([0.0] * 50 + [1.0] * 50, resamples=4000, seed=1)
    # The normal approximation of the mean of 100 fair coin flips: 0.5 +- 1.96 * 0.05.
    assert low == pytest.approx(0.402, abs=0.015) and high == pytest.approx(0.598, abs=0.015)
    assert all(np.isnan(v) for v in bootstrap_interval([1.0], resamples=10, seed=0))


def test_a_changed_option_is_a_new_cell_and_only_the_latest_is_reported(group: Group, tmp_path: Path) -> None:
    store = RowStore(tmp_path / "rows.jsonl")
    run_group(group, ["center"], SUITE, store, tmp_path)
    before = read_rows(tmp_path / "rows.jsonl")
    changed = Suite(
        name="test",
        datasets=(),
        dataset_images=2,
        photos=(),
        metric_params=SUITE.metric_params,
        method_params={"datasets": {"center": {"sigma": 0.1}}},
    )
    assert cell_options("center", group, SUITE)["sigma"] == 0.25
    assert cell_options("center", group, changed)["sigma"] == 0.1
    assert cell_config(SUITE, "center", cell_options("center", group, SUITE)) != cell_config(
        changed, "center", cell_options("center", group, changed)
    )
    # The default written out is the same configuration as the default left implicit.
    explicit = Suite(**{**SUITE.__dict__, "method_params": {"datasets": {"center": {"sigma": 0.25}}}})
    assert cell_config(SUITE, "center", cell_options("center", group, SUITE)) == cell_config(
        explicit, "center", cell_options("center", group, explicit)
    )
    written = run_group(group, ["center"], changed, RowStore(tmp_path / "rows.jsonl"), tmp_path)
    after = read_rows(tmp_path / "rows.jsonl")
    assert written == 0 and len(after) == 2 * len(before), "every cell again, none reused"
    energy = summarise(after)["grey-net"]["center"]["energy_pointing_game"]
    narrow = [
        r.value for r in after if r.metric == "energy_pointing_game" and r.config not in {b.config for b in before}
    ]
    assert energy.mean == pytest.approx(sum(narrow) / len(narrow)) and energy.n == 2


def test_paired_tables_compare_methods_on_the_same_images(tmp_path: Path) -> None:
    rows = [Row("g", "a", "0", "gini", 0.1), Row("g", "a", "1", "gini", 0.9), Row("g", "b", "0", "gini", 0.3)]
    assert summarise(rows)["g"]["a"]["gini"].mean == pytest.approx(0.5)
    paired = summarise(rows, paired=True)["g"]
    assert paired["a"]["gini"].mean == pytest.approx(0.1) and paired["a"]["gini"].n == 1
    assert paired["b"]["gini"].mean == pytest.approx(0.3)


def test_machine_json_keeps_every_run(tmp_path: Path) -> None:
    path = tmp_path / "machine.json"
    path.write_text(json.dumps({"suite": "full", "started": "old"}))  # the format before runs were kept
    _record_run(path, {"suite": "full", "started": "second"})
    _record_run(path, {"suite": "full", "started": "third"})
    assert [r["started"] for r in json.loads(path.read_text())["runs"]] == ["old", "second", "third"]


def test_two_object_scenes_margin_share_and_goals(tmp_path: Path) -> None:
    rows = [
        Row("pairs", "good", "0", "mass_margin", 0.6),
        Row("pairs", "good", "1", "mass_margin", 0.2),
        Row("pairs", "bad", "0", "mass_margin", -0.1),
        Row("pairs", "bad", "1", "mass_margin", 0.3),
        Row("pairs", "good", "0", "energy_pointing_game", 0.80),
        Row("pairs", "good", "1", "energy_pointing_game", 0.80),
        Row("pairs", "bad", "0", "energy_pointing_game", 0.81),
        Row("pairs", "bad", "1", "energy_pointing_game", 0.83),
    ]
    (tmp_path / "rows.jsonl").write_text("".join(r.to_json() + "\n" for r in rows))
    write_report(tmp_path, charts=False, goal=Goals(highlight="good", min_margin=0.5))
    md = (tmp_path / "results.md").read_text()
    assert "own-minus-other mass margin 0.400 [0.200, 0.600] (n=2); goal (at least 0.5) missed by 0.100" in md
    assert "share with more mass on its own object 1.000 [1.000, 1.000] (n=2); goal (at least 100%) met" in md
    # 0.80 against the best other 0.82: within 0.02.
    assert (
        "energy_pointing_game 0.800 [0.800, 0.800] (n=2); best other bad" in md and "within 0.02 of the best) met" in md
    )
    csv_lines = (tmp_path / "summary.csv").read_text().splitlines()
    assert any(line.startswith("pairs,bad,own_above_other,localisation,True,0.5,") for line in csv_lines)


def test_a_malformed_row_in_the_middle_is_an_error(tmp_path: Path) -> None:
    good = Row("g", "m", "0", "gini", 0.5).to_json()
    (tmp_path / "rows.jsonl").write_text(good + "\n{not json\n" + good + "\n")
    with pytest.raises(ValueError, match="rows.jsonl:2"):
        read_rows(tmp_path / "rows.jsonl")
    # A cut last line is dropped, and the next row starts on its own line.
    (tmp_path / "rows.jsonl").write_text(good + '\n{"group": "g", "me')
    store = RowStore(tmp_path / "rows.jsonl")
    store.write([Row("g", "m", "1", "gini", 0.25)])
    assert [r.image for r in read_rows(tmp_path / "rows.jsonl")] == ["0", "1"]


def test_read_rows_keeps_the_last_row_per_cell(tmp_path: Path) -> None:
    first = Row("g", "m", "0", "gini", None, "error", "E: x")
    second = Row("g", "m", "0", "gini", 0.5)
    (tmp_path / "rows.jsonl").write_text(first.to_json() + "\n" + second.to_json() + "\n")
    assert read_rows(tmp_path / "rows.jsonl") == [second]
    assert RowStore(tmp_path / "rows.jsonl").done(second.key)
    assert json.loads(second.to_json())["value"] == 0.5


def test_cli_and_suites() -> None:
    args = build_parser().parse_args(["benchmark", "--suite", "full", "--out", "x"])
    assert args.suite == "full" and callable(args.run) and args.parts is None and args.categories is None
    args = build_parser().parse_args(
        ["benchmark", "--out", "x", "--parts", "composites", "--categories", "localisation"]
    )
    assert args.parts == ["composites"] and args.categories == ["localisation"]
    assert set(SUITES) == {"quick", "full"}
    full = SUITES["full"]
    # The floor: 50 images per known-answer dataset, 30 composite scenes per real model.
    assert full.dataset_images >= 50 and 2 * full.composite_images >= 30 and full.composite_split == "test"
    assert not any(full.method_params.values()), "the full suite runs every method at its defaults"
    for suite in SUITES.values():
        for part in (suite.metric_params, suite.method_params):
            for options in part.values():
                assert all(name in METHODS or name in _metric_names() for name in options)


def _metric_names() -> list[str]:
    from neuromask.metrics import metrics

    return metrics()


@pytest.mark.parametrize("device", ["cuda:99", "not-a-device"])
def test_a_device_this_machine_lacks_is_a_clear_error_before_any_work(device: str, tmp_path: Path) -> None:
    from neuromask import InputError
    from neuromask.bench import run

    with pytest.raises(InputError, match="device"):
        run(SUITE, tmp_path / "out", methods=["saliency"], device=device, progress=False)
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_cuda_run_scores_like_the_cpu_run(tmp_path: Path) -> None:
    """The same suite on the GPU and on the CPU: the same images, targets and (up to
    rounding) the same localisation figures; machine.json records the device."""
    from neuromask.bench import run

    suite = Suite(
        name="device",
        datasets=("triangles_squares-cnn",),
        dataset_images=3,
        photos=(),
        categories={"datasets": ("localisation",)},
        method_params={"datasets": {"neuromask": {"steps": 20}}},
    )
    values, maps = {}, {}
    for device in ("cpu", "cuda"):
        assert run(suite, tmp_path / device, methods=["saliency", "neuromask"], device=device, progress=False) == 0
        rows = read_rows(tmp_path / device / "rows.jsonl")
        values[device] = {(r.method, r.image, r.metric): r.value for r in rows}
        maps[device] = {p.relative_to(tmp_path / device): np.load(p) for p in (tmp_path / device).rglob("*.npy")}
        machine = json.loads((tmp_path / device / "machine.json").read_text())["runs"][-1]
        assert machine["device"] == device and (machine["gpu"] is not None) == (device == "cuda")
    assert values["cpu"].keys() == values["cuda"].keys() and len(values["cpu"]) > 0
    assert maps["cpu"].keys() == maps["cuda"].keys() and len(maps["cpu"]) == 6
    # Saliency is one backward pass; NeuroMask's Adam normalises each step, so where a
    # cell's gradient is near zero the last bits of float32 decide a step of the learning
    # rate: the project's tolerance for that (as for a batch against its images one by
    # one) is 1e-2. Measured on an H200, float32: largest difference about 2e-3.
    for key, cpu_map in maps["cpu"].items():
        assert np.allclose(maps["cuda"][key], cpu_map, atol=1e-2), key
    # The metrics that rank pixels (AUROC, equal-area IoU, pointing game) may break exact
    # ties differently; the mass on the evidence may not move.
    for key, value in values["cpu"].items():
        if key[2] == "energy_pointing_game":
            assert values["cuda"][key] == pytest.approx(value, abs=1e-3), key


def test_groups_restricts_the_run_and_an_unknown_group_is_named(tmp_path: Path) -> None:
    from neuromask import InputError
    from neuromask.bench import run

    suite = Suite(
        name="groups",
        datasets=("triangles_squares-cnn", "counting-cnn"),
        dataset_images=1,
        photos=(),
        categories={"datasets": ("localisation",)},
    )
    assert run(suite, tmp_path, methods=["center"], groups=("counting-cnn",), progress=False) == 0
    assert {r.group for r in read_rows(tmp_path / "rows.jsonl")} == {"counting-cnn"}
    with pytest.raises(InputError, match="no group named nope.*counting-cnn"):
        run(suite, tmp_path, methods=["center"], groups=("nope",), progress=False)


def test_an_archived_rows_file_is_read_first_and_a_rerun_resumes_from_it(tmp_path: Path) -> None:
    """rows.jsonl.gz (a finished run, kept small in the repository) is read before the
    live rows.jsonl: its cells count as done, and a later row for a cell supersedes it."""
    import gzip

    from neuromask.bench import has_rows
    from neuromask.bench.rows import ok

    first, second = ok("g", "m", "0", "auroc", 0.25, "c"), ok("g", "m", "1", "auroc", 0.5, "c")
    with gzip.open(tmp_path / "rows.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write(first.to_json() + "\n" + second.to_json() + "\n")
    live = tmp_path / "rows.jsonl"
    assert has_rows(live) and not live.exists()
    store = RowStore(live)
    assert store.done(first.key) and store.done(second.key)
    store.write([ok("g", "m", "1", "auroc", 0.75, "c")])
    assert {r.image: r.value for r in read_rows(live)} == {"0": 0.25, "1": 0.75}
    assert not has_rows(tmp_path / "elsewhere.jsonl")
