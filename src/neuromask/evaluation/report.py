"""The evaluation's summary and report, written from the rows only (``scores.parquet``,
``results.parquet``, ``evaluation.json``) and the images and maps they name.

- ``summary.csv``: one row per (method, metric): ``method, metric, n, mean, ci95_low,
  ci95_high, rank`` (then ``higher_is_better, undefined, failed``), intervals and ranks as
  :mod:`neuromask.evaluation.stats` defines them;
- ``report.md`` and ``report.html``: the recommendation (which method, how sure), every
  method's mean per metric with its 95 % interval and rank, each metric's ranking with the
  paired difference to the first, the seconds per image, each method's best and worst
  images as pictures (``report/<method>.png``), and the failures.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from .._core import atomic_path
from ..errors import InputError
from ..outputs import Cell, Page
from .metrics import PROPORTIONS, info
from .stats import RESAMPLES, Resamples, ranks, win_shares

SUMMARY = "summary.csv"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"
PICTURES = "report"
# Categories whose metrics say how good a map is (the recommendation weighs these only).
QUALITY = ("localisation", "faithfulness", "sanity")
# Pictures per method: this many best and this many worst images.
EXTREMES = 2
# Numbers right-aligned, the method column left.
NUMBERS_STYLE = "td,th{text-align:right}td:first-child,th:first-child{text-align:left}"


@dataclass
class Table:
    """The scores as matrices: per metric, per method, values (n,) over ``images`` (NaN = none)."""

    images: list[str]
    methods: list[str]
    metrics: list[str]
    values: dict[str, dict[str, np.ndarray]]
    failed: dict[tuple[str, str], int]
    undefined: dict[tuple[str, str], int]


def load_table(out: Path, methods: list[str], metrics: list[str]) -> Table:
    """Read ``scores.parquet`` into a :class:`Table` (only the request's methods and metrics)."""
    rows = pq.read_table(out / "scores.parquet").to_pylist()
    images = sorted({r["image"] for r in rows if r["method"] in methods})
    index = {image: i for i, image in enumerate(images)}
    values = {m: {k: np.full(len(images), np.nan) for k in methods} for m in metrics}
    failed: dict[tuple[str, str], int] = defaultdict(int)
    undefined: dict[tuple[str, str], int] = defaultdict(int)
    for r in rows:
        if r["metric"] not in values or r["method"] not in methods:
            continue
        if r["status"] != "ok":
            failed[(r["method"], r["metric"])] += 1
        elif r["value"] is None or not math.isfinite(r["value"]):
            undefined[(r["method"], r["metric"])] += 1
        else:
            values[r["metric"]][r["method"]][index[r["image"]]] = r["value"]
    return Table(images, list(methods), list(metrics), values, dict(failed), dict(undefined))


def _seed(out_record: dict[str, Any]) -> int:
    text = json.dumps([out_record.get("methods"), out_record.get("metrics")], sort_keys=True)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def summarise(
    table: Table, clusters: dict[str, str] | None, *, resamples: int = RESAMPLES, seed: int = 0
) -> tuple[list[dict[str, Any]], Resamples]:
    """The rows of ``summary.csv``, and the resamples they were read from."""
    boot = Resamples(table.images, clusters, resamples=resamples, seed=seed)
    rows = []
    for metric in table.metrics:
        higher = info(metric).higher_is_better
        rank = ranks(table.values[metric], boot, higher_is_better=higher)
        for method in table.methods:
            est = boot.mean(table.values[metric][method], proportion=metric in PROPORTIONS)
            rows.append(
                {
                    "method": method,
                    "metric": metric,
                    "n": est.n,
                    "mean": est.mean,
                    "ci95_low": est.low,
                    "ci95_high": est.high,
                    "rank": rank.get(method),
                    "higher_is_better": higher,
                    "undefined": table.undefined.get((method, metric), 0),
                    "failed": table.failed.get((method, metric), 0),
                }
            )
    return rows, boot


def _fmt(value: float, digits: int = 3) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _interval(row: dict[str, Any]) -> str:
    text = _fmt(row["mean"])
    if math.isfinite(row["ci95_low"]):
        text += f" [{_fmt(row['ci95_low'])}, {_fmt(row['ci95_high'])}]"
    return text


def flat_metrics(summary: list[dict[str, Any]], metrics: list[str]) -> list[str]:
    """The metrics on which the spread of the methods' means is smaller than the median width of
    their intervals: where the data hardly separate the methods (e.g. a deletion curve that
    falls the same way whatever the map, because the baseline alone changes the class)."""
    flat = []
    for metric in metrics:
        rows = [r for r in summary if r["metric"] == metric and r["n"] and math.isfinite(r["ci95_low"])]
        if len(rows) < 2:
            continue
        spread = max(r["mean"] for r in rows) - min(r["mean"] for r in rows)
        if spread < float(np.median([r["ci95_high"] - r["ci95_low"] for r in rows])):
            flat.append(metric)
    return flat


def recommend(
    table: Table, summary: list[dict[str, Any]], boot: Resamples, clusters: dict[str, str] | None
) -> tuple[str, dict[str, float]]:
    """The paragraph on which method to use and how sure that is, and every method's win share."""
    quality = [m for m in table.metrics if info(m).category in QUALITY]
    if not quality or len(table.methods) < 2:
        return ("With a single method or no quality metric there is nothing to choose between.", {})
    directions = {m: info(m).higher_is_better for m in quality}
    shares = win_shares({m: table.values[m] for m in quality}, directions, boot)
    by = {(r["method"], r["metric"]): r for r in summary}
    # Equal shares (e.g. 0 % for every method but the winner) are ordered by the mean rank.
    last = len(table.methods)
    mean_rank = {m: float(np.mean([by[(m, q)]["rank"] or last for q in quality])) for m in shares}
    order = sorted(shares, key=lambda m: (-shares[m], mean_rank[m]))
    best, second = order[0], order[1]
    firsts = [m for m in quality if by[(best, m)]["rank"] == 1]
    units = f"{len(set(boot.clusters.tolist()))} clusters of images" if clusters else f"{len(table.images)} images"
    text = (
        f"Use **{best}** on this model and data. Across the {len(quality)} quality metrics "
        f"({', '.join(quality)}) it has the best mean rank in {shares[best]:.0%} of {boot.weights.shape[0]} "
        f"bootstrap resamples of the {units}; the next, {second}, in {shares[second]:.0%}. "
        f"It ranks first (alone or tied within the paired 95 % interval of the difference) on "
        f"{len(firsts)} of {len(quality)}" + (f": {', '.join(firsts)}." if firsts else ".")
    )
    behind = []
    for metric in quality:
        if by[(best, metric)]["rank"] in (None, 1):
            continue
        firsts_here = [r for r in summary if r["metric"] == metric and r["rank"] == 1]
        sign = 1.0 if directions[metric] else -1.0
        leader = max(firsts_here, key=lambda r: sign * r["mean"])
        # How far the leader is ahead, in the metric's better direction (positive = ahead).
        d = boot.difference(table.values[metric][leader["method"]], table.values[metric][best])
        low, high = sorted((sign * d.low, sign * d.high))
        behind.append(f"on {metric}, {leader['method']} is ahead by {_fmt(sign * d.mean)} [{_fmt(low)}, {_fmt(high)}]")
    if behind:
        text += " Where it is behind: " + "; ".join(behind) + "."
    flat = flat_metrics(summary, quality)
    if flat:
        text += (
            f" Weigh {', '.join(flat)} lightly: on these images the methods' means there lie closer together "
            "than a typical interval is wide, so it hardly tells them apart."
        )
    if shares[best] >= 0.9:
        text += " On these images the choice is clear."
    elif shares[best] >= 0.6:
        text += f" The choice is likely, not certain: {second} wins {shares[second]:.0%} of the resamples."
    else:
        text += (
            f" No method is a clear choice: the resamples split between {best} and {second} (and others); "
            "more images, or the one metric that matters most for your use, should decide."
        )
    from ..api import method_info

    if best in _known_methods() and method_info(best).kind == "baseline":
        text += f" {best} is a sanity baseline: no explanation method beats it on this model and data."
    return text, shares


def _known_methods() -> list[str]:
    from ..api import methods

    return methods()


def _pictures(
    out: Path, record: dict[str, Any], table: Table, metric: str, results: dict[tuple[str, str], dict[str, Any]]
) -> dict[str, Path]:
    """Per method, its best and worst images on ``metric`` as one PNG under ``report/``."""
    from ..runs import MAPS, decode_image, open_source, read_map
    from ..viz.extremes import Panel, extremes_figure
    from .truth import TruthError, open_truth

    try:
        samples = {s.id: s for s in open_source(record["source"])}
    except Exception:  # noqa: BLE001 - the source moved: a report without pictures
        return {}
    truth = None
    if record.get("truth"):
        kind, path = record["truth"]["kind"], record["truth"]["path"]
        try:
            truth = open_truth(path if kind == "masks" else None, path if kind == "boxes" else None)
        except InputError:
            truth = None  # the ground truth moved: pictures without the outlines

    higher = info(metric).higher_is_better
    folder = out / PICTURES
    folder.mkdir(exist_ok=True)
    made = {}
    for method in table.methods:
        values = table.values[metric][method]
        scored = [i for i in np.argsort(-values if higher else values, kind="stable") if np.isfinite(values[i])]
        if not scored:
            continue
        picks = scored[:EXTREMES] + [i for i in scored[-EXTREMES:] if i not in scored[:EXTREMES]]
        panels = []
        for rank_index, i in enumerate(picks):
            image = table.images[i]
            row = results.get((image, method))
            if row is None or image not in samples:
                continue
            rgb = np.asarray(decode_image(samples[image].read(), image).convert("RGB"))
            attribution = read_map(out / MAPS, row["map"])
            mask = None
            if truth is not None:
                try:
                    mask = truth.mask(image, attribution.shape)
                except TruthError:
                    mask = None
            label = "best" if rank_index < EXTREMES else "worst"
            panels.append(Panel(rgb, attribution, mask, f"{label}: {image}\n{metric} {values[i]:.3f}"))
        if panels:
            made[method] = extremes_figure(folder / f"{method}.png", f"{method}: best and worst on {metric}", panels)
    return made


def _seconds(out: Path, methods: list[str]) -> dict[str, float]:
    rows = pq.read_table(out / "results.parquet").to_pylist()
    per: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        if r["status"] == "ok" and r["seconds"] is not None:
            per[r["method"]].append(r["seconds"])
    return {m: float(np.median(per[m])) for m in methods if per.get(m)}


def write_report(out: str | Path, *, resamples: int = RESAMPLES) -> tuple[list[dict[str, Any]], str, list[Path]]:
    """Write ``summary.csv``, ``report.md``, ``report.html`` and the pictures; return the summary
    rows, the recommendation and the paths written."""
    out = Path(out)
    record = json.loads((out / "evaluation.json").read_text())
    methods, metrics = record["methods"], record["metrics"]
    clusters = record.get("clusters")
    table = load_table(out, methods, metrics)
    summary, boot = summarise(table, clusters, resamples=resamples, seed=_seed(record))
    text, shares = recommend(table, summary, boot, clusters)
    results = {(r["image"], r["method"]): r for r in pq.read_table(out / "results.parquet").to_pylist()}
    primary = next((m for m in metrics if info(m).category in QUALITY), metrics[0])
    pictures = _pictures(out, record, table, primary, results)
    seconds = _seconds(out, methods)
    failures = _failures(out)

    written = [_write_csv(out / SUMMARY, summary)]
    page = _page(record, table, summary, boot, text, shares, seconds, pictures, primary, failures, out)
    written += page.write(out / REPORT_MD, out / REPORT_HTML) + list(pictures.values())
    return summary, text, written


def _write_csv(path: Path, summary: list[dict[str, Any]]) -> Path:
    columns = [
        "method",
        "metric",
        "n",
        "mean",
        "ci95_low",
        "ci95_high",
        "rank",
        "higher_is_better",
        "undefined",
        "failed",
    ]
    with atomic_path(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for row in summary:
            writer.writerow({k: ("" if row[k] is None else row[k]) for k in columns})
    return path


def _failures(out: Path) -> list[str]:
    """One line per (image, reason) of the failed rows, with the methods and metrics it hit."""
    rows = pq.read_table(out / "scores.parquet").to_pylist()
    grouped: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in rows:
        if r["status"] != "ok":
            grouped[(r["image"], r["error"])].add(f"{r['method']}/{r['metric']}")
    return [f"{image}: {reason} ({len(hit)} rows)" for (image, reason), hit in sorted(grouped.items())]


def _page(
    record: dict[str, Any],
    table: Table,
    summary: list[dict[str, Any]],
    boot: Resamples,
    text: str,
    shares: dict[str, float],
    seconds: dict[str, float],
    pictures: dict[str, Path],
    primary: str,
    failures: list[str],
    out: Path,
) -> Page:
    """The report as a :class:`~neuromask.outputs.Page` (written as Markdown and as HTML)."""
    by = {(r["method"], r["metric"]): r for r in summary}
    truth = record.get("truth")
    units = "images" if not record.get("clusters") else "images, resampled by cluster"
    page = Page("neuromask evaluate", style=NUMBERS_STYLE)
    page.paragraph(
        f"Model `{record['model']}` on `{record['source']}`: {len(table.images)} {units}, "
        f"{len(table.methods)} methods, metrics {', '.join(table.metrics)}; ground truth: "
        + (f"{truth['kind']} `{truth['path']}`" if truth else "none")
        + ". Means with 95 % intervals (percentile bootstrap of the images, Wilson's for proportions); "
        "a method's rank is 1 + the number of methods better than it on the paired bootstrap interval of "
        "the difference (ties where that interval contains 0), never the point estimates alone; the intervals "
        "are not corrected for the number of comparisons."
    )
    page.heading(2, "Which method to use")
    page.paragraph(text)
    page.heading(2, "Means, 95 % intervals and ranks")
    header = ["method"] + [f"{m} {'↑' if info(m).higher_is_better else '↓'}" for m in table.metrics]
    header += ["best mean rank in"] if shares else []
    rows: list[list[str | Cell]] = []
    for method in sorted(table.methods, key=lambda m: -shares.get(m, 0.0)):
        cells: list[str | Cell] = [method]
        for metric in table.metrics:
            row = by[(method, metric)]
            rank = f" (#{row['rank']})" if row["rank"] is not None else ""
            cells.append(Cell(f"{_interval(row)} n={row['n']}{rank}", bold=row["rank"] == 1))
        if shares:
            cells.append(f"{shares.get(method, 0.0):.0%}")
        rows.append(cells)
    page.table(header, rows)
    page.heading(2, "Rankings (paired differences to the first)")
    for metric in table.metrics:
        entries = sorted(
            (by[(m, metric)] for m in table.methods if by[(m, metric)]["n"]),
            key=lambda r: (r["rank"], -r["mean"] if r["higher_is_better"] else r["mean"]),
        )
        lines = []
        for r in entries:
            line = f"{r['rank']}. {r['method']} {_interval(r)} (n={r['n']})"
            if r["method"] != entries[0]["method"]:
                d = boot.difference(table.values[metric][r["method"]], table.values[metric][entries[0]["method"]])
                line += f"; minus {entries[0]['method']}: {_fmt(d.mean)} [{_fmt(d.low)}, {_fmt(d.high)}]"
            lines.append(line)
        page.heading(3, metric)
        page.items(lines)
    if seconds:
        page.heading(2, "Seconds per image (median, explanation only)")
        page.table(["method", "seconds"], [[m, f"{seconds[m]:.3f}"] for m in table.methods if m in seconds])
    if pictures:
        page.heading(2, f"Best and worst images per method ({primary})")
        for method, path in pictures.items():
            page.image(path.relative_to(out).as_posix(), method)
    page.heading(2, "Failures")
    page.items(failures or ["none"])
    return page


__all__ = ["write_report", "summarise", "recommend", "load_table", "flat_metrics"]
