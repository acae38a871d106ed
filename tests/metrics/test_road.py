"""ROAD's noisy linear imputation against a literal solve of its linear system, against
Quantus's implementation, and the deletion / insertion curves built on it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import GreyCNN, import_quantus
from neuromask.errors import InputError
from neuromask.metrics.faithfulness import deletion, deletion_curve, insertion_curve, noisy_linear_imputation

C, H, W = 2, 6, 5


def literal_imputation(image: np.ndarray, removed: np.ndarray) -> np.ndarray:
    """Rong et al.'s system written out pixel by pixel and solved densely.

    Unknown p: its value is the weighted mean of its neighbours that lie in the image
    (direct 1/6, diagonal 1/12), where a removed neighbour is itself an unknown.
    """
    weights = {(dy, dx): (1 / 12 if dy and dx else 1 / 6) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx}
    unknowns = [(y, x) for y in range(H) for x in range(W) if removed[y, x]]
    number = {p: k for k, p in enumerate(unknowns)}
    a = np.zeros((len(unknowns), len(unknowns)))
    b = np.zeros((len(unknowns), image.shape[0]))
    for k, (y, x) in enumerate(unknowns):
        for (dy, dx), w in weights.items():
            ny, nx = y + dy, x + dx
            if not (0 <= ny < H and 0 <= nx < W):
                continue
            a[k, k] += w
            if removed[ny, nx]:
                a[k, number[(ny, nx)]] -= w
            else:
                b[k] += w * image[:, ny, nx]
    solution = np.linalg.solve(a, b)
    out = image.copy()
    for k, (y, x) in enumerate(unknowns):
        out[:, y, x] = solution[k]
    return out


@pytest.fixture
def image_and_removed() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(3)
    image = torch.rand(C, H, W, generator=gen, dtype=torch.float64)
    removed = torch.zeros(H, W, dtype=torch.bool)
    removed[1:4, 1:3] = True  # an inner block
    removed[0, 4] = True  # a corner pixel (3 neighbours)
    removed[5, 0:2] = True  # on the border
    return image, removed


def test_imputation_equals_a_literal_solve_of_the_linear_system(image_and_removed) -> None:
    image, removed = image_and_removed
    ours = noisy_linear_imputation(image, removed, noise=0.0)
    expected = literal_imputation(image.numpy(), removed.numpy())
    np.testing.assert_allclose(ours.numpy(), expected, atol=1e-12)
    # Kept pixels are untouched; every imputed value lies within the kept values' range
    # (a weighted mean of weighted means: the discrete maximum principle).
    assert torch.equal(ours[:, ~removed], image[:, ~removed])
    kept = image[:, ~removed]
    assert (ours[:, removed] >= kept.min() - 1e-12).all() and (ours[:, removed] <= kept.max() + 1e-12).all()


def test_imputation_equals_quantus(image_and_removed) -> None:
    quantus_perturb = import_quantus("quantus.functions.perturb_func")
    image, removed = image_and_removed
    indices = np.flatnonzero(removed.numpy().reshape(-1))
    theirs = quantus_perturb.noisy_linear_imputation(image.numpy().copy(), indices, noise=0.0)
    ours = noisy_linear_imputation(image, removed, noise=0.0)
    np.testing.assert_allclose(ours.numpy(), theirs, atol=1e-10)


def test_imputation_noise_and_the_fully_removed_image(image_and_removed) -> None:
    image, removed = image_and_removed
    clean = noisy_linear_imputation(image, removed, noise=0.0)
    noisy = noisy_linear_imputation(image, removed, noise=0.5, generator=torch.Generator().manual_seed(1))
    again = noisy_linear_imputation(image, removed, noise=0.5, generator=torch.Generator().manual_seed(1))
    assert torch.equal(noisy, again)  # seeded
    jitter = (noisy - clean)[:, removed]
    assert jitter.abs().min() > 0 and torch.equal((noisy - clean)[:, ~removed], torch.zeros_like(clean[:, ~removed]))
    everything = noisy_linear_imputation(image, torch.ones(H, W, dtype=torch.bool), noise=0.0)
    assert torch.allclose(everything, image.mean(dim=(1, 2), keepdim=True).expand_as(image))
    with pytest.raises(InputError, match="removed"):
        noisy_linear_imputation(image, removed[:3])


def test_a_hole_in_a_linear_ramp_is_filled_back_exactly() -> None:
    # A linear ramp is a fixed point of the mean of symmetric neighbours away from borders,
    # so an inner hole in a ramp is filled back exactly: the imputation leaks no outline.
    ramp = torch.arange(8, dtype=torch.float64).view(1, 1, 8).expand(1, 8, 8).clone()
    hole = torch.zeros(8, 8, dtype=torch.bool)
    hole[2:6, 3:6] = True
    np.testing.assert_allclose(noisy_linear_imputation(ramp, hole, noise=0.0).numpy(), ramp.numpy(), atol=1e-10)


def test_road_curves_start_and_end_where_they_must() -> None:
    model = GreyCNN().eval()
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(2, 1, 8, 8, generator=gen)
    a = torch.rand(2, 8, 8, generator=gen)
    target = torch.tensor([0, 1])
    with torch.no_grad():
        intact = model(x).softmax(1)[[0, 1], target]
        mean = model(x.mean(dim=(2, 3), keepdim=True).expand_as(x)).softmax(1)[[0, 1], target]
    _, probs = deletion_curve(model, x, target, a, pixels_per_step=8, baseline="road", noise=0.0)
    assert probs[:, 0] == pytest.approx(intact, abs=1e-6)  # nothing removed yet
    assert probs[:, -1] == pytest.approx(mean, abs=1e-6)  # everything removed: the mean colour
    _, inserted = insertion_curve(model, x, target, a, pixels_per_step=8, baseline="road", noise=0.0)
    assert inserted[:, 0] == pytest.approx(mean, abs=1e-6)
    assert inserted[:, -1] == pytest.approx(intact, abs=1e-6)
    # A state does not depend on the batch it was computed in.
    one = deletion(model, x[:1], target[:1], a[:1], pixels_per_step=8, baseline="road", batch_size=3)
    both = deletion(model, x, target, a, pixels_per_step=8, baseline="road", batch_size=64)
    assert one[0] == pytest.approx(float(both[0]), abs=1e-6)


@pytest.mark.parametrize("baseline", [0.0, "mean", "blur"])
def test_states_batched_across_images_equal_each_image_alone(baseline: object) -> None:
    model = GreyCNN().eval()
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(3, 1, 8, 8, generator=gen)
    a = torch.rand(3, 8, 8, generator=gen)
    target = torch.tensor([0, 1, 1])
    together = deletion(model, x, target, a, pixels_per_step=5, baseline=baseline, batch_size=7)
    alone = torch.cat(
        [
            deletion(
                model, x[i : i + 1], target[i : i + 1], a[i : i + 1], pixels_per_step=5, baseline=baseline, batch_size=2
            )
            for i in range(3)
        ]
    )
    assert together == pytest.approx(alone, abs=1e-6)
    if baseline == "mean":
        # The last state is the image's own mean colour everywhere.
        _, probs = deletion_curve(model, x, target, a, pixels_per_step=5, baseline="mean")
        with torch.no_grad():
            flat = model(x.mean(dim=(2, 3), keepdim=True).expand_as(x)).softmax(1)[[0, 1, 2], target]
        assert probs[:, -1] == pytest.approx(flat, abs=1e-6)
    with pytest.raises(InputError, match="baseline"):
        deletion(model, x, target, a, baseline="noise")


def test_steps_sets_the_pixels_per_step() -> None:
    model = GreyCNN().eval()
    gen = torch.Generator().manual_seed(2)
    x, a = torch.rand(2, 1, 8, 8, generator=gen), torch.rand(2, 8, 8, generator=gen)
    fractions, _ = deletion_curve(model, x, None, a, steps=5)
    assert fractions.tolist() == pytest.approx([0, 13 / 64, 26 / 64, 39 / 64, 52 / 64, 1])  # ceil(64 / 5) = 13
    assert deletion(model, x, None, a, steps=8) == pytest.approx(deletion(model, x, None, a, pixels_per_step=8))
    with pytest.raises(InputError, match="steps"):
        deletion(model, x, None, a, steps=0)
