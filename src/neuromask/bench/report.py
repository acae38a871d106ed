"""The suite's report: reads the rows only, and writes the tables, charts, page and summary.

The rows are every group's ``scores.parquet`` (the format of every evaluation), gathered
into ``DIR/rows.parquet`` with the group and, for two-object scenes, the scene of each
image; a folder that holds only ``rows.parquet`` (the committed results) reports the same.

Outputs, in the run's folder:

- ``summary.csv``: one line per (group, method, metric): n, mean, 95 % interval, rank
  (from the paired bootstrap interval of the difference), undefined and failed rows;
- ``results.md`` and ``index.html``: per group a table (methods as rows, metrics as
  columns), plus the derived ``insertion_minus_deletion`` and, on two-object scenes,
  ``own_above_other`` (the share of images whose mass margin is positive), the suite's goals
  with verdicts read from intervals, and the failures;
- ``charts/<group>/<metric>.png`` and ``charts/<group>/quality_vs_seconds-<metric>.png``;
- ``SUMMARY.md`` (:mod:`neuromask.bench.summary`): every sentence written from the same numbers.

The statistics are :mod:`neuromask.bench.tables`.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from .._core import atomic_path
from ..evaluation.stats import RESAMPLES
from ..outputs import Cell, Page
from .runner import MACHINE_FILE
from .suites import Goals
from .tables import DERIVED, GroupStats, collect_rows, goals, interval, metric_meta, read_groups

# Numbers right-aligned, the method column left; charts small enough to sit side by side.
PAGE_STYLE = "td,th{text-align:right}td:first-child,th:first-child{text-align:left}img{max-width:32em}"


def table_rows(stats: GroupStats, highlight: str) -> tuple[list[str], list[list[str | Cell]]]:
    """One group's table: methods as rows (display order), metrics as columns (↑/↓ = better),
    each cell mean [interval] n #rank, rank 1 in bold; the highlighted method's name in bold."""
    metrics = stats.metrics
    header = ["method"] + [f"{m} {'↑' if metric_meta(m)[1] else '↓'}" for m in metrics]
    rows: list[list[str | Cell]] = []
    for method in stats.methods:
        cells: list[str | Cell] = [Cell(method, bold=method == highlight)]
        for metric in metrics:
            est = stats.cells.get((method, metric))
            if est is None:
                cells.append("–")
                continue
            missing = stats.failed.get((method, metric), 0) + stats.undefined.get((method, metric), 0)
            text = f"{interval(est)} n={est.n}" + (f" ({missing} missing)" if missing else "")
            rank = stats.ranks.get((method, metric))
            cells.append(Cell(text + (f" #{rank}" if rank else ""), bold=rank == 1))
        rows.append(cells)
    return header, rows


def _charts(groups: dict[str, GroupStats], out: Path, highlight: str) -> dict[str, list[Path]]:
    from ..viz.charts import bar_chart, quality_vs_seconds

    made: dict[str, list[Path]] = {}
    for name, stats in groups.items():
        folder = out / "charts" / name
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for metric in stats.metrics:
            values = {
                m: (stats.cells[(m, metric)].mean, stats.cells[(m, metric)].low, stats.cells[(m, metric)].high)
                for m in stats.values[metric]
            }
            paths.append(bar_chart(values, folder / f"{metric}.png", title=f"{metric} — {name}", ylabel=metric,
                                   higher_is_better=metric_meta(metric)[1], highlight=highlight))  # fmt: skip
        for quality in ("energy", "eq_iou", "mass_margin", DERIVED):
            if quality not in stats.values or "seconds" not in stats.values:
                continue
            points = {
                m: (stats.cells[(m, "seconds")].mean, stats.cells[(m, quality)].mean)
                for m in stats.values[quality]
                if (m, "seconds") in stats.cells
            }
            paths.append(quality_vs_seconds(points, folder / f"quality_vs_seconds-{quality}.png",
                                            title=f"{quality} versus cost — {name}", quality=quality,
                                            highlight=highlight))  # fmt: skip
        made[name] = paths
    return made


def _failures(groups: dict[str, GroupStats]) -> list[str]:
    return [
        f"{name} / {method}: {count} row(s): `{error}`"
        for name, stats in groups.items()
        for (method, error), count in sorted(stats.errors.items())
    ]


def _suite_goals(machine: dict[str, Any]) -> Goals:
    """The goals of the suite the latest run in ``machine.json`` ran (the default goals otherwise)."""
    from .suites import SUITES

    runs = machine.get("runs") if isinstance(machine.get("runs"), list) else [machine]
    name = runs[-1].get("suite") if runs and isinstance(runs[-1], dict) else None
    return SUITES[name].goals if name in SUITES else Goals()


def write_summary_csv(path: Path, groups: dict[str, GroupStats]) -> Path:
    columns = ["group", "method", "metric", "category", "higher_is_better", "n", "mean", "ci95_low", "ci95_high",
               "rank", "undefined", "failed"]  # fmt: skip
    with atomic_path(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for name, stats in groups.items():
            for method in stats.methods:
                for metric in stats.metrics:
                    est = stats.cells.get((method, metric))
                    if est is None:
                        continue
                    category, higher, _ = metric_meta(metric)
                    writer.writerow([name, method, metric, category, higher, est.n, est.mean, est.low, est.high,
                                     stats.ranks.get((method, metric), ""), stats.undefined.get((method, metric), 0),
                                     stats.failed.get((method, metric), 0)])  # fmt: skip
    return path


def write_report(
    out: str | Path, *, charts: bool = True, goal: Goals | None = None, resamples: int = RESAMPLES
) -> list[Path]:
    """Gather the rows, then write the summary, tables, charts, page and SUMMARY.md; return their paths.

    ``goal``: what to check (default: the goals of the suite ``machine.json`` last ran).
    """
    from .summary import write_summary

    out = Path(out)
    collect_rows(out)
    groups = read_groups(out, resamples=resamples)
    machine_path = out / MACHINE_FILE
    machine = json.loads(machine_path.read_text(encoding="utf-8")) if machine_path.exists() else {}
    goal = goal or _suite_goals(machine)
    written = [write_summary_csv(out / "summary.csv", groups)]
    chart_paths = _charts(groups, out, goal.highlight) if charts else {}
    verdicts = goals(groups, goal)
    failures = _failures(groups)
    page = Page("neuromask benchmark", style=PAGE_STYLE)
    page.paragraph(
        "Mean over images [95 % interval] n = images scored, #rank (1 + the methods better on the paired "
        "bootstrap interval of the difference; rank 1 in bold); ↑ higher is better, ↓ lower. Intervals: "
        "percentile bootstrap of the images (of the scenes, for two-object scenes), Wilson's for proportions. "
        "Machine and runs: `machine.json`."
    )
    page.heading(2, f"Goals for {goal.highlight}")
    page.items([f"{v.group}: {v.what} {v.ours}; {v.against}: {v.verdict}" for v in verdicts] or ["(no rows)"])
    for name, stats in groups.items():
        page.heading(2, name)
        page.table(*table_rows(stats, goal.highlight))
        if chart_paths.get(name):
            page.images([p.relative_to(out).as_posix() for p in chart_paths[name]])
    page.heading(2, "Failures")
    page.items(failures or ["none"])
    page.heading(2, "Machine and runs")
    page.preformatted(json.dumps(machine, indent=1), markdown="In `machine.json`.")
    written += page.write(out / "results.md", out / "index.html")
    written.append(write_summary(out, groups, verdicts, goal, machine))
    return written + [p for paths in chart_paths.values() for p in paths]
