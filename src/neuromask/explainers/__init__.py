"""Explanation methods: one file each, registered by name in :data:`METHODS`.

A method is a function ``fn(model, inputs, target, *, option=default, ...)`` with
``inputs`` (N, C, H, W) on the model's device, ``target`` (N,) long, and every option a
keyword with a documented default. It returns a :class:`~neuromask.types.MethodOutput`
(the attribution (N, H, W) and its extras). ``explain()`` has already validated the
inputs, frozen the model and resolved the target. A method may declare the keyword
``logits`` to receive the original logits (N, L), computed once by ``explain()``.

What a method *is* lives in its registration and nowhere else::

    @METHODS.register("occlusion", kind="perturbation", order=8, pixel_options=("window", "stride"))

and :func:`method_info` turns that into a :class:`MethodInfo` that the CLI, the
benchmark, the report, the dashboard and the tests read.
"""

from __future__ import annotations

from ..registry import import_submodules
from ._registry import (
    CONTEXT_PARAMS,
    KINDS,
    METHODS,
    MODEL_PARAMS,
    REFERENCE_SIZE,
    MethodInfo,
    MethodRegistry,
    method_info,
    option_defaults,
    ordered,
    scale_pixel_options,
)

# Import every module of this package so that its @METHODS.register runs: a new one is a new file.
import_submodules(__name__, __path__)

__all__ = [
    "CONTEXT_PARAMS",
    "KINDS",
    "METHODS",
    "MODEL_PARAMS",
    "REFERENCE_SIZE",
    "MethodInfo",
    "MethodRegistry",
    "method_info",
    "option_defaults",
    "ordered",
    "scale_pixel_options",
]
