"""The report: reads the rows only, and writes tables, charts and an HTML page.

Outputs, in the run's folder:

- ``summary.csv``: one line per (group, method, metric): mean, 95 % bootstrap
  confidence interval, the number of images scored, of undefined scores (NaN, e.g. a
  constant map's rank correlation) and of failures;
- ``results.md``: per group a table with the methods as rows and the metrics as
  columns (mean [95 % CI] n; the best of each column in bold), plus the derived
  ``insertion_minus_deletion`` and, on two-object scenes, ``own_above_other`` (the share
  of images whose mass margin is positive), the failures, and the suite's goals
  (:class:`~neuromask.bench.suites.Goals`: thresholds and the highlighted method live in
  the suite, not here);
- ``charts/<group>/<metric>.png`` (one bar chart per metric, CI whiskers) and
  ``charts/<group>/quality_vs_seconds-<metric>.png``;
- ``index.html``: all of the above on one page, built from the same data (never by
  re-reading the Markdown).

Only each cell's latest configuration is reported (see :func:`current_rows`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._core import write_text
from ..metrics import CATEGORIES, metric_info, metrics
from ..outputs import Cell as PageCell
from ..outputs import Page
from .rows import Row, read_rows
from .runner import MACHINE_FILE, ROWS_FILE
from .suites import Goals

DERIVED = "insertion_minus_deletion"
CORRECT = "own_above_other"
CATEGORY_ORDER = tuple(CATEGORIES)
CONFIDENCE = 0.95
# Numbers right-aligned, the method column left; charts small enough to sit side by side.
PAGE_STYLE = "td,th{text-align:right}td:first-child,th:first-child{text-align:left}img{max-width:32em}"


@dataclass(frozen=True)
class Cell:
    """The summary of one (group, method, metric) over its images.

    ``low``/``high``: the 95 % percentile-bootstrap confidence interval of the mean
    (NaN with fewer than two images).
    """

    mean: float
    low: float
    high: float
    n: int
    undefined: int
    failures: int


def _metric_meta(metric: str) -> tuple[str, bool]:
    """(category, higher_is_better) of a metric name, the report's derived ones included."""
    if metric == DERIVED:
        return "faithfulness", True
    if metric == CORRECT:
        return "localisation", True
    if metric in metrics():
        info = metric_info(metric)
        return info.category, info.higher_is_better
    return "other", True


def current_rows(rows: list[Row]) -> list[Row]:
    """Per (group, method, metric), the rows of its latest configuration only.

    A changed option makes new cells (a new ``config``); the older cells stay in the
    file, and the configuration seen last (the newest) is the one reported.
    """
    latest: dict[tuple[str, str, str], str] = {}
    for r in rows:
        latest[(r.group, r.method, r.metric)] = r.config
    return [r for r in rows if latest[(r.group, r.method, r.metric)] == r.config]


def paired_rows(rows: list[Row]) -> list[Row]:
    """Per (group, metric), only the images that every method of the group has a row for.

    A run cut short leaves methods on different numbers of images; comparing their means
    would compare different images. Failure rows count as present (they are listed).
    """
    methods: dict[str, set[str]] = defaultdict(set)
    seen: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for r in rows:
        methods[r.group].add(r.method)
        seen[(r.group, r.metric, r.image)].add(r.method)
    return [r for r in rows if seen[(r.group, r.metric, r.image)] >= methods[r.group] or r.metric == "load"]


def _with_derived(rows: list[Row]) -> list[Row]:
    """Add per image insertion - deletion, and whether the own object's mass margin is positive."""
    by_key = {(r.group, r.method, r.image, r.metric): r for r in rows}
    extra = []
    for r in rows:
        if r.status != "ok" or r.value is None:
            continue
        if r.metric == "insertion":
            other = by_key.get((r.group, r.method, r.image, "deletion"))
            if other is not None and other.status == "ok" and other.value is not None:
                extra.append(Row(r.group, r.method, r.image, DERIVED, r.value - other.value, config=r.config))
        elif r.metric == "mass_margin":
            extra.append(Row(r.group, r.method, r.image, CORRECT, float(r.value > 0), config=r.config))
    return rows + extra


