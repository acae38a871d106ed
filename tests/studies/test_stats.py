"""The study's statistics against known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from neuromask.studies import stats


def _maps(n: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 8, 8))


def test_spearman_matches_scipy_and_handles_constant_maps() -> None:
    a, b = _maps(seed=1), _maps(seed=2)
    expected = [spearmanr(x.ravel(), y.ravel()).statistic for x, y in zip(a, b)]
    assert np.allclose(stats.spearman(a, b), expected, atol=1e-6)
    assert np.allclose(stats.spearman(a, -a), -1.0)
    zero = np.zeros_like(a)
    assert stats.spearman(a, zero).tolist() == [0.0, 0.0, 0.0], "a constant map shares no ranking"


def test_ssim_and_top_iou_known_answers() -> None:
    a = _maps()
    assert np.allclose(stats.ssim(a, a), 1.0)
    assert np.allclose(stats.ssim(a, 3 * a + 1), 1.0), "scale-free: maps are min-max scaled first"
    # Top 10 % of 100 pixels = 10 pixels; b shares 5 of a's top 10 -> IoU 5 / 15.
    a = np.arange(100, dtype=float).reshape(1, 10, 10)
    b = a.copy().ravel()
    b[[95, 96, 97, 98, 99]] = -1
    b[[0, 1, 2, 3, 4]] = 200
    assert stats.top_iou(a, b.reshape(1, 10, 10)).tolist() == [pytest.approx(5 / 15)]


def test_high_frequency_share_of_smooth_and_checkerboard_maps() -> None:
    y, x = np.mgrid[0:32, 0:32]
    smooth = np.cos(2 * np.pi * x / 16)[None]  # 1/16 cycles per pixel
    checker = ((x + y) % 2).astype(float)[None]  # 0.5 cycles per pixel in x and y
    assert stats.high_frequency_share(smooth)[0] == pytest.approx(0.0, abs=1e-9)
    assert stats.high_frequency_share(checker)[0] == pytest.approx(1.0)
    assert np.isnan(stats.high_frequency_share(np.ones((1, 4, 4)))[0])


def test_pair_matrix_counts_only_distinct_seeds() -> None:
    maps = np.stack([_maps(seed=s) for s in range(3)])
    m = stats.pair_matrix(maps, maps, stats.spearman, same=True)
    assert m.shape == (3, 3, 3)
    assert np.isnan(m[np.arange(3), np.arange(3)]).all()
    assert np.allclose(m[0, 1], m[1, 0]) and np.allclose(m[0, 1], stats.spearman(maps[0], maps[1]))
    cross = stats.pair_matrix(maps, maps[::-1], stats.spearman, same=False)
    assert np.isnan(cross[1, 1]).all() and np.isfinite(cross[0, 1]).all()


def test_bootstrap_of_constant_values_collapses_and_gap_is_paired() -> None:
    s, n = 4, 5
    ff, bb, fb = (np.full((s, s, n), v) for v in (0.5, 0.2, 0.1))
    bands = stats.bootstrap_pairs(ff, bb, fb, resamples=50)
    assert bands["gap"]["value"] == pytest.approx(-0.4)
    assert bands["gap"]["ci95"] == [pytest.approx(-0.4), pytest.approx(-0.4)]
    mean = stats.bootstrap_mean(np.full((3, 4), 2.0), resamples=20)
    assert mean["value"] == 2.0 and mean["ci95"] == [2.0, 2.0]
    ratio = stats.bootstrap_ratio(np.full((3, 4), 3.0), np.full((2, 4), 1.5), resamples=20)
    assert ratio["value"] == 2.0 and ratio["ci95"] == [2.0, 2.0]


def test_bootstrap_interval_reflects_seed_spread() -> None:
    # Two seeds far apart, images identical within a seed: the spread is all between seeds,
    # so the interval must span most of the distance between the two seed means.
    values = np.array([[0.0] * 6, [1.0] * 6])
    est = stats.bootstrap_mean(values, resamples=400)
    assert est["value"] == 0.5
    assert est["ci95"][0] == 0.0 and est["ci95"][1] == 1.0
    pooled = stats.pooled([est, stats.bootstrap_mean(values + 1, resamples=400, seed=1)])
    assert pooled["value"] == 1.0 and 0.0 <= pooled["ci95"][0] < 1.0 < pooled["ci95"][1] <= 2.0
