"""The dashboard's computations, without Streamlit: uploads, runs, scores, colours, archives, results folders."""

from __future__ import annotations

import gzip
import io
import json
import tempfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("streamlit")

import neuromask  # noqa: E402
from helpers import assert_same_state, model_state  # noqa: E402
from neuromask import datasets  # noqa: E402
from neuromask.dashboard import logic  # noqa: E402
from neuromask.errors import ImageLoadError, InputError  # noqa: E402
from neuromask.types import LoadedModel  # noqa: E402

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "benchmark"


def _on_worker(fn, *args, **kwargs):
    """Call ``fn`` on the dashboard's explanation thread, the way the page does (``logic.submit``)."""
    return logic.submit(fn, *args, **kwargs).result()


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def shared() -> LoadedModel:
    return neuromask.load_model("triangles_squares-cnn")


@pytest.fixture(scope="module")
def triangle(shared: LoadedModel) -> tuple[torch.Tensor, np.ndarray, torch.Tensor]:
    data = datasets.generate("triangles_squares", 1, seed=3)
    inputs, picture = logic.prepare(shared, logic.sample_image("triangles_squares", seed=3))
    return inputs, picture, data.evidence[0]


# --- uploads -------------------------------------------------------------------------


def test_an_uploaded_png_comes_back_pixel_for_pixel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    pixels = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    image, notes = logic.read_upload(_png(Image.fromarray(pixels)), "photo.png")
    np.testing.assert_array_equal(np.asarray(image), pixels)
    assert notes == []
    assert list(tmp_path.iterdir()) == []  # the temporary copy is gone


def test_an_animation_gives_its_first_frame_and_a_note() -> None:
    frames = [Image.new("RGB", (16, 16), colour) for colour in ("red", "blue", "green")]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    image, notes = logic.read_upload(buf.getvalue(), "anim.gif")
    assert np.asarray(image)[0, 0].tolist() == [255, 0, 0]
    assert len(notes) == 1 and notes[0].startswith("'anim.gif' has 3 frames; only the first")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "'x.png' is empty (0 bytes)"),
        (b"dear diary, today I trained a CNN\n", "'x.png' is not an image file Pillow can read (it holds text)"),
        (_png(Image.new("RGB", (64, 64), "red"))[:80], "'x.png' is corrupt or truncated"),
        (
            _png(Image.new("1", (8000, 6000))),
            "'x.png' is 8000x6000 pixels (48 megapixels); upload an image under 40 megapixels",
        ),
    ],
    ids=["empty", "text", "truncated", "huge"],
)
def test_a_bad_upload_is_one_message_naming_the_file(data: bytes, message: str) -> None:
    with pytest.raises(ImageLoadError) as err:
        logic.read_upload(data, "x.png")
    assert message in str(err.value)
    assert "\n" not in str(err.value) and "/tmp" not in str(err.value)


def test_samples_are_the_shipped_photos_and_dataset_images() -> None:
    from skimage import data

    np.testing.assert_array_equal(np.asarray(logic.sample_image("coffee")), data.coffee())
    drawn = datasets.generate("counting", 1, seed=0).images[0, 0]
    grey = np.asarray(logic.sample_image("counting"))[..., 0]
    np.testing.assert_array_equal(grey, (drawn * 255).round().to(torch.uint8).numpy())
    with pytest.raises(InputError, match="unknown sample 'nope'"):
        logic.sample_image("nope")


# --- running methods -------------------------------------------------------------------


def test_method_names_are_the_available_methods_in_display_order() -> None:
    names = logic.method_names()
    infos = [neuromask.method_info(n) for n in neuromask.methods()]
    assert set(names) == {i.name for i in infos if i.available}
    assert names[0] == "neuromask"
    assert [neuromask.method_info(n).order for n in names] == sorted(neuromask.method_info(n).order for n in names)


def test_top_classes_are_the_softmax_in_order(shared: LoadedModel, triangle) -> None:
    inputs, _, _ = triangle
    top = logic.top_classes(shared, inputs)
    probs = torch.softmax(shared.module(inputs), 1)[0]
    assert [i for i, _, _ in top] == probs.argsort(descending=True).tolist()  # 2 classes: both, best first
    assert [lab for _, lab, _ in top] == [shared.labels[i] for i, _, _ in top]
    assert sum(p for _, _, p in top) == pytest.approx(1.0, abs=1e-5)


