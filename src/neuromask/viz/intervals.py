"""Estimates with 95 % intervals: grouped points with error bars, and curves with bands.

Both take plain numbers, an estimate being ``(value, low, high)``, and write a PNG.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from ._figure import new_figure, save_figure

Estimate = tuple[float, float, float]
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


def interval_chart(
    groups: Mapping[str, Mapping[str, Estimate]],
    path: str | Path,
    *,
    title: str,
    ylabel: str,
) -> Path:
    """One cluster of points per group (e.g. a method), one point per series in it (e.g.
    FP-FP, BNN-BNN, FP-BNN), each with its 95 % interval as an error bar."""
    series = list(dict.fromkeys(s for g in groups.values() for s in g))
    fig = new_figure(figsize=(max(5.0, 0.7 * len(groups) * max(1, len(series)) / 2 + 2), 3.6))
    ax = fig.subplots()
    width = 0.8 / max(1, len(series))
    for k, name in enumerate(series):
        xs, ys, lo, hi = [], [], [], []
        for i, g in enumerate(groups.values()):
            if name in g and not math.isnan(g[name][0]):
                v, low, high = g[name]
                xs.append(i - 0.4 + width * (k + 0.5))
                ys.append(v)
                lo.append(v - low if not math.isnan(low) else 0.0)
                hi.append(high - v if not math.isnan(high) else 0.0)
        ax.errorbar(xs, ys, yerr=[lo, hi], fmt="o", capsize=3, color=COLOURS[k % len(COLOURS)], label=name)
    ax.set_xticks(range(len(groups)), [g.replace("_", " ") for g in groups], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.axhline(0, color="grey", lw=0.5)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    save_figure(fig, path, dpi=110)
    return path


def curve_chart(
    curves: Mapping[str, Sequence[tuple[float, Estimate]]],
    path: str | Path,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    logx: bool = False,
) -> Path:
    """One line per curve through points ``(x, (value, low, high))``, its 95 % band shaded."""
    fig = new_figure(figsize=(5.2, 3.6))
    ax = fig.subplots()
    for k, (name, points) in enumerate(curves.items()):
        colour = COLOURS[k % len(COLOURS)]
        xs = [p[0] for p in points]
        ax.plot(xs, [p[1][0] for p in points], "o-", color=colour, label=name, ms=3)
        ax.fill_between(xs, [p[1][1] for p in points], [p[1][2] for p in points], color=colour, alpha=0.2)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    save_figure(fig, path, dpi=110)
    return path
