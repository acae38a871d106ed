"""The frozen-model guard: eval mode and no parameter gradients for the duration of a call."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from torch import nn


@contextlib.contextmanager
def frozen(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode with no parameter gradients; restore both in ``finally``.

    Frozen parameters mean backward passes compute gradients w.r.t. the inputs only,
    which is most of the speed-up over a naive loop (no weight gradients).
    """
    modes = {m: m.training for m in model.modules()}
    flags = {p: p.requires_grad for p in model.parameters()}
    try:
        model.eval()
        for p in flags:
            p.requires_grad_(False)
        yield model
    finally:
        for m, mode in modes.items():
            m.training = mode
        for p, flag in flags.items():
            p.requires_grad_(flag)
