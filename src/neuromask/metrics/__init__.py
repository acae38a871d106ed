"""Metrics of explanation quality: one file per family, registered by name in :data:`METRICS`.

This module is the one place that states a metric's contract, and the registry checks
it when a metric registers (a bad entry raises at import). A metric is a plain function
that scores a batch and returns one float per image, a tensor (N,) on the CPU (NaN where
the score is undefined for that image), registered with::

    @METRICS.register("deletion", higher_is_better=False, category="faithfulness", needs=("model",))
    def deletion(model, inputs, target, attribution, *, pixels_per_step=None, ...): ...

- ``higher_is_better``: the direction, a bool.
- ``category``: one of :data:`CATEGORIES`.
- ``needs``: what it needs beyond the map, a tuple of :data:`NEEDS` keys. They fix its
  positional parameters, by name and in the order of :data:`ARGUMENTS`:

  ======================================  ==============================================================
  ``needs``                               signature
  ======================================  ==============================================================
  ``()``                                  ``fn(attribution, *, options)``
  ``("inputs",)``                         ``fn(inputs, attribution, *, options)``
  ``("evidence",)``                       ``fn(attribution, evidence, *, options)``
  ``("evidence", "other_evidence")``      ``fn(attribution, evidence, other_evidence, *, options)``
  ``("model",)``                          ``fn(model, inputs, target, attribution, *, options)``
  ``("explain",)``                        ``fn(model, inputs, target, attribution, *, method, params, options)``
  ``("cost",)``                           ``fn(cost)``: no map, a :class:`~neuromask.metrics.cost.Cost`
  ======================================  ==============================================================

  with ``attribution`` (N, H, W), ``inputs`` (N, C, H, W) preprocessed for the model,
  ``target`` (N,) long, ``evidence`` and ``other_evidence`` (N, H, W) bool. Everything after
  them is a keyword-only option with a default (``method`` excepted).
- ``applies_to``: ``"any"`` (default), or ``"mask"`` for metrics that only make sense for
  masks in [0, 1].

Callers never dispatch on ``needs`` themselves: :func:`metric_info` says what a metric
is, :meth:`MetricInfo.missing` which of its needs a :class:`ScoringData` lacks, and
:func:`score` calls it with what it needs. Adding a metric is one file in this package
(or one more function in a family's file), and nothing else.

Cost (seconds and peak memory per explanation) is measured around the explanation
itself, not computed from it: see :func:`neuromask.metrics.cost.measure`.
"""

from __future__ import annotations

from ..registry import import_submodules
from ._registry import (
    ARGUMENTS,
    CATEGORIES,
    METRICS,
    NEEDS,
    MetricInfo,
    MetricRegistry,
    ScoringData,
    arguments,
    metric_info,
    metrics,
    score,
)

# Import every module of this package so that its @METRICS.register runs: a new one is a new file.
import_submodules(__name__, __path__)


__all__ = [
    "METRICS",
    "MetricRegistry",
    "CATEGORIES",
    "NEEDS",
    "ARGUMENTS",
    "MetricInfo",
    "ScoringData",
    "arguments",
    "metric_info",
    "metrics",
    "score",
]
