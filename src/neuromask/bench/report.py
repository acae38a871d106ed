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
- ``SUMMARY.md`` (:mod:`.summary`): every sentence written from the same numbers.

Statistics (:mod:`neuromask.evaluation.stats`): per group one set of bootstrap resamples of
the images, by scene where a group has scenes; proportions get Wilson intervals.
"""

from __future__ import annotations

import csv
import hashlib
import html
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
from .runner import GROUPS, MACHINE_FILE
from .suites import Goals

ROWS = "rows.parquet"
DERIVED = "insertion_minus_deletion"
CORRECT = "own_above_other"
CATEGORY_ORDER = ("localisation", "faithfulness", "sanity", "complexity", "cost")
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
    from ..evaluation.metrics import PROPORTIONS, entry

    if metric == DERIVED:
        return "faithfulness", True, False
    if metric == CORRECT:
        return "localisation", True, True
    try:
        meta = entry(metric).meta
    except Exception:  # noqa: BLE001 - a name from an older run: shown, never ranked as special
        return "other", True, False
    return str(meta["category"]), bool(meta["higher_is_better"]), metric in PROPORTIONS


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
    gap = Difference(sign * d.mean, *sorted((sign * d.low, sign * d.high)), d.n) if math.isfinite(d.low) else d
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


@dataclass(frozen=True)
class TableData:
    """One group's table: the header, and per method its cells (text, best?)."""

    header: list[str]
    rows: list[tuple[str, bool, list[tuple[str, bool]]]]


def build_table(stats: GroupStats, highlight: str) -> TableData:
    """Methods as rows (display order), metrics as columns (↑/↓ = better): mean [interval] n #rank; rank 1 bold."""
    metrics = stats.metrics
    header = ["method"] + [f"{m} {'↑' if metric_meta(m)[1] else '↓'}" for m in metrics]
    rows = []
    for method in stats.methods:
        cells = []
        for metric in metrics:
            est = stats.cells.get((method, metric))
            if est is None:
                cells.append(("–", False))
                continue
            missing = stats.failed.get((method, metric), 0) + stats.undefined.get((method, metric), 0)
            text = f"{interval(est)} n={est.n}" + (f" ({missing} missing)" if missing else "")
            rank = stats.ranks.get((method, metric))
            cells.append((text + (f" #{rank}" if rank else ""), rank == 1))
        rows.append((method, method == highlight, cells))
    return TableData(header, rows)


def markdown_table(table: TableData) -> str:
    def bold(text: str, yes: bool) -> str:
        return f"**{text}**" if yes else text

    lines = ["| " + " | ".join(table.header) + " |", "|---|" + "---|" * (len(table.header) - 1)]
    for method, highlighted, cells in table.rows:
        lines.append(f"| {bold(method, highlighted)} | " + " | ".join(bold(t, b) for t, b in cells) + " |")
    return "\n".join(lines)


def html_table(table: TableData) -> str:
    def cell(text: str, tag: str, bold: bool = False) -> str:
        inner = html.escape(text)
        return f"<{tag}>{'<b>' + inner + '</b>' if bold else inner}</{tag}>"

    rows = ["<tr>" + "".join(cell(h, "th") for h in table.header) + "</tr>"]
    for method, highlighted, cells in table.rows:
        rows.append("<tr>" + cell(method, "td", highlighted) + "".join(cell(t, "td", b) for t, b in cells) + "</tr>")
    return "<table>" + "".join(rows) + "</table>"


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
        f"- {name} / {method}: {count} row(s): `{error}`"
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
    with path.open("w", newline="", encoding="utf-8") as fh:
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
    tables = [(name, build_table(stats, goal.highlight), chart_paths.get(name, [])) for name, stats in groups.items()]
    legend = (
        "Mean over images [95 % interval] n = images scored, #rank (1 + the methods better on the paired "
        "bootstrap interval of the difference; rank 1 in bold); ↑ higher is better, ↓ lower. Intervals: "
        "percentile bootstrap of the images (of the scenes, for two-object scenes), Wilson's for proportions. "
        "Machine and runs: `machine.json`."
    )
    md = ["# neuromask benchmark", "", legend, "", f"## Goals for {goal.highlight}", ""]
    md += [f"- {v.group}: {v.what} {v.ours}; {v.against}: {v.verdict}" for v in verdicts] or ["- (no rows)"]
    md.append("")
    for name, table, _ in tables:
        md += [f"## {name}", "", markdown_table(table), ""]
    md += ["## Failures", ""] + (failures or ["- none"]) + [""]
    (out / "results.md").write_text("\n".join(md), encoding="utf-8")
    written.append(out / "results.md")
    page = [
        "<!doctype html><html><head><meta charset='utf-8'><title>neuromask benchmark</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:100em}table{border-collapse:collapse;font-size:80%}"
        "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}td:first-child,th:first-child{text-align:left}"
        "img{max-width:32em;margin:4px}</style></head><body><h1>neuromask benchmark</h1>",
        f"<p>{html.escape(legend)}</p><h2>Goals for {html.escape(goal.highlight)}</h2><ul>",
        *(f"<li>{html.escape(f'{v.group}: {v.what} {v.ours}; {v.against}: {v.verdict}')}</li>" for v in verdicts),
        "</ul>",
    ]
    for name, table, paths in tables:
        page.append(f"<h2>{html.escape(name)}</h2>" + html_table(table))
        page.append("".join(f"<img src='{html.escape(p.relative_to(out).as_posix())}' alt=''>" for p in paths))
    page.append("<h2>Failures</h2><ul>" + "".join(f"<li>{html.escape(f[2:])}</li>" for f in failures) + "</ul>")
    page.append("<h2>Machine and runs</h2><pre>" + html.escape(json.dumps(machine, indent=1)) + "</pre></body></html>")
    (out / "index.html").write_text("\n".join(page), encoding="utf-8")
    written.append(out / "index.html")
    written.append(write_summary(out, groups, verdicts, goal, machine))
    return written + [p for paths in chart_paths.values() for p in paths]
