"""One request, every entry point: the same options recorded and the same map.

Occlusion on the shipped 32 px ``triangles_squares-cnn``, on one image, through
``neuromask.explain()``, ``neuromask explain``, ``neuromask compare``, ``neuromask
explain-dataset`` (its table and its ``--per-image`` files), the benchmark runner, the BNN
study and the dashboard. Each must run with what :func:`neuromask.resolve_options` gives for
32 px: occlusion's window and stride are given for 224 px (32 and 16), so at 32 px they are
round(32 * 32 / 224) = 5 and round(16 * 32 / 224) = 2. Before the options were resolved in
one place, ``explain()``, ``explain-dataset`` and the dashboard ran 32 / 16 (one square over
the whole image) while ``neuromask explain`` ran 5 / 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import neuromask
from helpers import one_thread  # noqa: F401 - autouse fixture
from neuromask.cli.main import main

MODEL = "triangles_squares-cnn"
METHOD = "occlusion"


def _json(value: object) -> object:
    """As the value reads back from a JSON file (tuples become lists)."""
    return json.loads(json.dumps(value))


@pytest.fixture(scope="module")
def request_case(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The model, one 32 x 32 image file (in a folder of its own) and the options every entry point must use."""
    from neuromask import datasets

    folder = tmp_path_factory.mktemp("images")
    pixels = datasets.generate("triangles_squares", 1, seed=3).images[0, 0]  # (32, 32) in [0, 1]
    path = folder / "shape.png"
    Image.fromarray((pixels * 255).round().to(torch.uint8).numpy()).save(path)
    model = neuromask.load_model(MODEL)
    inputs, _ = neuromask.preprocess_image(model, neuromask.load_image(path))
    expected = neuromask.resolve_options(METHOD, {}, size=model.input_size, model=model)
    return {"model": model, "path": path, "inputs": inputs, "expected": expected}


def test_the_options_are_scaled_to_32_px(request_case: dict) -> None:
    model, expected = request_case["model"], request_case["expected"]
    assert model.input_size == (32, 32)
    assert neuromask.method_options(METHOD)["window"] == 32 and neuromask.method_options(METHOD)["stride"] == 16
    assert expected["window"] == 5 and expected["stride"] == 2


def test_every_entry_point_records_the_same_options_and_makes_the_same_map(request_case: dict, tmp_path: Path) -> None:
    model, path, inputs, expected = (request_case[k] for k in ("model", "path", "inputs", "expected"))
    recorded: dict[str, object] = {}
    maps: dict[str, np.ndarray] = {}

    # Python
    e = neuromask.explain(model, inputs, method=METHOD)
    recorded["explain()"], maps["explain()"] = e.params, e.attribution[0].numpy()

    # neuromask explain
    assert main(["explain", str(path), "--model", MODEL, "--method", METHOD, "--out", str(tmp_path / "cli")]) == 0
    record = json.loads((tmp_path / "cli" / f"shape.{METHOD}.json").read_text())
    recorded["neuromask explain"], maps["neuromask explain"] = (
        record["params"],
        np.load(tmp_path / "cli" / f"shape.{METHOD}.npy"),
    )

    # neuromask compare
    out = tmp_path / "compare"
    assert main(["compare", str(path), "--model", MODEL, "--methods", METHOD, "--out", str(out), "--quiet"]) == 0
    maps["neuromask compare"] = np.load(out / f"shape.{METHOD}.npy")

    # neuromask explain-dataset
    out = tmp_path / "run"
    argv = ["explain-dataset", str(path.parent), "--model", MODEL, "--methods", METHOD, "--out", str(out)]
    assert main([*argv, "--per-image", "--quiet"]) == 0
    from neuromask.runs import RunResults

    results = RunResults(out)
    row = results.table.to_pylist()[0]
    recorded["explain-dataset (results.parquet)"] = json.loads(row["options"])["options"]
    maps["explain-dataset"] = results.map("shape.png", METHOD)
    per_image = json.loads((out / "per_image" / f"shape.png.{METHOD}.json").read_text())
    recorded["explain-dataset --per-image"] = per_image["params"]
    maps["explain-dataset --per-image"] = np.load(out / "per_image" / f"shape.png.{METHOD}.npy")

    # the benchmark runner, on the same image
    from neuromask.bench import RowStore
    from neuromask.bench.runner import OPTIONS_FILE, Group, _metrics_of, run_group
    from neuromask.bench.suites import Suite

    suite = Suite(name="one", datasets=(), dataset_images=1, photos=(), composite_models=(), categories={})
    group = Group(
        name="one",
        part="datasets",
        model=model,
        inputs=inputs[None],
        images=["shape"],
        target=e.target,
        evidence=None,
        metrics=_metrics_of(("complexity",)),
    )
    out = tmp_path / "bench"
    assert run_group(group, [METHOD], suite, RowStore(out / "rows.jsonl"), out) == 0
    (folder,) = (out / "maps" / "one" / METHOD).iterdir()
    recorded["benchmark"] = json.loads((folder / OPTIONS_FILE).read_text())
    maps["benchmark"] = np.load(folder / "shape.npy")

    # the BNN study's explanation and the options it records
    from neuromask.studies import bnn

    d = bnn._Dataset("one", inputs[None], e.target, torch.zeros(1, 32, 32, dtype=torch.bool), {})
    recorded["study bnn"] = bnn._options(d, METHOD)
    maps["study bnn"] = bnn._explain(model.module, inputs[None], e.target, METHOD)[0]

    # the dashboard
    from neuromask.dashboard import logic

    picture_inputs, _ = logic.prepare(model, Image.open(path))
    result = logic.run_method(model, picture_inputs, int(e.target[0]), METHOD, with_scores=False, image="shape.png")
    recorded["dashboard"], maps["dashboard"] = result.params, result.attribution
    recorded["dashboard (record)"] = result.record["params"]

    want = _json(expected)
    # The study explains a bare module (no LoadedModel): the model's mean and std are None
    # here (a grey model without normalisation), so its options are the same too.
    assert {name: _json(options) for name, options in recorded.items()} == {name: want for name in recorded}
    for name, m in maps.items():
        np.testing.assert_allclose(m, maps["explain()"], rtol=1e-5, atol=1e-6, err_msg=name)
    # One record format: neuromask explain's, explain-dataset --per-image's and the dashboard's
    # agree on every field but the image's name, the seconds and the scores asked for.
    same = {k: v for k, v in record.items() if k not in ("image", "seconds")}
    assert {k: v for k, v in per_image.items() if k not in ("image", "seconds")} == same
    assert {k: v for k, v in _json(result.record).items() if k not in ("image", "seconds")} == same
    assert record["target"] == int(e.target[0]) and record["masked_probability"] is None
