"""Experiment rows: one per (group, method, image, metric) cell, in a JSONL file.

A row is written (and flushed) as soon as its cell completes, so a run that is
interrupted loses at most the cell in progress. A rerun reads the file and skips every
cell that already has a successful row; failed cells are tried again and a later row
for the same cell supersedes an earlier one.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

Key = tuple[str, str, str, str]


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
    """

    group: str
    method: str
    image: str
    metric: str
    value: float | None
    status: str = "ok"
    error: str = ""

    @property
    def key(self) -> Key:
        return (self.group, self.method, self.image, self.metric)

    def to_json(self) -> str:
        return json.dumps(asdict(self), allow_nan=False)


def ok(group: str, method: str, image: str, metric: str, value: float) -> Row:
    """A successful row; NaN (an undefined score) is stored as ``None``."""
    return Row(group, method, image, metric, None if math.isnan(value) else float(value))


def failed(group: str, method: str, image: str, metric: str, exc: BaseException) -> Row:
    """A failure row naming the exception."""
    text = str(exc).strip().splitlines()
    return Row(group, method, image, metric, None, "error", f"{type(exc).__name__}: {text[0] if text else ''}")


def read_rows(path: str | Path) -> list[Row]:
    """The rows of a JSONL file, the last one per cell, in the order first seen."""
    latest: dict[Key, Row] = {}
    path = Path(path)
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                row = Row(**json.loads(line))
            except (json.JSONDecodeError, TypeError):
                continue  # a line cut short by an interruption
            latest[row.key] = row
    return list(latest.values())


class RowStore:
    """Appends rows to a JSONL file and knows which cells are done."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._done = {row.key for row in read_rows(self.path) if row.status == "ok"}

    def done(self, key: Key) -> bool:
        return key in self._done

    def write(self, rows: Iterable[Row]) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            for row in rows:
                fh.write(row.to_json() + "\n")
                if row.status == "ok":
                    self._done.add(row.key)
            fh.flush()
