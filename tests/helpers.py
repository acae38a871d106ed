"""Helpers shared by the tests (import as `from helpers import ...`)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from types import ModuleType

import pytest
import torch
from torch import nn


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny models run (and train) faster on one thread: on a loaded 2-core machine, the
    intra-op threads of sub-millisecond operations spend most of their time waiting for
    each other (the extremal-perturbation test took 3x longer with the default threads).
    Autouse in every module that imports it by name."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def model_state(model: nn.Module) -> dict:
    """Everything explain() promises to leave unchanged."""
    return {
        "params": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "training": {n: m.training for n, m in model.named_modules()},
        "requires_grad": {n: p.requires_grad for n, p in model.named_parameters()},
        "hooks": {
            n: (len(m._forward_hooks), len(m._forward_pre_hooks), len(m._backward_hooks))
            for n, m in model.named_modules()
        },
    }


def assert_same_state(before: dict, after: dict) -> None:
    assert before["training"] == after["training"]
    assert before["requires_grad"] == after["requires_grad"]
    assert before["hooks"] == after["hooks"]
    assert before["params"].keys() == after["params"].keys()
    for k in before["params"]:
        assert torch.equal(before["params"][k], after["params"][k]), k


class GreyCNN(nn.Module):
    """A fixed, seeded one-channel CNN: grey images (N, 1, H, W) -> logits (N, 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.fc = nn.Linear(4, 2)
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=gen))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).relu().mean(dim=(2, 3)))


def import_quantus() -> ModuleType:
    """Quantus, or a skip where it is not installed (a test-only dependency).

    Its import pulls in Zennit when Zennit is installed, and Zennit's own import needs
    torchvision, which the core environment leaves out; Zennit is hidden for the duration
    of the import (find_spec reports a module set to None in sys.modules as absent), which
    only switches off Quantus's Zennit explainers.
    """
    hidden = "zennit" not in sys.modules
    if hidden:
        sys.modules["zennit"] = None  # type: ignore[assignment]
    try:
        return pytest.importorskip("quantus")
    finally:
        if hidden:
            del sys.modules["zennit"]