def bootstrap_interval(values: list[float], *, resamples: int, seed: int) -> tuple[float, float]:
    """The 95 % percentile-bootstrap interval of the mean of ``values`` (NaN, NaN for fewer than two).

    Written here rather than with ``scipy.stats.bootstrap`` because that one warns and
    returns NaN on a sample with no spread (a method that scores 1.0 on every image),
    where the interval is simply the value.
    """
    if len(values) < 2:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    data = np.asarray(values, dtype=np.float64)
    means = data[rng.integers(0, len(data), size=(resamples, len(data)))].mean(axis=1)
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def _seed(key: tuple[str, str, str]) -> int:
    """A stable seed per cell, so that a report rebuilt from the same rows gives the same intervals."""
    return int.from_bytes(hashlib.sha256("/".join(key).encode()).digest()[:4], "little")


def summarise(
    rows: Iterable[Row], *, resamples: int = 2000, paired: bool = False
) -> dict[str, dict[str, dict[str, Cell]]]:
    """{group: {method: {metric: Cell}}} over the images of each cell (latest configuration only).

    ``paired``: only the images every method of the group has scored (:func:`paired_rows`).
    """
    values: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    undefined: dict[tuple[str, str, str], int] = defaultdict(int)
    failures: dict[tuple[str, str, str], int] = defaultdict(int)
    keys: list[tuple[str, str, str]] = []
    latest = current_rows(list(rows))
    for r in _with_derived(paired_rows(latest) if paired else latest):
        if r.metric == "load":
            continue  # a group that did not load: listed among the failures, not in the tables
        key = (r.group, r.method, r.metric)
        if key not in values and key not in failures and key not in undefined:
            keys.append(key)
        if r.status != "ok":
            failures[key] += 1
        elif r.value is None:
            undefined[key] += 1
        else:
            values[key].append(r.value)
    out: dict[str, dict[str, dict[str, Cell]]] = defaultdict(lambda: defaultdict(dict))
    for key in keys:
        vals = values.get(key, [])
        mean = sum(vals) / len(vals) if vals else math.nan
        low, high = bootstrap_interval(vals, resamples=resamples, seed=_seed(key))
        out[key[0]][key[1]][key[2]] = Cell(mean, low, high, len(vals), undefined.get(key, 0), failures.get(key, 0))
    return {g: dict(m) for g, m in out.items()}


def _metric_columns(table: dict[str, dict[str, Cell]]) -> list[str]:
    metrics = {m for cells in table.values() for m in cells if m != "load"}

    def order(m: str) -> tuple[int, str]:
        category = _metric_meta(m)[0]
        return (CATEGORY_ORDER.index(category) if category in CATEGORY_ORDER else 99, m)

    return sorted(metrics, key=order)


def _best(table: dict[str, dict[str, Cell]], metric: str) -> tuple[str | None, float]:
    """The best method on ``metric`` and its mean (None, NaN when no method has a value)."""
    _, higher = _metric_meta(metric)
    scored = {m: c[metric].mean for m, c in table.items() if metric in c and not math.isnan(c[metric].mean)}
    if not scored:
        return None, math.nan
    best = max(scored, key=lambda m: scored[m]) if higher else min(scored, key=lambda m: scored[m])
    return best, scored[best]


def _fmt(cell: Cell | None) -> str:
    if cell is None:
        return "–"
    if math.isnan(cell.mean):
        return "fail" if cell.failures else "n/a"
    digits = 2 if abs(cell.mean) >= 10 else 3
    text = f"{cell.mean:.{digits}f}"
    if not math.isnan(cell.low):
        text += f" [{cell.low:.{digits}f}, {cell.high:.{digits}f}]"
    text += f" n={cell.n}"
    if cell.failures or cell.undefined:
        text += f" ({cell.failures + cell.undefined} missing)"
    return text


def add_table(page: Page, table: dict[str, dict[str, Cell]], highlight: str) -> None:
    """Methods as rows (in the registry's display order, ``highlight`` in bold), metrics as
    columns (↑/↓ = better), the best of each column in bold."""
    columns = _metric_columns(table)
    header = ["method"] + [f"{m} {'↑' if _metric_meta(m)[1] else '↓'}" for m in columns]
    bests = {m: _best(table, m)[1] for m in columns}
    rows = []
    for method in sorted(table, key=_display_order):
        cells = table[method]
        best = [m in cells and cells[m].mean == bests[m] for m in columns]
        rows.append(
            [PageCell(method, method == highlight)] + [PageCell(_fmt(cells.get(m)), b) for m, b in zip(columns, best)]
        )
    page.table(header, rows)


