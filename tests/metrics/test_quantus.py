"""Cross-checks against Quantus 0.6.0 on identical inputs, where Quantus has the metric.

Quantus is a test-only dependency, imported with ``helpers.import_quantus``.

Single-channel images keep the comparison to what both implement the same way (Quantus
flattens channels into features for its perturbations). Maps have distinct values so
that the two sorts agree on the order. Not compared: model-parameter randomisation
(Quantus re-initialises layers with the global RNG, so the random models differ) and
insertion (Quantus has no insertion curve from a blurred image).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import GreyCNN, import_quantus
from neuromask.metrics import complexity, faithfulness, localisation

N, H, W = 3, 16, 16


quantus = import_quantus()


@pytest.fixture
def batch() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    evidence = np.zeros((N, 1, H, W), dtype=np.float32)
    evidence[:, :, 4:10, 3:9] = 1
    attribution = rng.random((N, 1, H, W)).astype(np.float32)
    attribution[1] += 2 * evidence[1]  # one map that localises well
    return {
        "x_batch": rng.random((N, 1, H, W)).astype(np.float32),
        "y_batch": np.array([0, 1, 0]),
        "a_batch": attribution,
        "s_batch": evidence,
    }


def _plain(metric: type, **kwargs: object) -> object:
    return metric(disable_warnings=True, abs=False, normalise=False, return_aggregate=False, **kwargs)


def _ours(batch: dict[str, np.ndarray]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    return (
        torch.from_numpy(batch["x_batch"]),
        torch.from_numpy(batch["y_batch"]),
        torch.from_numpy(batch["a_batch"][:, 0]),
        torch.from_numpy(batch["s_batch"][:, 0] > 0),
    )


def test_localisation_and_sparseness_match_quantus(batch: dict[str, np.ndarray]) -> None:
    _, _, a, evidence = _ours(batch)
    pairs = [
        (quantus.PointingGame, lambda: localisation.pointing_game(a, evidence, tolerance=0)),
        (quantus.RelevanceMassAccuracy, lambda: localisation.energy_pointing_game(a, evidence)),
        (quantus.AUC, lambda: localisation.auroc(a, evidence)),
    ]
    for metric, ours in pairs:
        theirs = np.asarray(_plain(metric)(model=None, **batch), dtype=np.float64)
        assert ours().numpy() == pytest.approx(theirs, abs=1e-5), metric.__name__
    sparseness = quantus.Sparseness(disable_warnings=True, abs=True, normalise=False, return_aggregate=False)
    theirs = np.asarray(sparseness(model=None, **batch), dtype=np.float64)
    assert complexity.gini(a).numpy() == pytest.approx(theirs, abs=1e-5)


def test_deletion_curve_matches_quantus_pixel_flipping(batch: dict[str, np.ndarray]) -> None:
    model = GreyCNN().eval()
    x, y, a, _ = _ours(batch)
    flipping = _plain(quantus.PixelFlipping, features_in_step=16, perturb_baseline=0.0)
    theirs = np.asarray(flipping(model=model, softmax=True, device="cpu", **batch))
    _, probs = faithfulness.deletion_curve(model, x, y, a, pixels_per_step=16)
    # Quantus records the states after each step; ours starts with the intact image.
    assert probs[:, 1:].numpy() == pytest.approx(theirs, abs=1e-5)


def test_region_perturbation_matches_quantus(batch: dict[str, np.ndarray]) -> None:
    model = GreyCNN().eval()
    x, y, a, _ = _ours(batch)
    regions = 10
    perturbation = _plain(quantus.RegionPerturbation, patch_size=4, regions_evaluation=regions, perturb_baseline=0.0)
    theirs = np.asarray(perturbation(model=model, softmax=True, device="cpu", **batch))
    curve = faithfulness.region_perturbation_curve(model, x, y, a, patch_size=4, regions=regions, perturbation=0.0)
    assert curve[:, 1:].numpy() == pytest.approx(theirs, abs=1e-5)
    # AOPC averages over the L + 1 points, the unperturbed (zero drop) one included.
    aopc = faithfulness.region_perturbation(model, x, y, a, patch_size=4, regions=regions, perturbation=0.0)
    assert aopc.numpy() == pytest.approx(theirs.sum(axis=1) / (regions + 1), abs=1e-5)
