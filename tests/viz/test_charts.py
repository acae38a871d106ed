"""The benchmark's bar chart: what it draws from (mean, low, high) triples."""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image

from neuromask.viz.charts import bar_chart


def test_bar_chart_draws_a_mean_just_outside_its_interval_and_leaves_out_nan(tmp_path: Path) -> None:
    values = {
        "neuromask": (0.9, 0.85, 0.95),
        "random": (0.0, 6.938893903907228e-18, 0.07),  # a rounding error above the mean
        "center": (0.3, math.nan, math.nan),
        "broken": (math.nan, math.nan, math.nan),
    }
    one = bar_chart(values, tmp_path / "one.png", title="t", ylabel="pointing", higher_is_better=True)
    three = bar_chart({k: values[k] for k in ("neuromask", "random", "center")}, tmp_path / "three.png",
                      title="t", ylabel="pointing", higher_is_better=True)  # fmt: skip
    # The NaN mean is left out: the same three bars, the same figure size.
    assert Image.open(one).size == Image.open(three).size
