"""Benchmark charts: one bar chart per metric, and quality versus seconds per explanation.

Both take plain numbers (what the report has read from the rows) and write a PNG.
"""

from __future__ import annotations

import math
from pathlib import Path

from ._figure import new_figure, save_figure

HIGHLIGHT = "#d62728"
OTHER = "#1f77b4"


def bar_chart(
    values: dict[str, tuple[float, float, float]],
    path: str | Path,
    *,
    title: str,
    ylabel: str,
    higher_is_better: bool,
    highlight: str = "neuromask",
) -> Path:
    """Horizontal bars of ``values`` {method: (mean, CI low, CI high)}, best on top.

    Methods whose mean is NaN are left out; ``highlight`` is drawn in red.
    """
    items = [(m, v) for m, v in values.items() if not math.isnan(v[0])]
    items.sort(key=lambda kv: kv[1][0], reverse=not higher_is_better)
    fig = new_figure(figsize=(6.4, 0.35 * len(items) + 1.2))
    ax = fig.subplots()
    names = [m for m, _ in items]
    ax.barh(
        names,
        [v[0] for _, v in items],
        # A bar's error is never negative for matplotlib: a mean outside its interval (a
        # percentile bootstrap can leave a skewed sample's mean just outside) draws no whisker.
        xerr=[
            [0.0 if math.isnan(v[1]) else max(0.0, v[0] - v[1]) for _, v in items],
            [0.0 if math.isnan(v[2]) else max(0.0, v[2] - v[0]) for _, v in items],
        ],
        color=[HIGHLIGHT if m == highlight else OTHER for m in names],
        capsize=2,
    )
    ax.set_xlabel(f"{ylabel} ({'higher' if higher_is_better else 'lower'} is better)")
    ax.set_title(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, path, dpi=110)
    return path


def quality_vs_seconds(
    points: dict[str, tuple[float, float]],
    path: str | Path,
    *,
    title: str,
    quality: str,
    highlight: str = "neuromask",
) -> Path:
    """Scatter of {method: (seconds per explanation, quality)}, seconds on a log axis."""
    items = [(m, p) for m, p in points.items() if not (math.isnan(p[0]) or math.isnan(p[1])) and p[0] > 0]
    fig = new_figure(figsize=(6.4, 4.6))
    ax = fig.subplots()
    for name, (sec, q) in items:
        ax.scatter([sec], [q], color=HIGHLIGHT if name == highlight else OTHER, zorder=3)
        ax.annotate(name, (sec, q), textcoords="offset points", xytext=(4, 3), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("seconds per explanation (log scale)")
    ax.set_ylabel(quality)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, path, dpi=110)
    return path
