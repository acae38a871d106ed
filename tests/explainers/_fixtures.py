"""Fixtures shared by this folder's method tests (imported by name into each module)."""

from __future__ import annotations

from typing import Any

import neuromask
from helpers import one_thread  # noqa: F401 - re-exported: the modules here import it by name


def fast_options(method: str, size: tuple[int, int]) -> dict[str, Any]:
    """The registry's settings for ``method`` on an image of ``size`` (H, W): its ``fast``
    preset (few steps or samples); explain() scales the pixel-sized options to ``size``
    itself (neuromask.resolve_options)."""
    return {"preset": "fast"} if "fast" in neuromask.method_info(method).presets else {}
