"""A benchmark folder's rows, as one list of dicts whatever runner wrote them.

- This runner (``neuromask benchmark`` on ``evaluate``): ``rows.parquet``, gathered from
  every group's ``scores.parquet`` (:func:`neuromask.bench.tables.collect_rows`).
- The runner before it wrote ``rows.jsonl`` (archived as ``rows.jsonl.gz``), one JSON
  :class:`Row` per (group, method, image, metric, config) cell, the latest line per cell
  winning; the committed results are in that format until they are regenerated, so it is
  still read (never written): by :func:`read_benchmark`, the dashboard's Results page and
  ``benchmarks/benchmark_compare.py``, which sets the two runs side by side.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

Key = tuple[str, str, str, str, str]


@dataclass(frozen=True)
class Row:
    """One cell of the benchmark grid.

    Attributes:
        group: what was explained, e.g. ``triangles_squares-cnn`` (a shipped model on
            its dataset) or ``photos-efficientnet_lite0``.
        method: the registered method.
        image: the image's name within the group (an index, or a photo's name).
        metric: the registered metric.
        value: the score, ``None`` when the cell failed or the score is undefined (NaN).
        status: ``"ok"`` or ``"error"``.
        error: for a failure, the exception's type and first line.
        config: the hash of the suite, method options and metric options it was made with.
    """

    group: str
    method: str
    image: str
    metric: str
    value: float | None
    status: str = "ok"
    error: str = ""
    config: str = ""

    @property
    def key(self) -> Key:
        return (self.group, self.method, self.image, self.metric, self.config)

    def to_json(self) -> str:
        return json.dumps(asdict(self), allow_nan=False)


def archive_path(path: str | Path) -> Path:
    """Where the gzipped archive of the rows file ``path`` lives (``rows.jsonl.gz``)."""
    path = Path(path)
    return path.with_name(path.name + ".gz")


def has_rows(path: str | Path) -> bool:
    """Whether the rows file ``path`` or its archive exists."""
    return Path(path).is_file() or archive_path(path).is_file()


def read_rows(path: str | Path) -> list[Row]:
    """The rows of a JSONL file (its ``.gz`` archive first, if any), the last one per
    cell, in the order first seen."""
    latest: dict[Key, Row] = {}
    path = Path(path)
    archive = archive_path(path)
    if archive.exists():
        with gzip.open(archive, "rt", encoding="utf-8") as fh:
            for row in _parse(fh.read().splitlines(), archive):
                latest[row.key] = row
    if path.exists():
        for row in _parse(path.read_text(encoding="utf-8").splitlines(), path):
            latest[row.key] = row
    return list(latest.values())


def _parse(lines: list[str], path: Path) -> Iterable[Row]:
    """The rows of ``lines``; a malformed line is an error unless it is the last one."""
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        try:
            row = Row(**json.loads(line))
        except (json.JSONDecodeError, TypeError) as exc:
            if number == len(lines):
                continue  # the last line, cut short by an interruption: that cell is redone
            raise ValueError(f"{path}:{number}: not a benchmark row ({exc}); fix or remove that line") from exc
        yield row


BENCHMARK_COLUMNS = ("group", "method", "image", "metric", "value", "status", "error")


def has_benchmark(folder: str | Path) -> bool:
    """Whether ``folder`` holds benchmark rows of either runner."""
    folder = Path(folder)
    return (folder / "rows.parquet").is_file() or (folder / "groups").is_dir() or has_rows(folder / "rows.jsonl")


def read_benchmark(folder: str | Path) -> list[dict[str, Any]]:
    """Every row of a benchmark folder as a dict with :data:`BENCHMARK_COLUMNS` (``value`` None
    where undefined or failed), from ``rows.parquet`` or else the earlier runner's rows."""
    import pyarrow.parquet as pq

    folder = Path(folder)
    if (folder / "groups").is_dir():
        from .tables import collect_rows

        collect_rows(folder)
    if (folder / "rows.parquet").is_file():
        rows: list[dict[str, Any]] = pq.read_table(folder / "rows.parquet", columns=list(BENCHMARK_COLUMNS)).to_pylist()
        for r in rows:
            if r["value"] is not None and math.isnan(r["value"]):
                r["value"] = None
        return rows
    return [{k: getattr(r, k) for k in BENCHMARK_COLUMNS} for r in read_rows(folder / "rows.jsonl")]
