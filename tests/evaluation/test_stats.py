"""The statistics behind summary.csv and the recommendation, against independent references and properties."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from neuromask.evaluation.stats import Resamples, ranks, wilson, win_shares


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (17, 40), (1, 1)])
def test_wilson_equals_scipy(k: int, n: int) -> None:
    expected = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson(k, n) == pytest.approx((expected.low, expected.high), abs=1e-9)


@pytest.mark.parametrize("n", [1, 7, 50, 1000])
def test_wilson_interval_of_none_or_all_starts_or_ends_at_the_proportion_exactly(n: int) -> None:
    # 0 of 50 once gave a lower end of 6.9e-18, above the estimate 0 (the report's chart then failed).
    assert wilson(0, n)[0] == 0.0 and wilson(n, n)[1] == 1.0
    assert wilson(0, n)[1] > 0.0 and wilson(n, n)[0] < 1.0


def test_bootstrap_interval_covers_the_true_mean_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(0)
    covered = 0
    trials = 200
    for t in range(trials):
        values = rng.normal(1.0, 2.0, size=40)
        est = Resamples([str(i) for i in range(40)], resamples=1000, seed=t).mean(values)
        covered += est.low <= 1.0 <= est.high
    # The percentile bootstrap at n = 40 covers a little under 95 %.
    assert 0.88 <= covered / trials <= 0.99


def test_a_constant_sample_has_a_point_interval_and_proportions_use_wilson() -> None:
    images = [str(i) for i in range(12)]
    boot = Resamples(images, seed=1)
    est = boot.mean(np.full(12, 0.7))
    assert (est.mean, est.low, est.high, est.n) == pytest.approx((0.7, 0.7, 0.7, 12))
    hits = np.ones(12)
    est = boot.mean(hits, proportion=True)
    assert (est.low, est.high) == pytest.approx(wilson(12, 12))  # not [1, 1]
    values = np.r_[np.full(6, np.nan), np.ones(6)]  # NaN = not scored
    assert boot.mean(values).n == 6


def test_images_of_one_cluster_are_resampled_together() -> None:
    rng = np.random.default_rng(2)
    base = rng.random(15)
    images = [str(i) for i in range(15)]
    once = Resamples(images, seed=5).mean(base)
    # Every image twice, the copies in one cluster: the same draws, the same interval.
    twice_images = [f"{i}{c}" for i in range(15) for c in "ab"]
    clusters = {name: name[:-1] for name in twice_images}
    paired = Resamples(twice_images, clusters, seed=5).mean(np.repeat(base, 2))
    assert (paired.low, paired.high) == pytest.approx((once.low, once.high))
    # Without the clusters the copies pass for independent images: a narrower interval.
    naive = Resamples(twice_images, seed=5).mean(np.repeat(base, 2))
    assert naive.high - naive.low < 0.85 * (once.high - once.low)
    # A proportion over clusters counts clusters, not images.
    hits = np.repeat((base > 0.5).astype(float), 2)
    est = Resamples(twice_images, clusters).mean(hits, proportion=True)
    assert (est.low, est.high) == pytest.approx(wilson(float((base > 0.5).sum()), 15))


def test_paired_differences_see_what_overlapping_means_hide() -> None:
    rng = np.random.default_rng(3)
    a = rng.random(30)
    b = a + 0.02 + rng.normal(0, 0.005, 30)
    boot = Resamples([str(i) for i in range(30)], seed=0)
    ea, eb = boot.mean(a), boot.mean(b)
    assert ea.high > eb.low  # the two means' intervals overlap ...
    d = boot.difference(b, a)
    assert d.low > 0 and d.excludes(0)  # ... but b is better on every image
    assert d.mean == pytest.approx(float((b - a).mean()))


def test_ranks_share_a_place_unless_the_paired_interval_separates_them() -> None:
    rng = np.random.default_rng(4)
    base = rng.random(25)
    values = {
        "best": base + 0.5,
        "tie_a": base + rng.normal(0, 0.05, 25),
        "tie_b": base + rng.normal(0, 0.05, 25),
        "worst": base - 0.5,
        "none": np.full(25, np.nan),
    }
    boot = Resamples([str(i) for i in range(25)], seed=0)
    assert ranks(values, boot, higher_is_better=True) == {"best": 1, "tie_a": 2, "tie_b": 2, "worst": 4}
    assert ranks(values, boot, higher_is_better=False) == {"worst": 1, "tie_a": 2, "tie_b": 2, "best": 4}


def test_the_winner_share() -> None:
    rng = np.random.default_rng(5)
    base = rng.random(20)
    boot = Resamples([str(i) for i in range(20)], seed=0)
    tables = {
        "up": {"good": base + 1, "bad": base},
        "down": {"good": base - 1, "bad": base},
    }
    shares = win_shares(tables, {"up": True, "down": False}, boot)
    assert shares == pytest.approx({"good": 1.0, "bad": 0.0})
    # Two methods that swap places between two metrics tie in every resample.
    tables = {"up": {"x": base + 1, "y": base}, "also_up": {"x": base, "y": base + 1}}
    assert win_shares(tables, {"up": True, "also_up": True}, boot) == pytest.approx({"x": 0.5, "y": 0.5})