def _display_order(method: str) -> tuple[int, str]:
    from ..api import method_info, methods

    return (method_info(method).order if method in methods() else 99, method)


def _ci(cell: Cell) -> str:
    return (
        f"{cell.mean:.3f}" + ("" if math.isnan(cell.low) else f" [{cell.low:.3f}, {cell.high:.3f}]") + f" (n={cell.n})"
    )


def goals(summary: dict[str, dict[str, dict[str, Cell]]], goal: Goals) -> list[str]:
    """The suite's goals for its highlighted method, each stated with the measured numbers and CIs."""
    from ..api import method_info, methods

    registered = methods()
    lines = []
    for group, table in summary.items():
        ours = table.get(goal.highlight)
        if ours is None:
            continue
        for metric in goal.localisation:
            if metric not in ours or math.isnan(ours[metric].mean):
                continue
            others = {m: c for m, c in table.items() if m != goal.highlight}
            best_method, best = _best(others, metric)
            if best_method is None:
                continue
            gap = best - ours[metric].mean
            # 1e-9: 0.82 - 0.80 is 0.020000000000000018 in floating point, and "within 0.02" includes 0.02.
            verdict = "met" if gap <= goal.within_best + 1e-9 else f"missed by {gap - goal.within_best:.3f}"
            lines.append(
                f"- {group}: {metric} {_ci(ours[metric])}; best other {best_method} {_ci(table[best_method][metric])}; "
                f"goal (first or within {goal.within_best} of the best) {verdict}"
            )
        if "mass_margin" in ours and not math.isnan(ours["mass_margin"].mean):
            value = ours["mass_margin"].mean
            verdict = "met" if value >= goal.min_margin else f"missed by {goal.min_margin - value:.3f}"
            lines.append(
                f"- {group}: own-minus-other mass margin {_ci(ours['mass_margin'])}; "
                f"goal (at least {goal.min_margin}) {verdict}"
            )
        if CORRECT in ours and not math.isnan(ours[CORRECT].mean):
            value = ours[CORRECT].mean
            verdict = "met" if value >= goal.min_correct else f"missed by {goal.min_correct - value:.3f}"
            lines.append(
                f"- {group}: share with more mass on its own object {_ci(ours[CORRECT])}; "
                f"goal (at least {goal.min_correct:.0%}) {verdict}"
            )
        if "randomisation_correlation" in ours and not math.isnan(ours["randomisation_correlation"].mean):
            value = ours["randomisation_correlation"].mean
            verdict = "met" if value < goal.max_randomisation else f"missed by {value - goal.max_randomisation:.3f}"
            lines.append(
                f"- {group}: rank correlation under full randomisation {_ci(ours['randomisation_correlation'])}; "
                f"goal (< {goal.max_randomisation}) {verdict}"
            )
        if DERIVED in ours and group.startswith("photos-"):
            gradients = {
                m: table[m][DERIVED].mean
                for m in table
                if m in registered and method_info(m).kind in goal.gradient_kinds and DERIVED in table[m]
            }
            if gradients:
                top = max(gradients, key=lambda m: gradients[m])
                value = ours[DERIVED].mean
                verdict = "met" if value >= gradients[top] else f"missed by {gradients[top] - value:.3f}"
                lines.append(
                    f"- {group}: insertion − deletion {_ci(ours[DERIVED])}; best gradient method {top} "
                    f"{_ci(table[top][DERIVED])}; goal (at least every gradient method) {verdict}"
                )
    return lines


def _failures(rows: list[Row]) -> list[str]:
    counts: dict[tuple[str, str, str], int] = defaultdict(int)
    for r in rows:
        if r.status != "ok":
            counts[(r.group, r.method, r.error)] += 1
    return [f"- {g} / {m}: {n} cell(s): `{e}`" for (g, m, e), n in sorted(counts.items())]


def _chart_name(metric: str) -> str:
    return f"{metric}.png"


