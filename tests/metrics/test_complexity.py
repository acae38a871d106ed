"""Gini, total variation, masked probability and mask area on maps whose values are known."""

from __future__ import annotations

import pytest
import torch

from neuromask.errors import InputError
from neuromask.metrics.complexity import gini, mask_area, masked_probability, total_variation

from .conftest import LinearProbModel


def test_gini_known_values() -> None:
    n = 8 * 8
    one_hot = torch.zeros(1, 8, 8)
    one_hot[0, 3, 5] = 2.0
    assert gini(one_hot).item() == pytest.approx(1 - 1 / n)
    assert gini(torch.full((1, 8, 8), 0.7)).item() == pytest.approx(0.0, abs=1e-7)
    assert gini(torch.zeros(1, 8, 8)).item() == 0.0
    # Signs do not matter: the index is of |attribution|.
    assert gini(-one_hot).item() == pytest.approx(1 - 1 / n)


def test_gini_against_the_mean_difference_definition() -> None:
    a = torch.rand(3, 6, 7, generator=torch.Generator().manual_seed(0)) - 0.3
    for i in range(3):
        x = a[i].abs().flatten().double()
        expected = (x[:, None] - x[None, :]).abs().sum() / (2 * x.numel() * x.sum())
        assert gini(a[i : i + 1]).item() == pytest.approx(expected.item(), abs=1e-6)


def test_total_variation_known_values() -> None:
    h, w = 5, 6
    assert total_variation(torch.full((1, h, w), 3.0)).item() == 0.0
    checker = ((torch.arange(h)[:, None] + torch.arange(w)[None, :]) % 2).float()[None]
    assert total_variation(checker * 7 - 2).item() == pytest.approx(1.0)
    ramp = torch.linspace(0, 1, w).expand(1, h, w)
    pairs = h * (w - 1) + (h - 1) * w
    assert total_variation(ramp * 10).item() == pytest.approx(h / pairs, abs=1e-6)


def test_mask_metrics() -> None:
    region = (0, 2, 0, 2)
    model = LinearProbModel(region)
    x = torch.ones(2, 3, 4, 4)
    masks = torch.stack([torch.ones(4, 4), torch.zeros(4, 4)])
    # Kept everywhere: the original probability 2/3; hidden everywhere (towards 0): 1/3.
    p = masked_probability(model, x, 0, masks, baseline=0.0)
    assert p.tolist() == pytest.approx([2 / 3, 1 / 3], abs=1e-6)
    half = torch.full((1, 4, 4), 0.5)
    assert masked_probability(model, x[:1], 0, half, baseline=0.0).item() == pytest.approx(0.5, abs=1e-6)
    assert mask_area(masks).tolist() == [1.0, 0.0]
    assert mask_area(half).item() == 0.5
    with pytest.raises(InputError, match=r"in \[0, 1\]"):
        mask_area(half * 3)
    with pytest.raises(InputError, match=r"in \[0, 1\]"):
        masked_probability(model, x[:1], 0, half - 1)
