"""The report: reads the rows only, and writes tables, charts and an HTML page.

Outputs, in the run's folder:

- ``summary.csv``: one line per (group, method, metric): mean, standard error, the
  number of images scored, of undefined scores (NaN, e.g. a constant map's rank
  correlation) and of failures;
- ``results.md``: per group a table with the methods as rows and the metrics as
  columns (mean ± standard error over images; the best of each column in bold), plus
  ``insertion_minus_deletion`` where both were measured, the failures, and the goals
  NeuroMask is measured against;
- ``charts/<group>/<metric>.png`` (one bar chart per metric) and
  ``charts/<group>/quality_vs_seconds.png``;
- ``index.html``: all of the above on one page.
"""

from __future__ import annotations

import csv
import html
import json
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .rows import Row, read_rows
from .runner import MACHINE_FILE, ROWS_FILE

DERIVED = "insertion_minus_deletion"
CATEGORY_ORDER = ("localisation", "faithfulness", "sanity", "complexity", "cost")
# Method kinds counted as gradient methods for the goal on the photos.
GRADIENT_KINDS = ("gradient", "cam")
HIGHLIGHT = "neuromask"


@dataclass(frozen=True)
class Cell:
    """The summary of one (group, method, metric) over its images."""

    mean: float
    sem: float
    n: int
    undefined: int
    failures: int


def _metric_meta(metric: str) -> tuple[str, bool]:
    """(category, higher_is_better) of a metric name, the derived one included."""
    from ..metrics import METRICS

    if metric == DERIVED:
        return "faithfulness", True
    if metric in METRICS:
        meta = METRICS.entry(metric).meta
        return str(meta["category"]), bool(meta["higher_is_better"])
    return "other", True


def _with_derived(rows: list[Row]) -> list[Row]:
    """Add insertion - deletion per image where both rows are successful."""
    by_key = {r.key: r for r in rows}
    extra = []
    for r in rows:
        if r.metric != "insertion" or r.status != "ok" or r.value is None:
            continue
        other = by_key.get((r.group, r.method, r.image, "deletion"))
        if other is not None and other.status == "ok" and other.value is not None:
            extra.append(Row(r.group, r.method, r.image, DERIVED, r.value - other.value))
    return rows + extra


def summarise(rows: Iterable[Row]) -> dict[str, dict[str, dict[str, Cell]]]:
    """{group: {method: {metric: Cell}}} over the images of each cell."""
    values: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    undefined: dict[tuple[str, str, str], int] = defaultdict(int)
    failures: dict[tuple[str, str, str], int] = defaultdict(int)
    keys: list[tuple[str, str, str]] = []
    for r in _with_derived(list(rows)):
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
        n = len(vals)
        mean = sum(vals) / n if n else math.nan
        sem = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1) / n) if n > 1 else math.nan
        out[key[0]][key[1]][key[2]] = Cell(mean, sem, n, undefined.get(key, 0), failures.get(key, 0))
    return {g: dict(m) for g, m in out.items()}


def _metric_columns(table: dict[str, dict[str, Cell]]) -> list[str]:
    metrics = {m for cells in table.values() for m in cells if m != "load"}
    return sorted(metrics, key=lambda m: (CATEGORY_ORDER.index(_metric_meta(m)[0]) if _metric_meta(m)[0] in CATEGORY_ORDER else 99, m))


def _best(table: dict[str, dict[str, Cell]], metric: str) -> float:
    _, higher = _metric_meta(metric)
    means = [c[metric].mean for c in table.values() if metric in c and not math.isnan(c[metric].mean)]
    if not means:
        return math.nan
    return max(means) if higher else min(means)


def _fmt(cell: Cell | None, best: float) -> str:
    if cell is None:
        return "–"
    if math.isnan(cell.mean):
        return "fail" if cell.failures else "n/a"
    digits = 2 if abs(cell.mean) >= 10 else 3
    text = f"{cell.mean:.{digits}f}"
    if not math.isnan(cell.sem):
        text += f" ± {cell.sem:.{digits}f}"
    if cell.failures or cell.undefined:
        text += f" ({cell.failures + cell.undefined} of {cell.n + cell.failures + cell.undefined} missing)"
    return f"**{text}**" if cell.mean == best else text


