"""The benchmark's rows as statistics: per group, every metric's values over the images, with
means, 95 % intervals, ranks, and the suite's goals checked from paired intervals.

The rows are every group's ``scores.parquet`` (the format of every evaluation), gathered
into ``DIR/rows.parquet`` with the group and, for two-object scenes, the scene of each
image; a folder that holds only ``rows.parquet`` (the committed results) reads the same.
Statistics (:mod:`neuromask.evaluation.stats`): per group one set of bootstrap resamples of
the images, by scene where a group has scenes; proportions get Wilson intervals. Read by
:mod:`neuromask.bench.report` and :mod:`neuromask.bench.summary`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..evaluation.stats import RESAMPLES, Difference, Estimate, Resamples, ranks
from ..metrics import CATEGORIES
from .runner import GROUPS
from .suites import Goals

ROWS = "rows.parquet"
DERIVED = "insertion_minus_deletion"
CORRECT = "own_above_other"
CATEGORY_ORDER = tuple(CATEGORIES)
ROW_SCHEMA = pa.schema(
    [
        pa.field("group", pa.string(), nullable=False),
        pa.field("image", pa.string(), nullable=False),
        pa.field("method", pa.string(), nullable=False),
        pa.field("metric", pa.string(), nullable=False),
        pa.field("value", pa.float64()),
        pa.field("status", pa.string(), nullable=False),
        pa.field("error", pa.string()),
        pa.field("seconds", pa.float64()),
        pa.field("cluster", pa.string()),  # the scene of a two-object image (resampled together)
    ]
)


def metric_meta(metric: str) -> tuple[str, bool, bool]:
    """(category, higher_is_better, proportion) of a metric name, the derived ones included."""
    from ..evaluation.metrics import PROPORTIONS, info, names

    if metric == DERIVED:
        return "faithfulness", True, False
    if metric == CORRECT:
        return "localisation", True, True
    if metric not in names():
        return "other", True, False  # a name from an older run: shown, never ranked as special
    found = info(metric)
    return found.category, found.higher_is_better, metric in PROPORTIONS


def collect_rows(out: Path) -> Path | None:
    """Gather every group's ``scores.parquet`` into ``DIR/rows.parquet``; None when there are no groups."""
    from ..runs import write_parquet

    folders = sorted(p for p in (out / GROUPS).glob("*") if (p / "scores.parquet").exists())
    if not folders:
        return None
    rows = []
    for folder in folders:
        record = json.loads((folder / "evaluation.json").read_text())
        clusters = record.get("clusters") or {}
        for r in pq.read_table(folder / "scores.parquet").to_pylist():
            rows.append({**r, "group": folder.name, "cluster": clusters.get(r["image"])})
    return write_parquet(out / ROWS, ROW_SCHEMA, rows)


@dataclass
class GroupStats:
    """One group's scores as matrices (per metric, per method, values over ``images``) with their statistics."""

    name: str
    images: list[str]
    clusters: dict[str, str] | None
    values: dict[str, dict[str, np.ndarray]]
    failed: dict[tuple[str, str], int] = field(default_factory=dict)
    undefined: dict[tuple[str, str], int] = field(default_factory=dict)
    errors: dict[tuple[str, str], int] = field(default_factory=dict)
    boot: Resamples | None = None
    cells: dict[tuple[str, str], Estimate] = field(default_factory=dict)
    ranks: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def methods(self) -> list[str]:
        from ..api import methods

        names = {m for table in self.values.values() for m in table}
        known = [m for m in methods() if m in names]
        return known + sorted(names - set(known))

    @property
    def metrics(self) -> list[str]:
        def order(m: str) -> tuple[int, str]:
            category = metric_meta(m)[0]
            return (CATEGORY_ORDER.index(category) if category in CATEGORY_ORDER else 99, m)

        return sorted(self.values, key=order)

    def difference(self, metric: str, a: str, b: str) -> Difference:
        """Method a minus method b on ``metric``, paired over the images both scored."""
        assert self.boot is not None
        return self.boot.difference(self.values[metric][a], self.values[metric][b])


