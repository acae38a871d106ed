"""Metrics of explanation quality: one file per family, registered by name in :data:`METRICS`.

Every metric is a plain function that scores a batch and returns one float per image,
a tensor (N,) on the CPU (NaN where the score is undefined for that image). Its first
arguments say what it needs, read from the entry's ``needs`` metadata:

==============  ==================================================================
``needs``       signature
==============  ==================================================================
``()``          ``fn(attribution, **options)``
``evidence``    ``fn(attribution, evidence, **options)``
``evidence``,   ``fn(attribution, evidence, other_evidence, **options)`` (scenes of two
``other_...``   objects: the explained one and the other)
``model``       ``fn(model, inputs, target, attribution, **options)``
``explain``     ``fn(model, inputs, target, attribution, *, method, params, **options)``
                (the metric runs the explanation method again, e.g. on a randomised model)
==============  ==================================================================

with ``attribution`` (N, H, W), ``evidence`` (N, H, W) bool, ``inputs`` (N, C, H, W)
preprocessed for the model, ``target`` (N,) long. Every entry also declares
``higher_is_better`` (bool), ``category`` (``faithfulness``, ``localisation``,
``sanity``, ``complexity`` or ``cost``) and ``applies_to`` (``"any"``, or ``"mask"`` for
metrics that only make sense for masks in [0, 1]).

Cost (seconds and peak memory per explanation) is measured around the explanation
itself, not computed from it: see :func:`neuromask.metrics.cost.measure`; its entries
have ``needs=("cost",)`` and are read from a :class:`~neuromask.metrics.cost.Cost`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

from ..registry import Registry

METRICS: Registry[Callable[..., Any]] = Registry("metric")

# Import every module of this package so that its @METRICS.register runs; a new metric
# family is a new file here and nothing else.
for _info in pkgutil.iter_modules(__path__):
    if not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")


def metrics(category: str | None = None) -> list[str]:
    """The names of the registered metrics, optionally of one ``category`` only."""
    return [e.name for e in METRICS if category is None or e.meta["category"] == category]


__all__ = ["METRICS", "metrics"]
