"""Deletion, insertion and region perturbation on models whose answer is known by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from neuromask.errors import InputError
from neuromask.metrics.faithfulness import (
    deletion,
    deletion_curve,
    insertion,
    region_perturbation,
    region_perturbation_curve,
)

from .conftest import LinearProbModel, region_mask

H = W = 8
P = H * W
REGION = (2, 4, 2, 6)  # 2 rows x 4 cols = 8 pixels = two 2x2 patches
R = 8


def maps() -> dict[str, torch.Tensor]:
    inside = region_mask(H, W, REGION).float()[None]
    return {
        "perfect": inside,
        "inverted": 1 - inside,
        "uniform": torch.full((1, H, W), 0.5),
        "outside": (1 - inside) * torch.linspace(1, 2, P).view(1, H, W),
    }


def literal_curve(
    model: torch.nn.Module, start: torch.Tensor, end: torch.Tensor, order: list[int], per_step: int
) -> list[float]:
    """The protocol written out: change ``per_step`` pixels (all channels) at a time, evaluate each state."""
    x = start.clone()
    with torch.no_grad():
        probs = [float(model(x).softmax(1)[0, 0])]
        for s in range(0, len(order), per_step):
            for idx in order[s : s + per_step]:
                y, c = divmod(idx, W)
                x[0, :, y, c] = end[0, :, y, c]
            probs.append(float(model(x).softmax(1)[0, 0]))
    return probs


def trapezoid(probs: list[float]) -> float:
    dx = 1.0 / (len(probs) - 1)
    return sum((a + b) / 2 * dx for a, b in zip(probs[:-1], probs[1:]))


def descending_order(attribution: torch.Tensor) -> list[int]:
    """Most relevant first; ties in raster order (Python's sort is stable)."""
    flat = attribution.flatten().tolist()
    return sorted(range(len(flat)), key=lambda i: -flat[i])


def test_deletion_closed_forms() -> None:
    model = LinearProbModel(REGION)
    x = torch.ones(1, 3, H, W)
    m = maps()
    # p = (m + 1) / 3 with m the share of the region left; the region falls linearly
    # over R of the P steps: perfect first, inverted (and "outside") last.
    perfect = (1 + R / (2 * P)) / 3
    inverted = (1 + (P - R) / P + R / (2 * P)) / 3
    assert deletion(model, x, 0, m["perfect"], pixels_per_step=1).item() == pytest.approx(perfect, abs=1e-6)
    assert deletion(model, x, 0, m["inverted"], pixels_per_step=1).item() == pytest.approx(inverted, abs=1e-6)
    assert deletion(model, x, 0, m["outside"], pixels_per_step=1).item() == pytest.approx(inverted, abs=1e-6)


@pytest.mark.parametrize("name", ["perfect", "inverted", "uniform", "outside"])
@pytest.mark.parametrize("per_step", [1, 3, 7])
def test_deletion_matches_literal_protocol(name: str, per_step: int) -> None:
    model = LinearProbModel(REGION)
    x = torch.rand(1, 3, H, W, generator=torch.Generator().manual_seed(0)) + 0.5
    a = maps()[name]
    expected_curve = literal_curve(model, x, torch.zeros_like(x), descending_order(a), per_step)
    fractions, probs = deletion_curve(model, x, 0, a, pixels_per_step=per_step)
    assert probs[0].tolist() == pytest.approx(expected_curve, abs=1e-6)
    # Trapezoid over the exact fractions (the last step may be partial).
    assert fractions[-1].item() == 1.0
    expected_auc = float(np.trapezoid(expected_curve, fractions.numpy()))
    assert deletion(model, x, 0, a, pixels_per_step=per_step).item() == pytest.approx(expected_auc, abs=1e-6)


def test_insertion_matches_literal_protocol_with_an_independent_blur() -> None:
    model = LinearProbModel(REGION)
    x = region_mask(H, W, REGION).float().expand(1, 3, H, W).clone()
    # Kernel 11 (radius 5), sigma 5, whole-sample reflection: scipy's "mirror" mode.
    blurred = torch.from_numpy(
        np.stack([gaussian_filter(x[0, c].double().numpy(), 5.0, mode="mirror", truncate=1.0) for c in range(3)])
    ).float()[None]
    scores = {}
    for name, a in maps().items():
        expected = trapezoid(literal_curve(model, blurred, x, descending_order(a), 1))
        scores[name] = insertion(model, x, 0, a, pixels_per_step=1).item()
        assert scores[name] == pytest.approx(expected, abs=1e-5)
    assert scores["perfect"] > scores["uniform"] > scores["inverted"]


def test_region_perturbation_closed_forms() -> None:
    model = LinearProbModel(REGION)
    x = torch.ones(1, 3, H, W)
    m = maps()
    # 16 patches of 2x2; the region is 2 of them. Removing a region patch lowers p by 1/6.
    perfect = region_perturbation(model, x, 0, m["perfect"], patch_size=2, regions=5, perturbation=0.0)
    assert perfect.item() == pytest.approx((1 / 6 + 4 * 2 / 6) / 6, abs=1e-6)
    inverted = region_perturbation(model, x, 0, m["inverted"], patch_size=2, regions=5, perturbation=0.0)
    assert inverted.item() == pytest.approx(0.0, abs=1e-6)
    # Uniform: patches in raster order; the region's are the 6th and 7th (ids 5 and 6).
    uniform = region_perturbation(model, x, 0, m["uniform"], patch_size=2, regions=16, perturbation=0.0)
    assert uniform.item() == pytest.approx((1 / 6 + 10 * 2 / 6) / 17, abs=1e-6)
    curve = region_perturbation_curve(model, x, 0, m["perfect"], patch_size=2, regions=5, perturbation=0.0)
    assert curve.shape == (1, 6)
    assert curve[0, 0].item() == 0.0


@pytest.mark.parametrize("channel", [0, 1, 2])
def test_every_colour_channel_is_perturbed(channel: int) -> None:
    """The Quantus / iNNvestigate bug: perturbing only channel 0 leaves a model that reads
    another channel untouched, and the scores would be those of a useless map."""
    model = LinearProbModel(REGION, channels=slice(channel, channel + 1))
    x = torch.ones(1, 3, H, W)
    a = maps()["perfect"]
    assert deletion(model, x, 0, a, pixels_per_step=1).item() == pytest.approx((1 + R / (2 * P)) / 3, abs=1e-6)
    drop = region_perturbation(model, x, 0, a, patch_size=2, regions=5, perturbation=0.0)
    assert drop.item() == pytest.approx((1 / 6 + 4 * 2 / 6) / 6, abs=1e-6)


def test_uniform_noise_is_seeded_and_changes_the_output(small_cnn: torch.nn.Module, images: torch.Tensor) -> None:
    a = torch.rand(2, 16, 16, generator=torch.Generator().manual_seed(2))
    first = region_perturbation(small_cnn, images, None, a, patch_size=4, regions=8, seed=3)
    again = region_perturbation(small_cnn, images, None, a, patch_size=4, regions=8, seed=3)
    other = region_perturbation(small_cnn, images, None, a, patch_size=4, regions=8, seed=4)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_batch_equals_images_one_by_one(small_cnn: torch.nn.Module, images: torch.Tensor) -> None:
    a = torch.rand(2, 16, 16, generator=torch.Generator().manual_seed(2))
    for metric in (deletion, insertion):
        batch = metric(small_cnn, images, [0, 1], a, pixels_per_step=4, batch_size=7)
        single = torch.cat([metric(small_cnn, images[i : i + 1], i, a[i : i + 1], pixels_per_step=4) for i in range(2)])
        assert torch.allclose(batch, single, atol=1e-6)


def test_model_left_as_found(small_cnn: torch.nn.Module, images: torch.Tensor) -> None:
    small_cnn.train()
    small_cnn.fc.weight.requires_grad_(False)
    state = {k: v.clone() for k, v in small_cnn.state_dict().items()}
    a = torch.rand(2, 16, 16, generator=torch.Generator().manual_seed(2))
    deletion(small_cnn, images, None, a)
    region_perturbation(small_cnn, images, None, a)
    assert small_cnn.training
    assert [p.requires_grad for p in small_cnn.parameters()] == [True, True, True, True, False, True]
    assert all(torch.equal(v, small_cnn.state_dict()[k]) for k, v in state.items())


def test_bad_input_names_the_problem(small_cnn: torch.nn.Module, images: torch.Tensor) -> None:
    with pytest.raises(InputError, match=r"attribution must be \(N, H, W\) = \(2, 16, 16\)"):
        deletion(small_cnn, images, None, torch.rand(2, 8, 8))
    with pytest.raises(InputError, match="NaN"):
        insertion(small_cnn, images, None, torch.full((2, 16, 16), float("nan")))
    with pytest.raises(InputError, match="pixels_per_step must be > 0"):
        deletion(small_cnn, images, None, torch.rand(2, 16, 16), pixels_per_step=0)
    with pytest.raises(InputError, match="perturbation must be"):
        region_perturbation(small_cnn, images, None, torch.rand(2, 16, 16), perturbation="gauss")
