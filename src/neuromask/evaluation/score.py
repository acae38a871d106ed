"""The worker's side of scoring: a batch of stored maps of one method -> one score per (image, metric).

Runs wherever the engine puts it (this process or a Ray actor): it takes the maps, the
ground truth and, when a metric needs the model, the images' bytes, and returns numbers;
it never touches the output folder. The model is loaded the first time a batch needs it,
so scoring metrics that need only the maps never loads it.

Metrics that need the model see the batch's images together: one call per metric for
the whole batch, so that insertion and deletion send the perturbed states of every image
to the model in shared forward passes. If such a call fails, the images are scored one by
one so that one bad image does not fail the others.
"""

from __future__ import annotations

import math
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..errors import NeuromaskError
from ..images import preprocess_image, to_input_size
from ..metrics import ScoringData, score
from ..types import LoadedModel
from .metrics import MetricSpec


@dataclass
class ScoreTask:
    """One image of a scoring batch.

    Attributes:
        image: its ID.
        map: the stored map (H0, W0) float32, or None when the explanation failed.
        target: the class the map explains.
        seconds: the explanation's seconds (for the ``seconds`` metric).
        data: the image file's bytes (sent only when a metric of the batch needs the model).
        truth, other_truth: (H0, W0) bool object masks, or None.
        errors: per metric, why it cannot be scored on this image (no map, a bad mask, ...).
        skip: metrics not scored on this image (a metric limited to some of the images).
    """

    image: str
    map: np.ndarray | None = field(default=None, repr=False)
    target: int | None = None
    seconds: float | None = None
    data: bytes | None = field(default=None, repr=False)
    truth: np.ndarray | None = field(default=None, repr=False)
    other_truth: np.ndarray | None = field(default=None, repr=False)
    errors: dict[str, str] = field(default_factory=dict)
    skip: set[str] = field(default_factory=set)


@dataclass
class ScoreBatch:
    """Images of one method scored together on ``metrics``.

    Attributes:
        method: the method whose maps these are.
        params: its options as the explanation stage resolved them (to explain again, e.g. randomisation).
        batch_size: images per explanation call when a metric explains again.
        metrics: what to score.
        tasks: the images.
    """

    method: str
    params: dict[str, Any]
    batch_size: int
    metrics: list[MetricSpec]
    tasks: list[ScoreTask]


@dataclass
class Score:
    """One (image, metric) result: ``ok`` with ``value`` (NaN = undefined), or ``failed`` with ``error``.

    ``seconds``: the time the metric took on this image (its share of a call on several images).
    """

    image: str
    metric: str
    status: str
    value: float = math.nan
    error: str | None = None
    traceback: str | None = field(default=None, repr=False)
    seconds: float | None = None


class ScoringState:
    """A worker's state: the model, loaded the first time a batch needs it."""

    def __init__(self, model: str | LoadedModel, device: str = "cpu") -> None:
        self.spec = model
        self.device = device
        self._model: LoadedModel | None = model if isinstance(model, LoadedModel) else None

    @property
    def model(self) -> LoadedModel:
        if self._model is None:
            from ..models import load_model

            self._model = load_model(str(self.spec), device=self.device)
        return self._model


def _failed(image: str, metric: str, exc: BaseException) -> Score:
    text = " ".join(str(exc).split())
    if isinstance(exc, NeuromaskError):
        return Score(image, metric, "failed", error=text)
    trace = "".join(traceback.format_exception(exc))
    return Score(image, metric, "failed", error=f"{type(exc).__name__}: {text}", traceback=trace)


def score_batch(state: ScoringState, batch: ScoreBatch) -> list[Score]:
    """Score every task of ``batch`` on every metric of it; a failure is a failed score, never an exception."""
    scores: list[Score] = []
    ready: dict[str, list[ScoreTask]] = {}
    for spec in batch.metrics:
        for task in batch.tasks:
            if spec.name in task.skip:
                continue
            if spec.name in task.errors:
                scores.append(Score(task.image, spec.name, "failed", error=task.errors[spec.name]))
            else:
                ready.setdefault(spec.name, []).append(task)
    specs = {spec.name: spec for spec in batch.metrics}
    model_specs = [specs[name] for name in ready if specs[name].needs_model]
    for name, tasks in ready.items():
        spec = specs[name]
        if spec.needs_model:
            continue
        for task in tasks:
            try:
                started = time.perf_counter()
                value = _map_score(spec, task)
                scores.append(Score(task.image, name, "ok", value, seconds=time.perf_counter() - started))
            except Exception as exc:  # noqa: BLE001 - becomes this image's failed score
                scores.append(_failed(task.image, name, exc))
    if model_specs:
        scores += _model_scores(state, batch, model_specs, ready)
    return scores


