"""The manifest: one JSON line per finished work item, appended by the driver alone.

Each line is written whole, then flushed and fsync'ed, only after the item's outputs are
on disk, so a line in the manifest means the item is done and its map is complete. A
crash (SIGKILL included) can leave at most a partial last line: it is ignored when read
and cut off before the next append, so the item is simply computed again. A failed item
has a line too (``status: failed``); a rerun tries it again and its newer line wins.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import InputError


class Manifest:
    """``DIR/manifest.jsonl``: the record of every finished item, keyed by :attr:`WorkItem.key`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: dict[str, dict[str, Any]] = {}
        self._fd: int | None = None
        if path.exists():
            self._read()

    def _read(self) -> None:
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            # A line cut short by a crash: drop it, so that the next append starts a line.
            with open(self.path, "r+b") as fh:
                fh.truncate(end)
                os.fsync(fh.fileno())
        for line in data[:end].splitlines():
            if line.strip():
                record = json.loads(line)
                self.records[record["key"]] = record

    def done(self, key: str) -> bool:
        """Whether ``key`` finished successfully (a failed item is tried again)."""
        record = self.records.get(key)
        return record is not None and record["status"] == "ok"

    def append(self, record: dict[str, Any]) -> None:
        """Record one finished item durably: one line, written and fsync'ed before returning."""
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        line = json.dumps(record, sort_keys=True, default=str).encode() + b"\n"
        start = os.fstat(self._fd).st_size
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(self._fd, view) :]
            os.fsync(self._fd)
        except OSError as exc:
            # A full disk can take part of the line: cut it, so that the next append starts a line.
            os.ftruncate(self._fd, start)
            raise OSError(exc.errno, exc.strerror, str(self.path)) from exc
        self.records[record["key"]] = record

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@contextlib.contextmanager
def locked(path: Path, busy: str) -> Iterator[None]:
    """Hold the lock file ``path`` for the block; raise :class:`InputError` with ``busy`` when another process does.

    Two drivers appending to one manifest could record an item twice. An advisory
    ``flock``: the kernel releases it when the process dies, so a killed run never leaves it held.
    """
    import fcntl

    with open(path, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(busy) from None
        yield
