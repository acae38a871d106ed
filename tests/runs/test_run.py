"""explain_dataset in this process: the maps, the table, reruns, options, and failures."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

import neuromask
from dataset_runs import MODEL, write_shards
from neuromask.cli.main import main
from neuromask.runs import RunResults, explain_dataset, open_source
from neuromask.runs.manifest import Manifest
from neuromask.runs.store import MapStore

FAST = ["saliency", "gradcam"]


def run(source: Path, out: Path, methods: list[str] = FAST, **kwargs):
    return explain_dataset(source, MODEL, methods, out, quiet=True, **kwargs)


def manifest_lines(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def test_maps_equal_explain_on_each_image(image_folder: Path, tmp_path: Path) -> None:
    """The stored map is what neuromask.explain gives for the image file, at the image's size."""
    summary = run(image_folder, tmp_path, ["saliency", "neuromask"], options={"neuromask": {"steps": 3}}, batch_size=1)
    assert summary.ok and summary.computed == 12
    model = neuromask.load_model(MODEL)
    results = RunResults(tmp_path)
    for image_id in [s.id for s in open_source(image_folder)][:2]:
        inputs, geometry = neuromask.preprocess_image(model, neuromask.load_image(image_folder / image_id))
        for method, params in (("saliency", {}), ("neuromask", {"steps": 3})):
            expected = neuromask.explain(model, inputs[None], method=method, **params)
            want = neuromask.to_original_size(expected.attribution[0], geometry)
            np.testing.assert_array_equal(results.map(image_id, method), want)


def test_parquet_has_the_contract_columns_one_row_per_image_and_method(image_folder: Path, tmp_path: Path) -> None:
    run(image_folder, tmp_path, target="class", source_kind="imagefolder", batch_size=4)
    table = pq.read_table(tmp_path / "results.parquet")
    contract = {
        "image": pa.string(),
        "method": pa.string(),
        "status": pa.string(),
        "target": pa.int64(),
        "seconds": pa.float64(),
        "error": pa.string(),
    }
    for name, dtype in contract.items():
        assert table.schema.field(name).type == dtype, name
    rows = table.to_pylist()
    ids = [s.id for s in open_source(image_folder)]
    assert sorted((r["image"], r["method"]) for r in rows) == sorted((i, m) for i in ids for m in FAST)
    labels = neuromask.load_model(MODEL).labels
    for r in rows:
        assert r["status"] == "ok" and r["error"] is None and r["seconds"] >= 0
        # --target class: the class folder's name is the explained label.
        assert r["class_name"] == r["image"].split("/")[0] == labels[r["target"]] == r["label"]
        assert 0 <= r["probability"] <= 1
        assert json.loads(r["options"])["target"] == "class"


def test_rerun_computes_nothing_and_keeps_one_row_each(image_folder: Path, tmp_path: Path) -> None:
    first = run(image_folder, tmp_path)
    before = manifest_lines(tmp_path)
    second = run(image_folder, tmp_path)
    assert (first.computed, second.computed, second.already_done) == (12, 0, 12)
    assert manifest_lines(tmp_path) == before
    assert pq.read_table(tmp_path / "results.parquet").num_rows == 12


def test_a_changed_option_is_a_new_item_and_an_explicit_default_is_not(image_folder: Path, tmp_path: Path) -> None:
    opts = {"neuromask": {"steps": 1}}
    assert run(image_folder, tmp_path, ["neuromask"], options=opts).computed == 6
    default_lr = neuromask.method_options("neuromask")["lr"]
    same = {"neuromask": {"steps": 1, "lr": default_lr}}
    assert run(image_folder, tmp_path, ["neuromask"], options=same).computed == 0
    changed = run(image_folder, tmp_path, ["neuromask"], options={"neuromask": {"steps": 2}})
    assert changed.computed == 6 and changed.already_done == 0
    rows = pq.read_table(tmp_path / "results.parquet").to_pylist()
    assert len(rows) == 6 and all(json.loads(r["options"])["options"]["steps"] == 2 for r in rows)
    assert len({r["options_hash"] for r in manifest_lines(tmp_path)}) == 2
    # Another target mode is another item too.
    assert run(image_folder, tmp_path, ["neuromask"], options=opts, target="class").computed == 6


