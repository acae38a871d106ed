"""Pointing game, energy pointing game and AUROC on maps whose scores are known."""

from __future__ import annotations

import pytest
import torch

from neuromask.errors import InputError
from neuromask.metrics.localisation import auroc, energy_pointing_game, equal_area_iou, mass_margin, pointing_game

from .conftest import region_mask

H, W = 12, 10
REGION = (3, 7, 2, 5)  # 4 x 3 = 12 of 120 pixels
SHARE = 12 / 120


@pytest.fixture
def evidence() -> torch.Tensor:
    return region_mask(H, W, REGION)[None]


def test_perfect_map(evidence: torch.Tensor) -> None:
    a = evidence.float()
    assert pointing_game(a, evidence, tolerance=0).item() == 1.0
    assert energy_pointing_game(a, evidence).item() == 1.0
    assert auroc(a, evidence).item() == 1.0


def test_inverted_map(evidence: torch.Tensor) -> None:
    a = 1 - evidence.float()
    assert pointing_game(a, evidence, tolerance=0).item() == 0.0
    assert energy_pointing_game(a, evidence).item() == 0.0
    assert auroc(a, evidence).item() == 0.0


def test_uniform_map_scores_chance(evidence: torch.Tensor) -> None:
    a = torch.full((1, H, W), 0.3)
    # Every pixel is a maximum: the expected hit rate of a random tie-break is the area share.
    assert pointing_game(a, evidence, tolerance=0).item() == pytest.approx(SHARE)
    assert energy_pointing_game(a, evidence).item() == pytest.approx(SHARE)
    assert auroc(a, evidence).item() == 0.5


def test_map_entirely_outside(evidence: torch.Tensor) -> None:
    a = torch.zeros(1, H, W)
    a[0, 0, 9] = 5.0
    a[0, 10, 0] = 1.0
    assert pointing_game(a, evidence, tolerance=0).item() == 0.0
    assert energy_pointing_game(a, evidence).item() == 0.0
    # The two outside peaks rank above every evidence pixel, the evidence ties with the rest.
    n_pos, n_neg = 12, 108
    assert auroc(a, evidence).item() == pytest.approx((n_neg - 2) * 0.5 * n_pos / (n_pos * n_neg))


def test_pointing_game_tolerance(evidence: torch.Tensor) -> None:
    a = torch.zeros(1, H, W)
    a[0, 3, 8] = 1.0  # 4 columns right of the evidence's last column (4): distance 4
    assert pointing_game(a, evidence, tolerance=3.9).item() == 0.0
    assert pointing_game(a, evidence, tolerance=4).item() == 1.0
    b = torch.zeros(1, H, W)
    b[0, 9, 8] = 1.0  # 3 rows below the last (6) and 4 columns right: Euclidean distance 5
    assert pointing_game(b, evidence, tolerance=4.9).item() == 0.0
    assert pointing_game(b, evidence, tolerance=5).item() == 1.0
    # Default: 15 px at 224, scaled to the shorter side (10 px -> 0.67 px): no growth.
    assert pointing_game(a, evidence).item() == 0.0


def test_energy_ignores_negative_evidence_and_is_nan_without_mass(evidence: torch.Tensor) -> None:
    a = evidence.float() - 3 * (~evidence).float()
    assert energy_pointing_game(a, evidence).item() == 1.0
    assert torch.isnan(energy_pointing_game(-torch.ones(1, H, W), evidence)).all()