def test_neuromask_run_reports_progress_history_and_consistent_scores(shared: LoadedModel, triangle) -> None:
    inputs, _, evidence = triangle
    calls: list[tuple[int, int]] = []
    before = model_state(shared.module)
    r = _on_worker(
        logic.run_method, shared, inputs, 0, "neuromask", {"steps": 20}, progress=lambda d, t: calls.append((d, t))
    )
    assert_same_state(before, model_state(shared.module))
    assert calls == [(k, 20) for k in range(1, 21)]
    assert r.kind == "mask" and r.is_mask and r.attribution.shape == (32, 32)
    # 20 steps / 20 frames: every step, and the final mask last.
    assert r.history_steps == list(range(20)) + [20]
    np.testing.assert_allclose(r.history[-1], r.attribution, atol=1e-6)
    assert r.scores["mask_area"] == pytest.approx(float(r.attribution.mean()), abs=1e-6)
    # NeuroMask reports p(target) on its own masked input (blurred background, sigma 10);
    # the metric recomputes it independently with the same background.
    own = _on_worker(neuromask.explain, shared, inputs, target=0, method="neuromask", steps=20).extras[
        "masked_probability"
    ]
    assert r.scores["masked_probability"] == pytest.approx(float(own[0]), abs=1e-4)
    assert 0 <= r.scores["deletion"] <= 1 and 0 <= r.scores["insertion"] <= 1
    assert "progress" not in r.params and r.params["steps"] == 20


def test_a_gradient_map_has_no_mask_scores_and_no_progress(shared: LoadedModel, triangle) -> None:
    inputs, _, _ = triangle
    calls: list[tuple[int, int]] = []
    r = _on_worker(logic.run_method, shared, inputs, 1, "saliency", progress=lambda d, t: calls.append((d, t)))
    assert calls == [] and r.history is None and not r.is_mask
    assert set(r.scores) == {"deletion", "insertion", "seconds"}
    direct = neuromask.explain(shared, inputs, target=1, method="saliency").attribution[0]
    np.testing.assert_allclose(r.attribution, direct.numpy(), atol=1e-6)