def read_groups(out: Path, *, resamples: int = RESAMPLES) -> dict[str, GroupStats]:
    """Every group of ``DIR/rows.parquet``, with its derived metrics, means, intervals and ranks."""
    rows = pq.read_table(out / ROWS).to_pylist()
    by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_group[r["group"]].append(r)
    groups = {}
    for name in sorted(by_group):
        group_rows = by_group[name]
        images = sorted({r["image"] for r in group_rows if r["method"] != "*"})
        index = {image: i for i, image in enumerate(images)}
        clusters = {r["image"]: r["cluster"] for r in group_rows if r["cluster"]} or None
        stats = GroupStats(name, images, clusters, {})
        failed: dict[tuple[str, str], int] = defaultdict(int)
        undefined: dict[tuple[str, str], int] = defaultdict(int)
        for r in group_rows:
            if r["method"] == "*":
                continue
            table = stats.values.setdefault(r["metric"], {})
            values = table.setdefault(r["method"], np.full(len(images), np.nan))
            if r["status"] != "ok":
                failed[(r["method"], r["metric"])] += 1
                stats.errors[(r["method"], r["error"] or "")] = stats.errors.get((r["method"], r["error"] or ""), 0) + 1
            elif r["value"] is None or not math.isfinite(r["value"]):
                undefined[(r["method"], r["metric"])] += 1
            else:
                values[index[r["image"]]] = r["value"]
        stats.failed, stats.undefined = dict(failed), dict(undefined)
        _derive(stats)
        seed = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")
        stats.boot = Resamples(images, clusters, resamples=resamples, seed=seed)
        for metric, table in stats.values.items():
            _, higher, proportion = metric_meta(metric)
            for method, values in table.items():
                stats.cells[(method, metric)] = stats.boot.mean(values, proportion=proportion)
            for method, rank in ranks(table, stats.boot, higher_is_better=higher).items():
                stats.ranks[(method, metric)] = rank
        groups[name] = stats
    return groups


def _derive(stats: GroupStats) -> None:
    """Per image: insertion - deletion, and whether the own object's mass margin is positive."""
    if "insertion" in stats.values and "deletion" in stats.values:
        stats.values[DERIVED] = {
            m: stats.values["insertion"][m] - stats.values["deletion"][m]
            for m in stats.values["insertion"]
            if m in stats.values["deletion"]
        }
    if "mass_margin" in stats.values:
        stats.values[CORRECT] = {
            m: np.where(np.isfinite(v), (v > 0).astype(np.float64), np.nan)
            for m, v in stats.values["mass_margin"].items()
        }


def _fmt(value: float, digits: int = 3) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def interval(est: Estimate | Difference, digits: int = 3) -> str:
    """``mean [low, high]`` (the bounds left out where there are none)."""
    text = _fmt(est.mean, digits)
    return text + (f" [{_fmt(est.low, digits)}, {_fmt(est.high, digits)}]" if math.isfinite(est.low) else "")


@dataclass(frozen=True)
class Verdict:
    """One goal checked: what was measured, against what, and the verdict read from the interval."""

    group: str
    what: str
    ours: str
    against: str
    verdict: str


def best_other(stats: GroupStats, metric: str, method: str) -> str | None:
    """The method other than ``method`` with the best mean on ``metric`` (None if there is none)."""
    _, higher, _ = metric_meta(metric)
    scored = {
        m: stats.cells[(m, metric)].mean
        for m in stats.values.get(metric, {})
        if m != method and stats.cells[(m, metric)].n and math.isfinite(stats.cells[(m, metric)].mean)
    }
    if not scored:
        return None
    return max(scored, key=lambda m: scored[m] if higher else -scored[m])


