"""Fixtures shared by this folder's method tests (imported by name into each module)."""

from __future__ import annotations

from typing import Any

import neuromask
from helpers import one_thread  # noqa: F401 - re-exported: the modules here import it by name


def fast_options(method: str, size: tuple[int, int]) -> dict[str, Any]:
    """The registry's settings for ``method`` on an image of ``size`` (H, W): its ``fast``
    preset (few steps or samples) and its pixel-sized options scaled from 224 px."""
    info = neuromask.method_info(method)
    preset = {"preset": "fast"} if "fast" in info.presets else {}
    return {**preset, **info.scaled_options(size)}