def markdown_table(table: dict[str, dict[str, Cell]]) -> str:
    """Methods as rows, metrics as columns (higher/lower-is-better marked with ↑/↓)."""
    columns = _metric_columns(table)
    arrows = {m: "↑" if _metric_meta(m)[1] else "↓" for m in columns}
    lines = [
        "| method | " + " | ".join(f"{m} {arrows[m]}" for m in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    bests = {m: _best(table, m) for m in columns}
    for method in sorted(table):
        cells = table[method]
        name = f"**{method}**" if method == HIGHLIGHT else method
        lines.append(f"| {name} | " + " | ".join(_fmt(cells.get(m), bests[m]) for m in columns) + " |")
    return "\n".join(lines)


def goals(summary: dict[str, dict[str, dict[str, Cell]]]) -> list[str]:
    """The issue's three goals for NeuroMask, each stated with the measured numbers."""
    from ..explainers import METHODS

    lines = []
    for group, table in summary.items():
        if HIGHLIGHT not in table:
            continue
        ours = table[HIGHLIGHT]
        if "energy_pointing_game" in ours:
            best_method = max(
                (m for m in table if "energy_pointing_game" in table[m] and not math.isnan(table[m]["energy_pointing_game"].mean)),
                key=lambda m: table[m]["energy_pointing_game"].mean,
                default=None,
            )
            if best_method is not None:
                best = table[best_method]["energy_pointing_game"].mean
                value = ours["energy_pointing_game"].mean
                met = value >= 0.95 * best
                lines.append(
                    f"- {group}: energy pointing game {value:.3f}; best {best:.3f} ({best_method}); "
                    f"goal (within 5% of the best) {'met' if met else f'missed by {(0.95 * best - value):.3f}'}"
                )
        if DERIVED in ours:
            value = ours[DERIVED].mean
            gradients = {
                m: table[m][DERIVED].mean
                for m in table
                if m in METHODS and METHODS.entry(m).meta.get("kind") in GRADIENT_KINDS and DERIVED in table[m]
            }
            if gradients:
                top = max(gradients, key=lambda m: gradients[m])
                met = all(value >= v for v in gradients.values())
                lines.append(
                    f"- {group}: insertion − deletion {value:.3f}; best gradient method {gradients[top]:.3f} ({top}); "
                    f"goal (at least every gradient method) {'met' if met else f'missed by {gradients[top] - value:.3f}'}"
                )
        if "randomisation_correlation" in ours:
            value = ours["randomisation_correlation"].mean
            lines.append(
                f"- {group}: rank correlation under full randomisation {value:.3f}; "
                f"goal (< 0.3) {'met' if value < 0.3 else f'missed by {value - 0.3:.3f}'}"
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


def _charts(summary: dict[str, dict[str, dict[str, Cell]]], out: Path) -> dict[str, list[Path]]:
    from ..viz.charts import bar_chart, quality_vs_seconds

    made: dict[str, list[Path]] = {}
    for group, table in summary.items():
        paths = []
        for metric in _metric_columns(table):
            _, higher = _metric_meta(metric)
            values = {m: (c[metric].mean, c[metric].sem) for m, c in table.items() if metric in c}
            paths.append(
                bar_chart(values, out / "charts" / group / _chart_name(metric), title=f"{metric} — {group}",
                          ylabel=metric, higher_is_better=higher)
            )
        quality = "energy_pointing_game" if any("energy_pointing_game" in c for c in table.values()) else DERIVED
        points = {
            m: (c["seconds"].mean, c[quality].mean) for m, c in table.items() if "seconds" in c and quality in c
        }
        if points:
            paths.append(
                quality_vs_seconds(points, out / "charts" / group / "quality_vs_seconds.png",
                                   title=f"{quality} versus cost — {group}", quality=quality)
            )
        made[group] = paths
    return made


def _html(markdown_sections: list[tuple[str, str, list[Path]]], goal_lines: list[str], failures: list[str],
          machine: dict[str, object], out: Path) -> str:
    def table_html(md: str) -> str:
        lines = [line for line in md.splitlines() if line.startswith("|")]
        head = [c.strip() for c in lines[0].strip("|").split("|")]
        body = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]

        def cell(text: str, tag: str) -> str:
            bold = text.startswith("**") and text.endswith("**")
            inner = html.escape(text.strip("*"))
            return f"<{tag}>{'<b>' + inner + '</b>' if bold else inner}</{tag}>"

        rows = ["<tr>" + "".join(cell(h, "th") for h in head) + "</tr>"]
        rows += ["<tr>" + "".join(cell(c, "td") for c in r) + "</tr>" for r in body]
        return "<table>" + "".join(rows) + "</table>"

    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>neuromask benchmark</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:80em}table{border-collapse:collapse;font-size:90%}"
        "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}td:first-child,th:first-child{text-align:left}"
        "img{max-width:32em;margin:4px}</style></head><body>",
        "<h1>neuromask benchmark</h1>",
        "<pre>" + html.escape(json.dumps(machine, indent=1)) + "</pre>",
        "<h2>Goals for NeuroMask</h2><ul>" + "".join(f"<li>{html.escape(g[2:])}</li>" for g in goal_lines) + "</ul>",
    ]
    for group, md, charts in markdown_sections:
        parts.append(f"<h2>{html.escape(group)}</h2>" + table_html(md))
        parts.append("".join(f"<img src='{html.escape(str(p.relative_to(out)))}' alt=''>" for p in charts))
    parts.append("<h2>Failures</h2><ul>" + "".join(f"<li>{html.escape(f[2:])}</li>" for f in failures) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(out: str | Path, *, charts: bool = True) -> list[Path]:
    """Read ``out/rows.jsonl`` and write the summary, tables, charts and page; return their paths."""
    out = Path(out)
    rows = read_rows(out / ROWS_FILE)
    summary = summarise(rows)
    machine_path = out / MACHINE_FILE
    machine = json.loads(machine_path.read_text(encoding="utf-8")) if machine_path.exists() else {}
    written = []

    csv_path = out / "summary.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["group", "method", "metric", "category", "higher_is_better", "mean", "sem", "n", "undefined", "failures"])
        for group, table in summary.items():
            for method, cells in sorted(table.items()):
                for metric, c in cells.items():
                    category, higher = _metric_meta(metric)
                    writer.writerow([group, method, metric, category, higher, c.mean, c.sem, c.n, c.undefined, c.failures])
    written.append(csv_path)

    chart_paths = _charts(summary, out) if charts else {}
    goal_lines = goals(summary)
    failure_lines = _failures(rows)
    sections = [(group, markdown_table(table), chart_paths.get(group, [])) for group, table in summary.items()]
    md = ["# neuromask benchmark", ""]
    if machine:
        md += ["Machine and options (`machine.json`):", "", "```", json.dumps(machine, indent=1), "```", ""]
    md += ["Mean ± standard error over images; the best of each column in bold; ↑ higher is better, ↓ lower.", ""]
    md += ["## Goals for NeuroMask", ""] + (goal_lines or ["- (no NeuroMask rows)"]) + [""]
    for group, table_md, _ in sections:
        md += [f"## {group}", "", table_md, ""]
    md += ["## Failures", ""] + (failure_lines or ["- none"]) + [""]
    md_path = out / "results.md"
    md_path.write_text("\n".join(md), encoding="utf-8")
    written.append(md_path)

    html_path = out / "index.html"
    html_path.write_text(_html(sections, goal_lines, failure_lines, machine, out), encoding="utf-8")
    written.append(html_path)
    return written + [p for paths in chart_paths.values() for p in paths]
