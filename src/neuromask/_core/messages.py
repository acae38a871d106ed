"""Error messages on one line."""

from __future__ import annotations


def one_line(exc: BaseException, limit: int = 200) -> str:
    """An exception as one short line (messages of torch and protobuf span many)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
