"""Writing output files so that an interrupted run leaves only complete files.

Every file neuromask writes whole (maps, pictures, records, tables, reports, caches,
weights) goes through :func:`atomic_path`; files that only grow by whole lines (a run's
manifest, the benchmark's rows) are appended to instead.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, durable: bool = False) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed onto ``path`` only on success.

    The temporary name keeps the suffix (``.stem.tmp-PID-XXXXXXXX.png``), so writers that
    pick the format from it (matplotlib, ``np.save``) still do, and is unique to the call,
    so two threads writing the same file never share one. On any exception, Ctrl-C
    included, the temporary file is removed and ``path`` is untouched: a reader never
    sees half a file. ``os.replace`` is atomic within one file system. ``durable``: the
    file's bytes are flushed to the disk (``fsync``) before the rename, so that a power
    loss cannot leave the new name on an empty file.
    """
    final = Path(path)
    tmp = final.with_name(f".{final.stem}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}{final.suffix}")
    try:
        yield tmp
        if durable:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: str | os.PathLike[str], text: str, *, durable: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path, durable=durable) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_bytes(path: str | os.PathLike[str], data: bytes, *, durable: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path, durable=durable) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def save_npy(path: str | os.PathLike[str], array: Any) -> Path:
    """``np.save`` to ``path`` atomically."""
    import numpy as np

    with atomic_path(path) as tmp, open(tmp, "wb") as f:  # a file object: np.save would append .npy to a name
        np.save(f, array)
    return Path(path)


def save_npz(path: str | os.PathLike[str], **arrays: Any) -> Path:
    """``np.savez_compressed`` to ``path`` atomically."""
    import numpy as np

    with atomic_path(path) as tmp, open(tmp, "wb") as f:  # a file object: numpy would append .npz to a name
        np.savez_compressed(f, **arrays)
    return Path(path)