def test_auroc_is_the_mann_whitney_probability(evidence: torch.Tensor) -> None:
    """Against the definition: the share of (evidence, background) pairs ranked correctly, ties 1/2."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randint(0, 5, (1, H, W), generator=gen).float() + evidence.float()
    pos, neg = a[evidence], a[~evidence]
    pairs = (pos[:, None] > neg[None, :]).float() + 0.5 * (pos[:, None] == neg[None, :]).float()
    assert auroc(a, evidence).item() == pytest.approx(pairs.mean().item(), abs=1e-6)


def test_batched(evidence: torch.Tensor) -> None:
    a = torch.stack([evidence[0].float(), 1 - evidence[0].float()])
    ev = evidence.expand(2, H, W)
    assert pointing_game(a, ev, tolerance=0).tolist() == [1.0, 0.0]
    assert auroc(a, ev).tolist() == [1.0, 0.0]


def test_bad_evidence(evidence: torch.Tensor) -> None:
    a = torch.rand(1, H, W)
    with pytest.raises(InputError, match="no evidence pixel"):
        energy_pointing_game(a, torch.zeros(1, H, W, dtype=torch.bool))
    with pytest.raises(InputError, match="evidence everywhere"):
        auroc(a, torch.ones(1, H, W, dtype=torch.bool))
    with pytest.raises(InputError, match="bool"):
        pointing_game(a, evidence.float())
    with pytest.raises(InputError, match="shape"):
        pointing_game(torch.rand(1, H, W + 1), evidence)
    with pytest.raises(InputError, match="tolerance"):
        pointing_game(a, evidence, tolerance=-1)


def test_auroc_agrees_with_the_pairwise_definition_on_many_maps() -> None:
    """Literal oracle: the share of (evidence, background) pairs ranked correctly, over random tied maps."""
    gen = torch.Generator().manual_seed(1)
    a = torch.randint(0, 4, (5, 6, 7), generator=gen).float()
    ev = torch.rand(5, 6, 7, generator=gen) < 0.3
    for i in range(5):
        pos, neg = a[i][ev[i]], a[i][~ev[i]]
        pairs = (pos[:, None] > neg[None, :]).float() + 0.5 * (pos[:, None] == neg[None, :]).float()
        assert auroc(a[i : i + 1], ev[i : i + 1]).item() == pytest.approx(pairs.mean().item(), abs=1e-6)


def test_equal_area_iou_known_answers(evidence: torch.Tensor) -> None:
    k = int(evidence.sum())  # 12
    assert equal_area_iou(evidence.float(), evidence).item() == 1.0
    assert equal_area_iou(1 - evidence.float(), evidence).item() == 0.0
    # A uniform map: every pixel ties at the cut, each counts k / HW: chance k / (2 HW - k).
    assert equal_area_iou(torch.ones(1, H, W), evidence).item() == pytest.approx((k * k / 120) / (2 * k - k * k / 120))
    # Half the evidence (6 px) plus 6 background pixels on top: IoU = 6 / (24 - 6) = 1/3,
    # whatever the values and however far below the rest lies.
    a = torch.zeros(1, H, W)
    a[0][evidence[0]] = torch.tensor([9.0] * 6 + [-1.0] * 6)
    outside = (~evidence[0]).nonzero()[:6]
    a[0, outside[:, 0], outside[:, 1]] = 2.0
    assert equal_area_iou(a, evidence).item() == pytest.approx(1 / 3)
    assert equal_area_iou(a * 1000 - 5, evidence).item() == pytest.approx(1 / 3)


def test_equal_area_iou_against_a_literal_set_count() -> None:
    """Maps without ties: the top-k pixel set, counted by hand."""
    gen = torch.Generator().manual_seed(2)
    a = torch.randn(4, 8, 9, generator=gen)
    ev = torch.rand(4, 8, 9, generator=gen) < 0.25
    got = equal_area_iou(a, ev)
    for i in range(4):
        k = int(ev[i].sum())
        top = set(torch.argsort(a[i].flatten(), descending=True)[:k].tolist())
        truth = set(ev[i].flatten().nonzero().flatten().tolist())
        assert got[i].item() == pytest.approx(len(top & truth) / len(top | truth))


def test_mass_margin_known_answers() -> None:
    own = region_mask(H, W, (0, 4, 0, 4))[None]
    other = region_mask(H, W, (6, 10, 5, 9))[None]
    a = torch.zeros(1, H, W)
    a[0][own[0]] = 3.0  # 16 px x 3 = 48
    a[0][other[0]] = 1.0  # 16 px x 1 = 16
    a[0, 11, 0] = 16.0  # 16 on neither object; total 80
    assert mass_margin(a, own, other).item() == pytest.approx(48 / 80 - 16 / 80)
    assert mass_margin(a, other, own).item() == pytest.approx(-(48 / 80 - 16 / 80))
    assert mass_margin(own.float(), own, other).item() == 1.0
    assert torch.isnan(mass_margin(-torch.ones(1, H, W), own, other)).all()
