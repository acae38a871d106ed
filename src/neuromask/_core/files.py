"""Writing output files so that an interrupted run leaves only complete files."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed onto ``path`` only on success.

    The temporary name keeps the suffix (``.stem.tmp-PID.png``), so writers that pick the
    format from it (matplotlib, ``np.save``) still do. On any exception, Ctrl-C
    included, the temporary file is removed and ``path`` is untouched: a reader never
    sees half a file. ``os.replace`` is atomic within one file system.
    """
    final = Path(path)
    tmp = final.with_name(f".{final.stem}.tmp-{os.getpid()}{final.suffix}")
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def save_npy(path: str | os.PathLike[str], array: object) -> Path:
    """``np.save`` to ``path`` atomically."""
    import numpy as np

    with atomic_path(path) as tmp, open(tmp, "wb") as f:  # a file object: np.save would append .npy to a name
        np.save(f, array)
    return Path(path)
