"""Experiment rows: one per (group, method, image, metric, config) cell, in a JSONL file.

``config`` is a short hash of everything that makes the cell's number what it is (the
suite, the method's resolved options, the metric's options; see
:func:`neuromask.bench.runner.cell_config`), so a changed option or default is a new
cell, never an old one silently reused.

A row is written (and flushed) as soon as its cell completes, so a run that is
interrupted loses at most the cell in progress. A rerun reads the file and skips every
cell that already has a successful row; failed cells are tried again and a later row
for the same cell supersedes an earlier one.

A finished run can be archived as ``rows.jsonl.gz`` beside (or instead of) the live
file: :func:`read_rows` reads the archive first and the live file after it, so a rerun
into the same folder resumes from both and its new rows supersede archived ones.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from .._core import write_text

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


def ok(group: str, method: str, image: str, metric: str, value: float, config: str = "") -> Row:
    """A successful row; NaN (an undefined score) is stored as ``None``."""
    return Row(group, method, image, metric, None if math.isnan(value) else float(value), config=config)


def failed(group: str, method: str, image: str, metric: str, exc: BaseException, config: str = "") -> Row:
    """A failure row naming the exception."""
    text = str(exc).strip().splitlines()
    return Row(group, method, image, metric, None, "error", f"{type(exc).__name__}: {text[0] if text else ''}", config)


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


class RowStore:
    """Appends rows to a JSONL file and knows which cells are done."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._done = {row.key for row in read_rows(self.path) if row.status == "ok"}
        # A last line cut short by an interruption is dropped, so that the next row
        # starts on a line of its own.
        if self.path.exists():
            text = self.path.read_text(encoding="utf-8")
            if text and not text.endswith("\n"):
                write_text(self.path, text[: text.rfind("\n") + 1])

    def done(self, key: Key) -> bool:
        return key in self._done

    def write(self, rows: Iterable[Row]) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            for row in rows:
                fh.write(row.to_json() + "\n")
                if row.status == "ok":
                    self._done.add(row.key)
            fh.flush()
