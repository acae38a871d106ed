"""The worker's side of a dataset run: decode a batch of images, explain them, return the maps.

Runs wherever the engine puts it (this process or a Ray actor): it takes bytes and
returns numbers and arrays, and never touches the output folder.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..api import explain
from ..errors import ImageLoadError, InputError, NeuromaskError
from ..images import preprocess_image, to_original_size
from ..outputs import explanation_record
from ..types import LoadedModel
from .items import WorkItem
from .sources import decode_image


@dataclass
class Task:
    """One image of a batch: its work item, its file's bytes (or why they could not be read), its class."""

    item: WorkItem
    data: bytes | None
    class_name: str | None = None
    read_error: str | None = None


@dataclass
class Batch:
    """Images explained together by one method with the same options.

    Attributes:
        method: the registered method name.
        params: the options passed to :func:`neuromask.explain`, as :func:`neuromask.resolve_options`
            resolved them for the model (so that explain() runs and records exactly these).
        target: ``"top1"`` (each image's top-1 class) or ``"class"`` (the class its source gives).
        tasks: the images.
    """

    method: str
    params: dict[str, Any]
    target: str
    tasks: list[Task]


@dataclass
class Outcome:
    """The result of one task: ``status`` ``"ok"`` with the map (H0, W0) float32, or ``"failed"`` with ``error``.

    ``traceback`` is set when the failure was an unexpected exception (not a
    :class:`~neuromask.errors.NeuromaskError` about the input): a bug to show, not a bad image.
    ``record``: for ``ok``, the per-image record (:func:`neuromask.outputs.explanation_record`),
    the one ``neuromask explain`` writes; the other fields are read from it.
    """

    item: WorkItem
    status: str
    error: str | None = None
    target: int | None = None
    label: str | None = None
    probability: float | None = None
    masked_probability: float | None = None
    seconds: float | None = None
    attribution: np.ndarray | None = field(default=None, repr=False)
    traceback: str | None = field(default=None, repr=False)
    record: dict[str, Any] | None = field(default=None, repr=False)


def load_worker_model(spec: str | LoadedModel, device: str = "cpu") -> LoadedModel:
    """A worker's state: the model, loaded once (module-level so that Ray can pickle a partial of it).

    A :class:`LoadedModel` is used as it is (a Ray worker gets a pickled copy).
    """
    from ..models import load_model

    if isinstance(spec, LoadedModel):
        return spec
    return load_model(spec, device=device)


def _failed(item: WorkItem, exc: BaseException) -> Outcome:
    """A failure row: a NeuromaskError's one-line message, or an unexpected exception with its traceback."""
    text = " ".join(str(exc).split())
    if isinstance(exc, NeuromaskError):
        return Outcome(item, "failed", error=text)
    trace = "".join(traceback.format_exception(exc))
    return Outcome(item, "failed", error=f"{type(exc).__name__}: {text}", traceback=trace)


def explain_batch(model: LoadedModel, batch: Batch) -> list[Outcome]:
    """Explain a batch; each image that cannot be read or explained is a failed outcome, the others go on.

    Images are decoded and preprocessed to the model's input (C, H, W), stacked into
    inputs (N, C, H, W) and explained in one call; each map (H, W) is returned at its
    image's original size (:func:`neuromask.to_original_size`).
    """
    outcomes: list[Outcome] = []
    ready = []
    for task in batch.tasks:
        try:
            if task.data is None:
                raise ImageLoadError(task.read_error or f"image '{task.item.image}' could not be read")
            inputs, geometry = preprocess_image(model, decode_image(task.data, task.item.image))
            target = None
            if batch.target == "class":
                if task.class_name is None:
                    raise InputError(f"image '{task.item.image}' has no class in its source; use --target top1")
                target = model.class_index(task.class_name, label_first=True)
            ready.append((task, inputs, geometry, target))
        except Exception as exc:  # noqa: BLE001 - becomes this image's failure row
            outcomes.append(_failed(task.item, exc))
    if not ready:
        return outcomes
    inputs = torch.stack([r[1] for r in ready])
    # In "class" mode every ready image has its class (an image without one failed above).
    targets = [r[3] for r in ready if r[3] is not None] if batch.target == "class" else None
    try:
        explanation = explain(model, inputs, target=targets, method=batch.method, **batch.params)
    except Exception as exc:  # noqa: BLE001 - every image of the batch gets the reason
        return outcomes + [_failed(r[0].item, exc) for r in ready]
    for i, (task, _, geometry, _) in enumerate(ready):
        record = explanation_record(explanation, i, image=task.item.image, model=model)
        outcomes.append(
            Outcome(
                task.item,
                "ok",
                target=record["target"],
                label=record["label"],
                probability=record["probability"],
                masked_probability=record["masked_probability"],
                seconds=explanation.seconds / len(ready),
                attribution=to_original_size(explanation.attribution[i], geometry),
                record=record,
            )
        )
    return outcomes
