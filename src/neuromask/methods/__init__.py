"""Explanation methods: one file each, registered by name in :data:`METHODS`.

A method is a function ``fn(model, inputs, target, *, option=default, ...)`` with
``inputs`` (N, C, H, W) on the model's device, ``target`` (N,) long, and every option a
keyword with a documented default. It returns the attribution (N, H, W), or a tuple
(attribution, extras dict). ``explain()`` has already validated the inputs, frozen the
model and resolved the target. A method may declare the keyword ``logits`` to receive
the original logits (N, L), computed once by ``explain()``.
"""

from __future__ import annotations

import importlib
import pkgutil

from ..registry import Registry

METHODS: Registry = Registry("method")

# Import every module of this package so that its @METHODS.register runs; a new method
# is a new file here and nothing else.
for _info in pkgutil.iter_modules(__path__):
    if not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")
