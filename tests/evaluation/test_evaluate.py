"""``evaluate``: scores that equal the metrics' definitions, reruns that explain nothing again,
and every bad input as one line naming the image, a failed row and exit 1."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image

import neuromask
from dataset_runs import MODEL, write_image_folder
from helpers import one_thread  # noqa: F401 (autouse fixture)
from neuromask.cli.main import main
from neuromask.errors import InputError
from neuromask.evaluation import read_scores
from neuromask.explainers import METHODS
from neuromask.metrics.faithfulness import deletion
from neuromask.registry import Entry
from neuromask.runs import RunResults

METHODS_USED = ["saliency", "center"]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str]]:
    root = tmp_path_factory.mktemp("evaluate")
    ids = write_image_folder(root / "images", 5, masks=root / "masks")
    return root / "images", root / "masks", ids


def _rows(out: Path) -> list[dict]:
    return read_scores(out).to_pylist()


def test_scores_equal_the_metrics_computed_by_hand(data, tmp_path: Path) -> None:
    images, masks, ids = data
    metrics = ["energy", "eq_iou", "pointing", "deletion"]
    result = neuromask.evaluate(
        images, MODEL, METHODS_USED, tmp_path, masks=masks, metrics=metrics, quiet=True,
        metric_options={"pointing": {"tolerance": 0}},
    )  # fmt: skip
    assert result.ok and result.computed == result.total == len(ids) * len(METHODS_USED) * len(metrics)
    rows = _rows(tmp_path)
    assert len(rows) == result.total and len({(r["image"], r["method"], r["metric"]) for r in rows}) == len(rows)
    run = RunResults(tmp_path)
    model = neuromask.load_model(MODEL)
    for r in rows:
        att = run.map(r["image"], r["method"])
        mask = np.asarray(Image.open(masks / r["image"])) > 0
        if r["metric"] == "energy":
            positive = np.clip(att, 0, None)
            assert r["value"] == pytest.approx(positive[mask].sum() / positive.sum(), abs=1e-6)
        elif r["metric"] == "eq_iou":
            k = int(mask.sum())
            top = np.zeros(mask.size, bool)
            top[np.argsort(-att.reshape(-1), kind="stable")[:k]] = True
            if len(np.unique(att)) == att.size:  # no ties at the cut: the plain top-k IoU
                inter = (top & mask.reshape(-1)).sum()
                assert r["value"] == pytest.approx(inter / (2 * k - inter), abs=1e-6)
        elif r["metric"] == "pointing":
            peaks = att == att.max()
            assert r["value"] == pytest.approx((peaks & mask).sum() / peaks.sum(), abs=1e-6)
        else:  # deletion on the image as the model sees it (32 px: no resize, the map unchanged)
            inputs, _ = neuromask.preprocess_image(model, Image.open(images / r["image"]))
            expected = deletion(
                model.module, inputs[None], torch.tensor([r["target"]]), torch.from_numpy(att)[None], steps=28
            )  # evaluate's default resolution
            assert r["value"] == pytest.approx(float(expected[0]), abs=1e-6)
    with (tmp_path / "summary.csv").open() as fh:
        summary = list(csv.DictReader(fh))
    assert list(summary[0])[:7] == ["method", "metric", "n", "mean", "ci95_low", "ci95_high", "rank"]
    assert len(summary) == len(METHODS_USED) * len(metrics)
    for s in summary:
        values = [r["value"] for r in rows if r["method"] == s["method"] and r["metric"] == s["metric"]]
        assert float(s["mean"]) == pytest.approx(np.mean(values)) and int(s["n"]) == len(ids)
        assert float(s["ci95_low"]) <= float(s["mean"]) <= float(s["ci95_high"])
    report = (tmp_path / "report.md").read_text()
    assert "## Which method to use" in report and "Use **" in report and result.recommendation in report
    assert (tmp_path / "report.html").exists() and (tmp_path / "report" / "saliency.png").exists()


def test_new_metrics_score_the_stored_maps_without_explaining_or_loading_the_model(
    data, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    images, masks, ids = data
    first = neuromask.evaluate(images, MODEL, METHODS_USED, tmp_path, masks=masks, metrics=["energy"], quiet=True)
    assert first.explained.computed == len(ids) * 2
    manifest = (tmp_path / "manifest.jsonl").read_bytes()

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded")

    monkeypatch.setattr("neuromask.models.load_model", refuse)
    more = neuromask.evaluate(
        images, MODEL, METHODS_USED, tmp_path, masks=masks, metrics=["energy", "auroc", "eq_iou"], quiet=True
    )
    assert more.ok and more.explained.computed == 0 and more.already_done == len(ids) * 2
    assert more.computed == len(ids) * 2 * 2
    monkeypatch.undo()
    sanity = neuromask.evaluate(images, MODEL, METHODS_USED, tmp_path, metrics=["randomisation"], quiet=True)
    assert sanity.explained.computed == 0 and sanity.computed == len(ids) * 2
    assert (tmp_path / "manifest.jsonl").read_bytes() == manifest  # nothing explained again
    assert {r["metric"] for r in _rows(tmp_path)} == {"randomisation"}  # the table is this request's


def test_bad_requests_are_refused_before_any_work(data, tmp_path: Path) -> None:
    images, masks, _ = data
    with pytest.raises(InputError, match="needs ground truth"):
        neuromask.evaluate(images, MODEL, ["saliency"], tmp_path, metrics=["energy"])
    with pytest.raises(InputError, match="unknown metric 'energy_pointing_game' .evaluate calls it 'energy'"):
        neuromask.evaluate(images, MODEL, ["saliency"], tmp_path, masks=masks, metrics=["energy_pointing_game"])
    with pytest.raises(InputError, match="has no option 'bogus'"):
        neuromask.evaluate(images, MODEL, ["saliency"], tmp_path, metric_options={"deletion": {"bogus": 1}})
    assert not (tmp_path / "manifest.jsonl").exists()
    assert main(["evaluate", str(images), "--model", MODEL, "--methods", "saliency", "--out", str(tmp_path),
                 "--metrics", "auroc"]) == 2  # fmt: skip


def _fails_on_one(model: torch.nn.Module, inputs: torch.Tensor, target: torch.Tensor, *, mean: float = -1.0):
    """A method that fails on the image whose mean pixel is ``mean`` and returns the pixels otherwise."""
    from neuromask.types import MethodOutput

    if abs(float(inputs.mean()) - mean) < 1e-4:
        raise InputError("this test method refuses this image")
    return MethodOutput(inputs.mean(dim=1))


def test_every_bad_input_is_one_line_a_failed_row_and_exit_1(
    data, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    images, masks, ids = data
    # Masks: one good, one of the wrong size, one missing, one unreadable, one all zero.
    bad = tmp_path / "masks"
    for image in ids:
        (bad / image).parent.mkdir(parents=True, exist_ok=True)
        (bad / image).write_bytes((masks / image).read_bytes())
    Image.fromarray(np.ones((20, 20), np.uint8)).save(bad / ids[1])
    (bad / ids[2]).unlink()
    (bad / ids[3]).write_text("not a png")
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(bad / ids[4])
    # A method that fails on the image whose mask is good.
    mean = float(np.asarray(Image.open(images / ids[0]), np.float64).mean()) / 255
    monkeypatch.setitem(
        METHODS._entries, "test_fails", Entry("test_fails", _fails_on_one, {**METHODS.entry("saliency").meta})
    )
    out = tmp_path / "out"
    argv = ["evaluate", str(images), "--model", MODEL, "--methods", "saliency,test_fails", "--out", str(out),
            "--masks", str(bad), "--metrics", "energy,auroc,insertion", "--option", f"test_fails.mean={mean}",
            "--quiet"]  # fmt: skip
    assert main(argv) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    reasons = {
        ids[1]: "is 20x20 pixels but the image is 32x32",
        ids[2]: "does not exist",
        ids[3]: "cannot be read as an image",
        ids[4]: "all zero",
        ids[0]: "this test method refuses this image",
    }
    for image, reason in reasons.items():
        assert any(image in line and reason in line for line in lines), (image, lines)
    assert all(line.startswith("neuromask evaluate: ") for line in lines) and len(lines) == len(reasons)
    rows = _rows(out)
    assert len(rows) == len(ids) * 2 * 3  # every row is written
    status = {(r["image"], r["method"], r["metric"]): r for r in rows}
    for image in ids[1:]:
        for method in ("saliency", "test_fails"):
            assert status[(image, method, "energy")]["status"] == "failed"
            assert status[(image, method, "insertion")]["status"] == "ok"  # needs no mask
    assert status[(ids[0], "saliency", "energy")]["status"] == "ok"
    for metric in ("energy", "auroc", "insertion"):
        assert status[(ids[0], "test_fails", metric)]["error"].startswith("no map: the explanation failed")


def test_boxes_naming_images_not_in_source_and_boxes_outside(
    data, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images, _, ids = data
    coco = {
        "images": [{"id": k, "file_name": name} for k, name in enumerate([*ids, "cats/ghost.png"])],
        "annotations": [{"image_id": 0, "bbox": [4, 4, 10, 10]}, {"image_id": 1, "bbox": [20, 20, 30, 5]}]
        + [{"image_id": k, "bbox": [8, 8, 8, 8]} for k in range(2, len(ids))],
    }
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps(coco))
    out = tmp_path / "out"
    argv = ["evaluate", str(images), "--model", MODEL, "--methods", "saliency", "--out", str(out),
            "--boxes", str(path), "--metrics", "energy,pointing", "--quiet"]  # fmt: skip
    assert main(argv) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2
    assert "cats/ghost.png" in lines[0] and "not in SOURCE" in lines[0]
    assert ids[1] in lines[1] and "reaches outside the 32x32 image" in lines[1]
    rows = _rows(out)
    assert len(rows) == len(ids) * 2 + 1
    ghost = [r for r in rows if r["image"] == "cats/ghost.png"]
    assert len(ghost) == 1 and ghost[0]["status"] == "failed"
    assert sum(r["status"] == "failed" for r in rows) == 3


def test_scores_parquet_schema_is_the_contract(data, tmp_path: Path) -> None:
    images, masks, _ = data
    neuromask.evaluate(images, MODEL, ["center"], tmp_path, masks=masks, metrics=["auroc"], quiet=True)
    names = pq.read_schema(tmp_path / "scores.parquet").names
    assert names[:6] == ["image", "method", "metric", "value", "status", "error"]
    record = json.loads((tmp_path / "evaluation.json").read_text())
    assert record["metrics"] == ["auroc"] and record["methods"] == ["center"]


def test_webdataset_shards_road_baseline_and_a_sampled_metric(data, tmp_path: Path) -> None:
    from dataset_runs import write_shards

    images, masks, ids = data
    (tmp_path / "shards").mkdir()
    written = write_shards(tmp_path / "shards", images, per_shard=3)
    # The masks mirror the shards' IDs: <shard>/<key>.png.
    for (shard, key, _), image in zip(written, sorted(ids)):
        (tmp_path / "masks" / shard).mkdir(parents=True, exist_ok=True)
        (tmp_path / "masks" / shard / f"{key}.png").write_bytes((masks / image).read_bytes())
    result = neuromask.evaluate(
        tmp_path / "shards", MODEL, ["saliency"], tmp_path / "out", masks=tmp_path / "masks", quiet=True,
        metrics=["energy", "deletion", "randomisation"],
        metric_options={"deletion": {"baseline": "road"}, "randomisation": {"images": 2}},
    )  # fmt: skip
    assert result.ok
    rows = _rows(tmp_path / "out")
    assert {r["image"] for r in rows} == {f"{shard}/{key}" for shard, key, _ in written}
    assert sum(r["metric"] == "randomisation" for r in rows) == 2  # two of the five, spread over them
    road = {r["image"]: r["value"] for r in rows if r["metric"] == "deletion"}
    assert json.loads(next(r for r in rows if r["metric"] == "deletion")["metric_options"])["baseline"] == "road"
    # The same maps scored with the default baseline (0): another row format value, another number.
    zero = neuromask.evaluate(tmp_path / "shards", MODEL, ["saliency"], tmp_path / "out", masks=tmp_path / "masks", quiet=True,
                              metrics=["deletion"])  # fmt: skip
    assert zero.explained.computed == 0
    plain = {r["image"]: r["value"] for r in _rows(tmp_path / "out")}
    assert plain.keys() == road.keys() and any(abs(plain[k] - road[k]) > 1e-3 for k in road)