def test_two_sessions_at_once_on_one_shared_model_get_what_each_gets_alone(shared: LoadedModel, triangle) -> None:
    inputs, _, _ = triangle
    alone = {t: logic.run_method(shared, inputs, t, "gradcam", with_scores=False).attribution for t in (0, 1)}
    before = model_state(shared.module)
    got: dict[int, list[np.ndarray]] = {0: [], 1: []}

    def session(t: int) -> None:  # what each session's script thread does
        for _ in range(3):
            got[t].append(
                logic.submit(logic.run_method, shared, inputs, t, "gradcam", with_scores=False).result().attribution
            )

    threads = [threading.Thread(target=session, args=(t,)) for t in (0, 1)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for t in (0, 1):
        assert len(got[t]) == 3
        for attribution in got[t]:
            np.testing.assert_allclose(attribution, alone[t], atol=1e-6)
    assert_same_state(before, model_state(shared.module))


def test_runs_start_each_key_once_and_collect_results_and_failures(shared: LoadedModel, triangle) -> None:
    inputs, _, _ = triangle
    runs = logic.Runs()
    runs.start("a", shared, inputs, 0, "neuromask", {"steps": 10})
    first = runs.running["a"]
    runs.start("a", shared, inputs, 0, "neuromask", {"steps": 10})  # already running: nothing new
    assert runs.running["a"] is first
    runs.start("bad", shared, inputs, 0, "neuromask", {"steps": -1})
    first.result()
    runs.running["bad"].exception()
    runs.collect()
    assert runs.running == {}
    assert runs.results["a"].params["steps"] == 10 and runs.progress["a"] == (10, 10)
    assert runs.failures["bad"] == "neuromask failed: InputError: steps must be >= 0; got -1"
    runs.start("a", shared, inputs, 0, "neuromask", {"steps": 10})  # finished: nothing new
    assert runs.running == {}


# --- colours and the download ------------------------------------------------------------


def test_masks_share_one_scale_and_other_maps_are_stretched_each() -> None:
    mask = np.full((4, 4), 0.3, dtype=np.float32)
    np.testing.assert_array_equal(logic.display_values(mask, True), mask)  # 0.3 stays 0.3 in every mask
    ramp = np.arange(101, dtype=np.float32).reshape(1, 101) * 7.0
    shown = logic.display_values(ramp, False)
    assert shown[0, 1] == pytest.approx(0.0) and shown[0, 99] == pytest.approx(1.0)
    assert shown[0, 50] == pytest.approx(0.5)


def test_overlay_blends_half_and_enlarges_small_images() -> None:
    picture = np.zeros((32, 32, 3), dtype=np.float32)
    out = logic.overlay(picture, np.ones((32, 32), dtype=np.float32), cmap="gray")
    assert out.shape == (256, 256, 3)
    assert np.all(out == 128)  # half of white over black
    np.testing.assert_array_equal(logic.overlay(picture), np.zeros((256, 256, 3), dtype=np.uint8))


def test_the_archive_holds_every_map_and_the_record(shared: LoadedModel, triangle) -> None:
    inputs, picture, _ = triangle
    results = [
        _on_worker(logic.run_method, shared, inputs, 0, m, {"steps": 5} if m == "neuromask" else {}, image="t.png")
        for m in ("neuromask", "gradcam")
    ]
    with zipfile.ZipFile(io.BytesIO(logic.results_archive(picture, results))) as zf:
        assert sorted(zf.namelist()) == sorted(
            ["image.png"] + [f"t.{m}.{suffix}" for m in ("neuromask", "gradcam") for suffix in ("npy", "png", "json")]
        )
        for r in results:
            np.testing.assert_array_equal(np.load(zf.open(f"t.{r.method}.npy")), r.attribution)
        records = {m: json.loads(zf.read(f"t.{m}.json")) for m in ("neuromask", "gradcam")}
        image = np.asarray(Image.open(zf.open("image.png")))
    # The record neuromask explain writes: the same keys, the options used, the scores.
    assert set(records["gradcam"]) == {
        "image", "model", "method", "target", "label", "probability", "masked_probability", "mask_mean",
        "seconds", "params", "scores",
    }  # fmt: skip
    assert records["gradcam"]["image"] == "t.png" and records["gradcam"]["target"] == 0
    assert records["gradcam"]["masked_probability"] is None
    assert records["neuromask"]["params"]["steps"] == 5 and records["neuromask"]["masked_probability"] is not None
    assert records["neuromask"]["scores"] == pytest.approx(
        {k: v for k, v in results[0].scores.items() if k != "seconds"}
    )
    np.testing.assert_array_equal(image, (picture * 255).round().astype(np.uint8))


# --- the Results page -----------------------------------------------------------------------


def test_a_benchmark_folder_gives_the_means_of_its_rows() -> None:
    found = logic.open_results(BENCHMARK)
    latest: dict[tuple, dict] = {}
    # The committed run is archived as rows.jsonl.gz (a live rows.jsonl, if any, comes after it).
    lines = gzip.decompress((BENCHMARK / "rows.jsonl.gz").read_bytes()).decode().splitlines()
    if (BENCHMARK / "rows.jsonl").exists():
        lines += (BENCHMARK / "rows.jsonl").read_text().splitlines()
    for line in lines:
        row = json.loads(line)
        # A row's key includes its configuration (the resolved options and the suite).
        latest[(row["group"], row["method"], row["image"], row["metric"], row.get("config"))] = row
    assert len(found.rows) == len(latest)
    assert found.machine == json.loads((BENCHMARK / "machine.json").read_text())
    tables = dict(logic.benchmark_tables(found.rows))
    assert set(tables) == {k[0] for k in latest}
    values = [
        r["value"]
        for k, r in latest.items()
        if k[:2] == ("triangles_squares-cnn", "gradcam")
        and k[3] == "deletion"
        and r["status"] == "ok"
        and r["value"] is not None
    ]
    assert tables["triangles_squares-cnn"].loc["gradcam", "deletion"] == pytest.approx(float(np.mean(values)))


def test_a_dataset_run_folder_gives_counts_and_median_seconds(tmp_path: Path) -> None:
    import pandas as pd

    pd.DataFrame(
        {
            "image": ["a.png", "b.png", "c.png", "a.png", "b.png"],
            "method": ["gradcam"] * 3 + ["neuromask"] * 2,
            "status": ["ok", "ok", "failed", "ok", "ok"],
            "target": [1, 2, -1, 1, 2],
            "seconds": [1.0, 3.0, 50.0, 10.0, 20.0],
            "error": ["", "", "ImageLoadError: corrupt", "", ""],
        }
    ).to_parquet(tmp_path / "results.parquet")
    found = logic.open_results(tmp_path)
    assert found.rows is None
    summary = logic.run_summary(found.run)
    assert summary.loc["gradcam", "ok"] == 2 and summary.loc["gradcam", "failed"] == 1
    assert summary.loc["neuromask", "failed"] == 0
    assert summary.loc["gradcam", "median seconds"] == 2.0  # the failed 50 s row is left out
    assert summary.loc["neuromask", "median seconds"] == 15.0


def test_a_folder_without_results_is_one_message(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="holds neither rows.jsonl"):
        logic.open_results(tmp_path)
    with pytest.raises(InputError, match="is not a folder"):
        logic.open_results(tmp_path / "missing")