def _charts(summary: dict[str, dict[str, dict[str, Cell]]], out: Path, highlight: str) -> dict[str, list[Path]]:
    from ..viz.charts import bar_chart, quality_vs_seconds

    made: dict[str, list[Path]] = {}
    for group, table in summary.items():
        paths = []
        for metric in _metric_columns(table):
            _, higher = _metric_meta(metric)
            values = {m: (c[metric].mean, c[metric].low, c[metric].high) for m, c in table.items() if metric in c}
            paths.append(
                bar_chart(
                    values,
                    out / "charts" / group / _chart_name(metric),
                    title=f"{metric} — {group}",
                    ylabel=metric,
                    higher_is_better=higher,
                    highlight=highlight,
                )
            )
        for quality in ("energy_pointing_game", "equal_area_iou", "mass_margin", DERIVED):
            points = {
                m: (c["seconds"].mean, c[quality].mean) for m, c in table.items() if "seconds" in c and quality in c
            }
            if points:
                paths.append(
                    quality_vs_seconds(
                        points,
                        out / "charts" / group / f"quality_vs_seconds-{quality}.png",
                        title=f"{quality} versus cost — {group}",
                        quality=quality,
                        highlight=highlight,
                    )
                )
        made[group] = paths
    return made


def _suite_of(machine: dict[str, Any]) -> Goals:
    """The goals of the suite the latest run in ``machine.json`` ran (the default goals otherwise)."""
    from .suites import SUITES

    runs = machine.get("runs") if isinstance(machine.get("runs"), list) else [machine]
    name = runs[-1].get("suite") if runs and isinstance(runs[-1], dict) else None
    return SUITES[name].goals if name in SUITES else Goals()


def write_report(
    out: str | Path, *, charts: bool = True, goal: Goals | None = None, resamples: int = 2000, paired: bool = True
) -> list[Path]:
    """Read ``out/rows.jsonl`` and write the summary, tables, charts and page; return their paths.

    ``goal``: what to check (default: the goals of the suite ``machine.json`` last ran).
    ``paired``: every table counts, per metric, only the images every method of the
    group has scored, so that a run cut short compares methods on the same images.
    """
    out = Path(out)
    rows = read_rows(out / ROWS_FILE)
    summary = summarise(rows, resamples=resamples, paired=paired)
    machine_path = out / MACHINE_FILE
    machine = json.loads(machine_path.read_text(encoding="utf-8")) if machine_path.exists() else {}
    goal = goal or _suite_of(machine)
    written = []

    csv_path = out / "summary.csv"
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(
        [
            "group",
            "method",
            "metric",
            "category",
            "higher_is_better",
            "mean",
            "ci_low",
            "ci_high",
            "n",
            "undefined",
            "failures",
        ]
    )
    for group, table in summary.items():
        for method, cells in sorted(table.items()):
            for metric, c in cells.items():
                category, higher = _metric_meta(metric)
                writer.writerow(
                    [group, method, metric, category, higher, c.mean, c.low, c.high, c.n, c.undefined, c.failures]
                )
    written.append(write_text(csv_path, text.getvalue()))

    chart_paths = _charts(summary, out, goal.highlight) if charts else {}
    goal_lines = goals(summary, goal)
    failure_lines = _failures(current_rows(rows))
    page = Page("neuromask benchmark", style=PAGE_STYLE)
    page.paragraph(
        "Mean over images [95 % percentile-bootstrap confidence interval of the mean] n = images scored; "
        "the best of each column in bold; ↑ higher is better, ↓ lower. Machine and runs: `machine.json`."
        + (" Per group and metric, only the images that every method has scored (paired)." if paired else "")
    )
    page.heading(2, f"Goals for {goal.highlight}")
    page.items([line[2:] for line in goal_lines] or [f"(no {goal.highlight} rows)"])
    for group, table in summary.items():
        page.heading(2, group)
        add_table(page, table, goal.highlight)
        if chart_paths.get(group):
            page.images([str(p.relative_to(out)) for p in chart_paths[group]])
    page.heading(2, "Failures")
    page.items([line[2:] for line in failure_lines] or ["none"])
    page.heading(2, "Machine and runs (machine.json)")
    page.preformatted(json.dumps(machine, indent=1), markdown="In `machine.json`.")
    written += page.write(out / "results.md", out / "index.html")
    return written + [p for paths in chart_paths.values() for p in paths]
