"""The shipped small classifiers: registered by name, accurate on a fresh seeded test set."""

from __future__ import annotations

import pytest
import torch

import neuromask
from neuromask import datasets
from neuromask.models import (
    MODELS,
    shipped,  # noqa: F401  (registers the models)
)
from neuromask.models.binary import BinaryConv2d
from neuromask.models.train import TEST_START, evaluate

# A seed no shipped model was trained or tested with, and a small test set.
SEED, N = 12345, 500
# The goals for the full-precision models; the binarized twins must stay within 5 points.
GOALS = {"triangles_squares": 0.99, "counting": 0.95, "shapes_on_texture": 0.95}


@pytest.fixture(scope="module")
def accuracies() -> dict[str, float]:
    result = {}
    for dataset in GOALS:
        test = datasets.generate(dataset, N, seed=SEED, start=TEST_START)
        for arch in ("cnn", "bnn", "vit"):
            model = MODELS.get(f"{dataset}-{arch}")()
            result[f"{dataset}-{arch}"] = evaluate(model.module, test.images, test.labels)
    return result


def test_registered() -> None:
    names = set(MODELS.names())
    assert {f"{d}-{a}" for d in GOALS for a in ("cnn", "bnn", "vit")} <= names


@pytest.mark.parametrize("dataset", list(GOALS))
def test_accuracy_goals(accuracies: dict[str, float], dataset: str) -> None:
    cnn, bnn = accuracies[f"{dataset}-cnn"], accuracies[f"{dataset}-bnn"]
    assert cnn >= GOALS[dataset], f"{dataset}-cnn: {cnn:.3f}"
    assert bnn >= cnn - 0.05, f"{dataset}-bnn: {bnn:.3f} against the cnn's {cnn:.3f}"


@pytest.mark.parametrize("dataset", list(GOALS))
def test_vit_within_two_points_of_the_cnn(accuracies: dict[str, float], dataset: str) -> None:
    """The issue's goal for the transformer twin, re-measured on a seed neither model saw."""
    cnn, vit = accuracies[f"{dataset}-cnn"], accuracies[f"{dataset}-vit"]
    assert vit >= cnn - 0.02, f"{dataset}-vit: {vit:.3f} against the cnn's {cnn:.3f}"


@pytest.mark.parametrize("name", ["counting-cnn", "shapes_on_texture-bnn"])
def test_loaded_model(name: str) -> None:
    loaded = MODELS.get(name)()
    dataset = name.rsplit("-", 1)[0]
    assert loaded.labels == datasets.class_names(dataset)
    assert loaded.channels == 1 and loaded.mean is None and loaded.resize == "stretch"
    assert not loaded.module.training
    data = datasets.generate(dataset, 2, seed=SEED)
    assert loaded.input_size == tuple(data.images.shape[-2:])
    assert loaded.module(data.images).shape == (2, len(loaded.labels))


def test_shipped_bnn_is_binary() -> None:
    model = MODELS.get("triangles_squares-bnn")().module
    seen = []
    hooks = [
        m.register_forward_pre_hook(lambda mod, inp: seen.append(inp[0].unique()))
        for m in model.modules()
        if isinstance(m, BinaryConv2d)
    ]
    try:
        with torch.no_grad():
            model(datasets.generate("triangles_squares", 8, seed=SEED).images)
    finally:
        for h in hooks:
            h.remove()
    assert len(seen) == 3 and all(set(u.tolist()) == {-1.0, 1.0} for u in seen)


@pytest.mark.parametrize("method", ["saliency", "gradcam"])
def test_explainers_run_on_shipped_models(method: str) -> None:
    if method not in neuromask.methods():
        pytest.skip(f"method {method} is not registered")
    data = datasets.generate("counting", 2, seed=SEED)
    for arch in ("cnn", "bnn"):
        model = MODELS.get(f"counting-{arch}")().module
        explanation = neuromask.explain(model, data.images, method=method)
        assert explanation.attribution.shape == (2, 32, 32)


def test_every_weight_file_is_a_shipped_model() -> None:
    from importlib import resources

    from neuromask.models.shipped import shipped_models

    folder = resources.files("neuromask").joinpath("data/weights")
    files = sorted(e.name[:-3] for e in folder.iterdir() if e.name.endswith(".pt"))
    assert shipped_models() == files and set(files) <= set(MODELS.names())
    assert shipped_models("bnn") == [f for f in files if f.endswith("-bnn")]
    assert MODELS.entry("counting-cnn").meta["dataset"] == "counting"


def test_loading_a_shipped_model_imports_no_training_code() -> None:
    import subprocess
    import sys

    code = (
        "import sys, neuromask; neuromask.load_model('triangles_squares-bnn'); "
        "print(sorted(m for m in sys.modules if m.startswith('neuromask.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "neuromask.models.checkpoint" in out and "neuromask.models.train" not in out
    assert "neuromask.datasets" not in out