def within_best(stats: GroupStats, metric: str, method: str, margin: float) -> Verdict | None:
    """Is ``method`` first on ``metric``, or within ``margin`` of the best other method?

    Read from the paired bootstrap interval of (best other - ours) (signs turned for a
    lower-is-better metric): ``first`` where ours leads, ``met`` where the whole interval
    is at most ``margin``, ``missed`` where it is wholly above it, ``undecided`` otherwise.
    """
    if (method, metric) not in stats.cells or not stats.cells[(method, metric)].n:
        return None
    other = best_other(stats, metric, method)
    if other is None:
        return None
    _, higher, _ = metric_meta(metric)
    sign = 1.0 if higher else -1.0
    d = stats.difference(metric, other, method)
    low, high = sorted((sign * d.low, sign * d.high))
    gap = Difference(sign * d.mean, low, high, d.n) if math.isfinite(d.low) else d
    ours, theirs = stats.cells[(method, metric)], stats.cells[(other, metric)]
    if gap.mean <= 0:
        verdict = "first" + (
            " (ahead on the paired interval)" if gap.high < 0 else " (tied within the paired interval)"
        )
    elif math.isfinite(gap.high) and gap.high <= margin:
        verdict = f"within {margin} of the best: met"
    elif math.isfinite(gap.low) and gap.low > margin:
        verdict = f"within {margin} of the best: missed by {gap.mean - margin:.3f}"
    else:
        verdict = f"within {margin} of the best: undecided (the interval of the gap spans {margin})"
    return Verdict(
        stats.name,
        metric,
        interval(ours),
        f"{other} {interval(theirs)}; gap {interval(gap)}",
        verdict,
    )


def threshold(est: Estimate, limit: float, *, below: bool) -> str:
    """Whether a mean is below (or at least) ``limit``, read from its interval."""
    if not math.isfinite(est.low):
        ok = est.mean < limit if below else est.mean >= limit
        return ("met" if ok else "missed") + " (no interval)"
    if (est.high < limit) if below else (est.low >= limit):
        return "met"
    if (est.low >= limit) if below else (est.high < limit):
        return f"missed by {abs(est.mean - limit):.3f}"
    return f"undecided (the interval spans {limit})"


def goals(groups: dict[str, GroupStats], goal: Goals) -> list[Verdict]:
    """The suite's goals for its highlighted method, each with the numbers and the verdict."""
    from ..api import method_info

    out: list[Verdict] = []
    ours = goal.highlight
    for name, stats in groups.items():
        for metric in goal.localisation:
            if metric in stats.values:
                v = within_best(stats, metric, ours, goal.within_best)
                if v:
                    out.append(v)
        if (ours, "mass_margin") in stats.cells:
            est = stats.cells[(ours, "mass_margin")]
            out.append(Verdict(name, "own-minus-other mass margin", interval(est), f"at least {goal.min_margin}",
                               threshold(est, goal.min_margin, below=False)))  # fmt: skip
        if (ours, CORRECT) in stats.cells:
            est = stats.cells[(ours, CORRECT)]
            share = "met" if est.mean >= goal.min_correct else f"missed by {goal.min_correct - est.mean:.3f}"
            out.append(Verdict(name, "share with more mass on its own object", interval(est),
                               f"at least {goal.min_correct:.0%} (Wilson interval over scenes)", share))  # fmt: skip
        if (ours, "randomisation") in stats.cells:
            est = stats.cells[(ours, "randomisation")]
            out.append(Verdict(name, "rank correlation under full randomisation", f"{interval(est)} (n={est.n})",
                               f"below {goal.max_randomisation}", threshold(est, goal.max_randomisation, below=True)))  # fmt: skip
        if (ours, DERIVED) in stats.cells and name.startswith("photos-"):
            gradients = [m for m in stats.values[DERIVED] if m != ours and method_info(m).kind in goal.gradient_kinds]
            scored = [m for m in gradients if stats.cells[(m, DERIVED)].n]
            if scored:
                top = max(scored, key=lambda m: stats.cells[(m, DERIVED)].mean)
                d = stats.difference(DERIVED, ours, top)
                if d.mean >= 0:
                    verdict = "met" + (" (ahead on the paired interval)" if d.low > 0 else "")
                elif math.isfinite(d.high) and d.high < 0:
                    verdict = f"missed by {-d.mean:.3f}"
                else:
                    verdict = "undecided (the paired interval spans 0)"
                out.append(Verdict(name, "insertion − deletion", f"{interval(stats.cells[(ours, DERIVED)])}",
                                   f"best gradient method {top} {interval(stats.cells[(top, DERIVED)])}; "
                                   f"difference {interval(d)}", verdict))  # fmt: skip
    return out
