"""Every row of an evaluation that Quantus can compute, recomputed by Quantus 0.6.0 from the same
stored maps, masks and model: energy, AUROC, equal-area IoU, the pointing game and deletion.

Randomisation is compared with Quantus's model-parameter randomisation test (MPRT) given the
same randomised network: Quantus re-draws layers with their ``reset_parameters`` under the
global RNG and we draw every weight from the layer's own mean and standard deviation, so the
draws differ by design; what is compared is everything else (the class explained again, the
absolute maps, the map brought to the model's input, Spearman's correlation).

Not compared: insertion (Quantus has no insertion curve) and ROAD's curves
(``tests/metrics/test_road.py`` checks the imputation itself against Quantus's).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import neuromask
from dataset_runs import MODEL, write_image_folder
from helpers import import_quantus, one_thread  # noqa: F401 (autouse fixture)
from neuromask.evaluation import read_scores
from neuromask.metrics.sanity import randomised_copy
from neuromask.runs import RunResults

quantus = import_quantus()
STEP = 8  # pixels per deletion step


def test_evaluate_rows_equal_quantus_on_the_stored_maps(tmp_path: Path) -> None:
    ids = write_image_folder(tmp_path / "images", 4, masks=tmp_path / "masks")
    metrics = ["energy", "auroc", "eq_iou", "pointing", "deletion"]
    result = neuromask.evaluate(
        tmp_path / "images", MODEL, ["saliency"], tmp_path / "out", masks=tmp_path / "masks", metrics=metrics,
        metric_options={"pointing": {"tolerance": 0}, "deletion": {"pixels_per_step": STEP}}, quiet=True,
    )  # fmt: skip
    assert result.ok
    rows = {(r["image"], r["metric"]): r for r in read_scores(tmp_path / "out").to_pylist()}
    run = RunResults(tmp_path / "out")
    model = neuromask.load_model(MODEL)
    x = np.stack([np.asarray(Image.open(tmp_path / "images" / i), np.float32)[None] / 255 for i in ids])
    a = np.stack([run.map(i, "saliency")[None] for i in ids])
    s = np.stack([(np.asarray(Image.open(tmp_path / "masks" / i)) > 0)[None].astype(np.float32) for i in ids])
    y = np.array([rows[(i, "energy")]["target"] for i in ids])
    batch = {"x_batch": x, "y_batch": y, "a_batch": a, "s_batch": s}

    def plain(metric: type, **kwargs: object) -> np.ndarray:
        measure = metric(disable_warnings=True, abs=False, normalise=False, return_aggregate=False, **kwargs)
        return np.asarray(measure(model=model.module, device="cpu", **kwargs.pop("call", {}), **batch), np.float64)

    expected = {
        "energy": plain(quantus.RelevanceMassAccuracy),
        "auroc": plain(quantus.AUC),
        "pointing": plain(quantus.PointingGame),
    }
    rank_accuracy = plain(quantus.RelevanceRankAccuracy)  # |top-k ∩ object| / k with k = |object|
    expected["eq_iou"] = rank_accuracy / (2 - rank_accuracy)  # the IoU of two sets of k pixels
    # Quantus's pixel flipping gives the curve after each step; the AUC adds the intact image.
    flipping = quantus.PixelFlipping(
        disable_warnings=True, abs=False, normalise=False, return_aggregate=False, features_in_step=STEP,
        perturb_baseline=0.0,
    )  # fmt: skip
    curves = np.asarray(flipping(model=model.module, softmax=True, device="cpu", **batch), np.float64)
    with torch.no_grad():
        intact = model.module(torch.from_numpy(x)).softmax(1)[np.arange(len(ids)), y].double().numpy()
    full = np.concatenate([intact[:, None], curves], axis=1)
    expected["deletion"] = np.trapezoid(full, np.linspace(0, 1, full.shape[1]), axis=1)
    assert len(np.unique(a.reshape(len(ids), -1)[0])) > 0.9 * a[0].size  # few ties: the sorts agree
    for metric, values in expected.items():
        ours = np.array([rows[(i, metric)]["value"] for i in ids])
        np.testing.assert_allclose(ours, values, atol=1e-5, err_msg=metric)


def test_randomisation_rows_equal_quantus_mprt_on_the_same_random_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = write_image_folder(tmp_path / "images", 4)
    result = neuromask.evaluate(
        tmp_path / "images", MODEL, ["saliency"], tmp_path / "out", metrics=["randomisation"], quiet=True
    )
    assert result.ok
    rows = {r["image"]: r for r in read_scores(tmp_path / "out").to_pylist()}
    run = RunResults(tmp_path / "out")
    model = neuromask.load_model(MODEL)
    x = np.stack([np.asarray(Image.open(tmp_path / "images" / i), np.float32)[None] / 255 for i in ids])
    a = np.stack([run.map(i, "saliency")[None] for i in ids])
    y = np.array([rows[i]["target"] for i in ids])
    # Quantus's cascade, replaced by its last stop: the network with every layer randomised,
    # drawn as the metric draws it (its default seed, 0).
    random = randomised_copy(model.module, seed=0)
    pytorch_model = import_quantus("quantus.helpers.model.pytorch_model").PyTorchModel
    monkeypatch.setattr(
        pytorch_model, "get_random_layer_generator", lambda self, order="", seed=0: iter([("all", random)])
    )
    monkeypatch.setattr(pytorch_model, "random_layer_generator_length", property(lambda self: 1))

    def explain_func(model: torch.nn.Module, inputs: np.ndarray, targets: np.ndarray, **_: object) -> np.ndarray:
        maps = neuromask.explain(model, torch.as_tensor(inputs), torch.as_tensor(targets), method="saliency")
        return maps.attribution[:, None].numpy()

    mprt = quantus.MPRT(
        return_last_correlation=True, abs=True, normalise=False, return_aggregate=False, disable_warnings=True
    )
    expected = mprt(model=model.module, x_batch=x, y_batch=y, a_batch=a, explain_func=explain_func, device="cpu")
    ours = np.array([rows[i]["value"] for i in ids])
    assert np.ptp(ours) > 0.01  # the images' correlations differ: a row per image, not one number
    np.testing.assert_allclose(ours, np.asarray(expected, np.float64), atol=1e-5)
