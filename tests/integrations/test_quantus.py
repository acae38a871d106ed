"""neuromask.integrations.quantus.explain_func: the maps of neuromask.explain in Quantus's
calling convention, real Quantus 0.6 metrics computing every method's maps through it,
and Quantus's metrics scoring NeuroMask with the same figures as neuromask.metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import neuromask
from explainers._fixtures import fast_options, one_thread  # noqa: F401 - autouse fixture
from helpers import import_quantus
from neuromask.datasets import generate
from neuromask.errors import InputError, TargetError, UnknownNameError
from neuromask.integrations.quantus import explain_func
from neuromask.metrics import faithfulness, localisation

quantus = import_quantus()

METHODS = neuromask.methods(available=True)
MODEL = "triangles_squares-cnn"


@pytest.fixture(scope="module")
def model() -> neuromask.LoadedModel:
    return neuromask.load_model(MODEL)


@pytest.fixture(scope="module")
def data(model: neuromask.LoadedModel) -> dict[str, np.ndarray]:
    """Six images as a Quantus user holds them: float64 (N, 1, H, W), int64 labels, evidence (N, 1, H, W)."""
    d = generate("triangles_squares", 6, seed=11)
    return {
        "x_batch": d.images.double().numpy(),
        "y_batch": d.labels.numpy(),
        "s_batch": d.evidence.numpy()[:, None].astype(np.float32),
    }


def test_explain_func_gives_explains_map_as_numpy_float32(model: neuromask.LoadedModel, data: dict) -> None:
    x, y = data["x_batch"], data["y_batch"]
    expected = neuromask.explain(model, torch.from_numpy(x).float(), target=y.tolist(), method="gradcam")
    out = explain_func(model=model.module, inputs=x, targets=y, method="gradcam", device="cpu")
    assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == (6, 1, 32, 32)
    np.testing.assert_array_equal(out[:, 0], expected.attribution.numpy())
    # The same from torch tensors, int32 targets, a list, one int for all, None (top-1), a LoadedModel.
    same = [
        explain_func(model.module, torch.from_numpy(x), torch.from_numpy(y), method="gradcam"),
        explain_func(model.module, x.astype(np.float32), y.astype(np.int32), method="gradcam"),
        explain_func(model, x, y.tolist(), method="gradcam"),
    ]
    for other in same:
        np.testing.assert_array_equal(other, out)
    ones = neuromask.explain(model, torch.from_numpy(x).float(), target=1, method="gradcam").attribution
    np.testing.assert_array_equal(explain_func(model.module, x, 1, method="gradcam")[:, 0], ones.numpy())
    top1 = neuromask.explain(model, torch.from_numpy(x).float(), method="gradcam").attribution
    np.testing.assert_array_equal(explain_func(model.module, x, None, method="gradcam")[:, 0], top1.numpy())


def test_explain_func_refuses_bad_input_by_name(model: neuromask.LoadedModel, data: dict) -> None:
    x, y = data["x_batch"], data["y_batch"]
    with pytest.raises(TargetError, match="integer class indices"):
        explain_func(model.module, x, y.astype(np.float64))
    with pytest.raises(InputError, match="floating-point"):
        explain_func(model.module, (x * 255).astype(np.uint8), y)
    with pytest.raises(InputError, match="numpy array or a torch.Tensor"):
        explain_func(model.module, x.tolist(), y)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="3 channels|1 channels"):
        explain_func(model.module, np.repeat(x, 3, axis=1), y)
    with pytest.raises(UnknownNameError, match="no option 'stepz'"):
        explain_func(model.module, x, y, stepz=3)


@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")  # Quantus's 0 / 0
@pytest.mark.parametrize("method", METHODS)
def test_every_method_scored_by_quantus_through_explain_func(
    method: str, model: neuromask.LoadedModel, data: dict
) -> None:
    """Quantus computes the maps itself (a_batch=None) and scores them with its defaults
    (absolute value, normalised by the maximum); the same metric on explain()'s maps given
    as a_batch must give the same scores."""
    options = {"method": method, **fast_options(method, model.input_size)}
    metric = quantus.RelevanceMassAccuracy(disable_warnings=True, display_progressbar=False)
    # A copy: Quantus adds device= to the dict it is given.
    through = metric(
        model=model.module, **data, explain_func=explain_func, explain_func_kwargs=dict(options), device="cpu"
    )
    x = torch.from_numpy(data["x_batch"]).float()
    maps = neuromask.explain(model, x, target=data["y_batch"].tolist(), **options).attribution
    given = metric(model=model.module, **data, a_batch=maps.numpy()[:, None], device="cpu")
    np.testing.assert_allclose(through, given, rtol=0, atol=1e-6)
    # Undefined (0 / 0) only for a map that is zero everywhere.
    assert np.array_equal(np.isnan(through), (maps == 0).flatten(1).all(1).numpy())


@pytest.mark.parametrize("method", ["center", "random", "saliency"])
def test_quantus_max_sensitivity_calls_explain_func_on_perturbed_inputs(
    method: str, model: neuromask.LoadedModel, data: dict
) -> None:
    """A map that ignores the input (center, seeded random) has sensitivity exactly 0;
    gradients move with the input."""
    metric = quantus.MaxSensitivity(nr_samples=2, disable_warnings=True, display_progressbar=False)
    options = {"method": method, **fast_options(method, model.input_size)}
    scores = np.asarray(
        metric(model=model.module, **data, explain_func=explain_func, explain_func_kwargs=options, device="cpu")
    )
    assert scores.shape == (6,)
    if method == "saliency":
        assert (scores > 0).all()
    else:
        np.testing.assert_array_equal(scores, 0.0)


def test_quantus_metrics_score_neuromask_as_neuromask_metrics_do(model: neuromask.LoadedModel, data: dict) -> None:
    """Quantus's metric through explain_func against the library's metric of the same
    definition on explain()'s maps: benchmarks/integrations_agreement.py prints the same
    pairs on held-out images of all three datasets."""
    steps = 30
    x, y = torch.from_numpy(data["x_batch"]).float(), torch.from_numpy(data["y_batch"])
    evidence = torch.from_numpy(data["s_batch"][:, 0] > 0)
    maps = neuromask.explain(model, x, target=y, steps=steps).attribution
    kwargs = {"explain_func": explain_func, "explain_func_kwargs": {"method": "neuromask", "steps": steps}}
    quiet = {"disable_warnings": True, "display_progressbar": False}
    curve = faithfulness.region_perturbation_curve(model.module, x, y, maps, patch_size=4, regions=8, perturbation=0)
    pairs = [
        (quantus.RelevanceMassAccuracy(**quiet), localisation.energy_pointing_game(maps, evidence)),
        (quantus.AUC(**quiet), localisation.auroc(maps, evidence)),
        (quantus.RegionPerturbation(patch_size=4, regions_evaluation=8, perturb_baseline=0.0, **quiet), curve[:, 1:]),
    ]
    for metric, ours in pairs:
        theirs = np.asarray(metric(model=model.module, **data, softmax=True, device="cpu", **kwargs))
        np.testing.assert_allclose(theirs, ours.double().numpy(), rtol=0, atol=1e-6, err_msg=type(metric).__name__)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_explain_func_with_a_model_on_cuda(model: neuromask.LoadedModel, data: dict) -> None:
    x, y = data["x_batch"], data["y_batch"]
    on_cpu = explain_func(model.module, x, y, method="saliency")
    module = neuromask.load_model(MODEL, device="cuda").module
    on_cuda = explain_func(module, x, y, method="saliency", device="cuda:0")
    assert isinstance(on_cuda, np.ndarray) and on_cuda.dtype == np.float32
    np.testing.assert_allclose(on_cuda, on_cpu, rtol=1e-4, atol=1e-6)
