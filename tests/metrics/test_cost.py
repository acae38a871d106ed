"""Cost: seconds and peak memory of a callable and of explanations."""

from __future__ import annotations

import sys
import time

import pytest
import torch

from neuromask.metrics.cost import explanation_cost, measure


def test_measure_seconds() -> None:
    result, seconds, _ = measure(lambda: time.sleep(0.05) or 7)
    assert result == 7
    assert 0.04 < seconds < 1.0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="resident memory is sampled from /proc")
def test_measure_sees_a_large_allocation() -> None:
    def allocate() -> float:
        x = torch.ones(64 * 1024 * 1024 // 4)  # 64 MiB, touched
        time.sleep(0.05)  # long enough for the sampler to see it
        return float(x[0])

    _, _, peak = measure(allocate)
    assert 48 < peak < 512


def test_explanation_cost_per_image(small_cnn, images) -> None:
    maps, cost = explanation_cost(small_cnn, images, None, method="neuromask", params={"steps": 3})
    assert maps.shape == (2, 16, 16)
    assert cost.seconds.shape == (2,) and (cost.seconds > 0).all()
    assert cost.peak_memory_mb.shape == (2,)
