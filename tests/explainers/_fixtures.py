"""Fixtures shared by this folder's method tests (imported by name into each module)."""

from __future__ import annotations

from typing import Any, Iterator

import pytest
import torch

import neuromask


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny models run faster on one thread: on a loaded 2-core machine, the intra-op
    threads of sub-millisecond operations spend most of their time waiting for each other
    (the extremal-perturbation test took 3x longer with the default threads)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def fast_options(method: str, size: tuple[int, int]) -> dict[str, Any]:
    """The registry's settings for ``method`` on an image of ``size`` (H, W): its ``fast``
    preset (few steps or samples) and its pixel-sized options scaled from 224 px."""
    info = neuromask.method_info(method)
    preset = {"preset": "fast"} if "fast" in info.presets else {}
    return {**preset, **info.scaled_options(size)}