def _map_score(spec: MetricSpec, task: ScoreTask) -> float:
    """A metric on the stored map alone (with the ground truth, if it needs it), at the image's size."""
    if spec.from_record:
        return math.nan if task.seconds is None else float(task.seconds)
    data = ScoringData(
        attribution=torch.from_numpy(np.ascontiguousarray(task.map))[None],
        evidence=None if task.truth is None else torch.from_numpy(task.truth)[None],
        other_evidence=None if task.other_truth is None else torch.from_numpy(task.other_truth)[None],
    )
    return float(score(spec.info.name, data, **spec.function_options)[0])


def _model_scores(
    state: ScoringState, batch: ScoreBatch, specs: list[MetricSpec], ready: dict[str, list[ScoreTask]]
) -> list[Score]:
    """The model's metrics: the batch's images decoded and preprocessed once, each metric called on them together."""
    from ..runs import decode_image

    scores: list[Score] = []
    needed = {task.image: task for spec in specs for task in ready[spec.name]}
    try:
        model = state.model
    except Exception as exc:  # noqa: BLE001 - every score of the batch gets the reason
        return [_failed(task.image, spec.name, exc) for spec in specs for task in ready[spec.name]]
    prepared: dict[str, tuple[torch.Tensor, torch.Tensor, Any]] = {}
    for image, task in needed.items():
        if task.map is None:  # a task without a map has an error for every metric: never ready
            continue
        try:
            inputs, geometry = preprocess_image(model, decode_image(task.data or b"", image))
            prepared[image] = (inputs, torch.from_numpy(to_input_size(task.map, geometry)), geometry)
        except Exception as exc:  # noqa: BLE001 - the image's scores fail with the reason
            scores += [_failed(image, spec.name, exc) for spec in specs if task in ready[spec.name]]
    for spec in specs:
        tasks = [t for t in ready[spec.name] if t.image in prepared]
        if tasks:
            scores += _call_together(model, batch, spec, tasks, prepared)
    return scores


def _call_together(
    model: LoadedModel,
    batch: ScoreBatch,
    spec: MetricSpec,
    tasks: list[ScoreTask],
    prepared: dict[str, tuple[torch.Tensor, torch.Tensor, Any]],
) -> list[Score]:
    """One metric on several images in one call; on failure, each image alone."""
    try:
        started = time.perf_counter()
        values = _call(model, batch, spec, tasks, prepared)
        share = (time.perf_counter() - started) / len(tasks)
        return [Score(t.image, spec.name, "ok", float(v), seconds=share) for t, v in zip(tasks, values)]
    except Exception as exc:  # noqa: BLE001 - retried image by image below, or reported
        if len(tasks) == 1:
            return [_failed(tasks[0].image, spec.name, exc)]
    return [s for t in tasks for s in _call_together(model, batch, spec, [t], prepared)]


def _call(
    model: LoadedModel,
    batch: ScoreBatch,
    spec: MetricSpec,
    tasks: list[ScoreTask],
    prepared: dict[str, tuple[torch.Tensor, torch.Tensor, Any]],
) -> list[float]:
    """One metric on ``tasks`` together: one call, or for a metric that explains again one call
    per explanation batch (``batch.batch_size`` images, as the maps were made)."""
    device = next(model.module.parameters(), torch.zeros(0)).device
    inputs = torch.stack([prepared[t.image][0] for t in tasks]).to(device)
    attribution = torch.stack([prepared[t.image][1] for t in tasks])
    target = torch.tensor([int(t.target or 0) for t in tasks])
    step = max(1, batch.batch_size) if spec.explains else len(tasks)
    values: list[float] = []
    for start in range(0, len(tasks), step):
        part = slice(start, start + step)
        data = ScoringData(
            attribution=attribution[part],
            model=model,
            inputs=inputs[part],
            target=target[part],
            method=batch.method,
            params=batch.params,
        )
        values += [float(v) for v in score(spec.info.name, data, **spec.function_options)]
    return values