def test_a_corrupt_image_among_good_ones(image_folder: Path, tmp_path: Path, capsys) -> None:
    source = tmp_path / "src"
    shutil.copytree(image_folder, source)
    (source / "square" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    out = tmp_path / "out"
    code = main(
        [
            "explain-dataset",
            str(source),
            "--model",
            MODEL,
            "--methods",
            "saliency",
            "--batch-size",
            "3",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "square/broken.png [saliency]" in lines[0] and "Traceback" not in lines[0]
    rows = {r["image"]: r for r in pq.read_table(out / "results.parquet").to_pylist()}
    assert len(rows) == 7
    assert rows["square/broken.png"]["status"] == "failed" and "broken.png" in rows["square/broken.png"]["error"]
    assert all(r["status"] == "ok" for k, r in rows.items() if k != "square/broken.png")


def test_a_full_disk_while_writing_a_map_fails_that_item_only(image_folder: Path, tmp_path: Path, monkeypatch) -> None:
    victim = open_source(image_folder)[2].id
    original = MapStore.write

    def write(self, name, values, attributes):
        if attributes["image"] == victim:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return original(self, name, values, attributes)

    monkeypatch.setattr(MapStore, "write", write)
    summary = run(image_folder, tmp_path, ["saliency"])
    assert [(f[0], "No space left on device" in f[2]) for f in summary.failures] == [(victim, True)]
    monkeypatch.setattr(MapStore, "write", original)
    again = run(image_folder, tmp_path, ["saliency"])
    assert again.ok and again.computed == 1
    assert sorted(r["image"] for r in pq.read_table(tmp_path / "results.parquet").to_pylist()) == sorted(
        s.id for s in open_source(image_folder)
    )


def test_a_full_disk_while_writing_the_manifest_stops_the_run_and_loses_nothing(
    image_folder: Path, tmp_path: Path, monkeypatch
) -> None:
    """The manifest's third line is half written when the disk fills: the run stops with the
    OSError, the half line is cut, and the rerun finishes with every item recorded once."""
    real_write = os.write
    calls = {"n": 0}

    def write(fd, data):
        if os.readlink(f"/proc/self/fd/{fd}").endswith("manifest.jsonl"):
            calls["n"] += 1
            if calls["n"] == 3:
                real_write(fd, bytes(data)[: len(data) // 2])
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    with pytest.raises(OSError, match="No space left"):
        run(image_folder, tmp_path, ["saliency"])
    monkeypatch.setattr(os, "write", real_write)
    assert len(manifest_lines(tmp_path)) == 2  # every line whole
    assert pq.read_table(tmp_path / "results.parquet").num_rows == 2  # what was recorded is in the table
    again = run(image_folder, tmp_path, ["saliency"])
    assert again.ok and again.already_done == 2 and again.computed == 4
    keys = [r["key"] for r in manifest_lines(tmp_path)]
    assert len(keys) == len(set(keys)) == 6


def test_a_crash_leftover_half_line_and_unrecorded_array_are_redone(image_folder: Path, tmp_path: Path) -> None:
    run(image_folder, tmp_path, ["saliency"])
    whole = RunResults(tmp_path)
    lines = (tmp_path / "manifest.jsonl").read_bytes().splitlines(keepends=True)
    # As if killed while appending line 6: its map is in the store, its line only half on disk.
    (tmp_path / "manifest.jsonl").write_bytes(b"".join(lines[:5]) + lines[5][:40])
    (tmp_path / "tmp" / "junk.abc").mkdir(parents=True)
    assert len(Manifest(tmp_path / "manifest.jsonl").records) == 5
    again = run(image_folder, tmp_path, ["saliency"])
    assert again.computed == 1 and again.ok
    assert not list((tmp_path / "tmp").iterdir())
    keys = [r["key"] for r in manifest_lines(tmp_path)]
    assert len(keys) == len(set(keys)) == 6
    redone = json.loads(lines[5])["image"]
    np.testing.assert_array_equal(RunResults(tmp_path).map(redone, "saliency"), whole.map(redone, "saliency"))


def test_per_image_files_and_webdataset_source_give_the_same_maps(image_folder: Path, tmp_path: Path) -> None:
    run(image_folder, tmp_path / "folder", ["saliency"], per_image=True)
    some = open_source(image_folder)[0].id
    per_image = tmp_path / "folder" / "per_image" / f"{some}.saliency"
    npy = np.load(per_image.with_name(per_image.name + ".npy"))
    np.testing.assert_array_equal(npy, RunResults(tmp_path / "folder").map(some, "saliency"))
    assert json.loads(per_image.with_name(per_image.name + ".json").read_text())["image"] == some
    assert per_image.with_name(per_image.name + ".png").stat().st_size > 0

    shards = tmp_path / "shards"
    shards.mkdir()
    written = write_shards(shards, image_folder, per_shard=4)
    run(shards, tmp_path / "wds", ["saliency"], target="class")
    wds = RunResults(tmp_path / "wds")
    folder = RunResults(tmp_path / "folder")
    for name, key, _ in written:
        cls, stem = key.split("_")
        np.testing.assert_array_equal(wds.map(f"{name}/{key}", "saliency"), folder.map(f"{cls}/{stem}.png", "saliency"))


def test_batch_equals_one_by_one(image_folder: Path, tmp_path: Path) -> None:
    run(image_folder, tmp_path / "one", ["neuromask"], options={"neuromask": {"steps": 3}}, batch_size=1)
    run(image_folder, tmp_path / "four", ["neuromask"], options={"neuromask": {"steps": 3}}, batch_size=4)
    one, four = RunResults(tmp_path / "one"), RunResults(tmp_path / "four")
    for s in open_source(image_folder):
        torch.testing.assert_close(
            torch.from_numpy(four.map(s.id, "neuromask")),
            torch.from_numpy(one.map(s.id, "neuromask")),
            # batched convolutions round differently; Adam's normalised steps carry it into the
            # mask (measured 4e-5 here); a mask leaking between images would differ by far more
            atol=1e-3,
            rtol=0,
        )


def test_bad_requests_are_one_line_usage_errors(image_folder: Path, tmp_path: Path, capsys) -> None:
    base = ["explain-dataset", str(image_folder), "--model", MODEL, "--out", str(tmp_path)]
    for extra, message in (
        (["--methods", "nope"], "unknown method 'nope'"),
        (["--methods", "saliency", "--option", "saliency.bogus=1"], "has no option 'bogus'"),
        (["--methods", "saliency", "--option", "gradcam.layer=x"], "--option must be METHOD.KEY=VALUE"),
    ):
        assert main(base + extra) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err


def test_a_second_driver_on_the_same_folder_is_refused(image_folder: Path, tmp_path: Path) -> None:
    import fcntl

    with open(tmp_path / ".lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(neuromask.InputError, match="another explain-dataset run"):
            run(image_folder, tmp_path, ["saliency"])


def test_config_file_then_option_on_top(image_folder: Path, tmp_path: Path) -> None:
    config = tmp_path / "options.toml"
    config.write_text("[neuromask]\nsteps = 1\nlr = 0.05\n")
    out = tmp_path / "out"
    code = main(
        [
            "explain-dataset",
            str(image_folder),
            "--model",
            MODEL,
            "--methods",
            "neuromask",
            "--config",
            str(config),
            "--option",
            "neuromask.lr=0.2",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    used = {
        json.dumps(json.loads(r["options"])["options"], sort_keys=True)
        for r in pq.read_table(out / "results.parquet").to_pylist()
    }
    assert len(used) == 1
    options = json.loads(used.pop())
    assert (options["steps"], options["lr"]) == (1, 0.2)


def test_target_class_reads_a_digit_folder_as_the_label_it_names(tmp_path: Path) -> None:
    """The counting model's labels are '1' .. '5' at indices 0 .. 4: folder '3' is label '3'
    (index 2), not index 3; and folder '5' is a class, not an index out of range."""
    from neuromask.datasets import write_folder

    write_folder("counting", 10, tmp_path / "data", start=5_000_000)
    summary = explain_dataset(tmp_path / "data" / "images", "counting-cnn", ["saliency"], tmp_path / "run",
                              target="class", source_kind="imagefolder", quiet=True)  # fmt: skip
    rows = RunResults(tmp_path / "run").table.to_pylist()
    assert summary.ok and len(rows) == 10
    labels = neuromask.load_model("counting-cnn").labels
    assert all(labels[r["target"]] == r["image"].split("/")[0] for r in rows)
    # A digit given by the user is still an index (--target 3), unless it names a label first.
    model = neuromask.load_model("counting-cnn")
    assert model.class_index("3") == 3 and model.class_index("3", label_first=True) == 2
