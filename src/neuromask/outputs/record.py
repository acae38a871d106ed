"""One explained image as files: the per-image record (JSON) and the writer of its three files.

``neuromask explain`` and ``demo``, ``explain-dataset --per-image`` and the dashboard's zip
all write an explained image with :func:`write_image_files`, and its record is always
built by :func:`image_record`. The record, one JSON object:

======================  ====================================================================
``image``               the image: its path (``explain``), its ID in the source
                        (``explain-dataset``), its upload or sample name (dashboard)
``model``               the model spec
``method``              the registered method
``target``              the class explained (an index)
``label``               its name (the index as text when the model has no labels)
``probability``         the model's probability of the target on the image
``masked_probability``  for mask methods, the probability on the masked image; else null
``mask_mean``           for mask methods, the share of the image the mask keeps; else null
``seconds``             seconds the explanation took (a batch's time shared out per image)
``params``              every option the method ran with (``Explanation.params``, what
                        :func:`neuromask.resolve_options` gave), without ``progress``
``scores``              the metrics computed on the map, by name (``{}`` when none were)
======================  ====================================================================

The files, for ``STEM`` = ``<image stem or ID>.<method>``: ``STEM.npy`` (the map, (H, W)
float32, at the image's original size), ``STEM.png`` (the map over the image, with a
colour bar; masks on a fixed 0..1 scale) and ``STEM.json`` (the record). Each is written
atomically, the record last, so that a record's presence means all three are complete.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._core import save_npy, write_text
from ..api import method_info
from ..types import Explanation

# Options that say how a run was shown, not what it computed: never recorded.
NOT_RECORDED = ("progress",)


def jsonable(value: Any) -> Any:
    """``value`` as JSON can hold it: tensors and tuples as lists, keys as text, anything else as its text."""
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, list)):
        return [jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def image_record(
    *,
    image: str,
    model: str,
    method: str,
    target: int,
    label: str,
    probability: float,
    params: Mapping[str, Any],
    seconds: float,
    masked_probability: float | None = None,
    mask_mean: float | None = None,
    scores: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """The per-image record (the schema is in this module's text), ready for ``json.dumps``."""
    return {
        "image": image,
        "model": model,
        "method": method,
        "target": int(target),
        "label": label,
        "probability": float(probability),
        "masked_probability": None if masked_probability is None else float(masked_probability),
        "mask_mean": None if mask_mean is None else float(mask_mean),
        "seconds": round(float(seconds), 3),
        "params": jsonable({k: v for k, v in params.items() if k not in NOT_RECORDED}),
        "scores": {k: float(v) for k, v in (scores or {}).items()},
    }


def explanation_record(
    explanation: Explanation,
    index: int,
    *,
    image: str,
    model: Any,
    seconds: float | None = None,
    scores: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """The record of image ``index`` of ``explanation``.

    Args:
        explanation: what :func:`neuromask.explain` returned for a batch.
        index: the image's row in it.
        image: the image's path, ID or name.
        model: the :class:`~neuromask.LoadedModel` explained (its name and labels).
        seconds: the image's share of the time; default the batch's time over its size.
        scores: metrics computed on the map.
    """
    target = int(explanation.target[index])
    extras = explanation.extras

    def extra(key: str) -> float | None:
        value = extras.get(key)
        return float(value[index]) if isinstance(value, torch.Tensor) and value.ndim > 0 else None

    return image_record(
        image=image,
        model=model.name,
        method=explanation.method,
        target=target,
        label=model.label(target),
        probability=float(explanation.probability[index]),
        params=explanation.params,
        seconds=explanation.seconds / len(explanation) if seconds is None else seconds,
        masked_probability=extra("masked_probability"),
        mask_mean=extra("mask_mean"),
        scores=scores,
    )


@dataclass
class Written:
    """The three files written for one explained image, and its record."""

    npy: Path
    png: Path
    json: Path
    record: dict[str, Any]


def write_image_files(
    folder: Path, stem: str, picture: np.ndarray, attribution: np.ndarray, record: dict[str, Any]
) -> Written:
    """Write ``STEM.npy``, ``STEM.png`` and ``STEM.json`` into ``folder`` (created), each atomically, the record last.

    Args:
        folder: where they go; ``stem`` may hold ``/`` (an image ID's folders), created too.
        picture: the image (H0, W0, 3) (uint8, or float in [0, 1]) the map is drawn over.
        attribution: the map (H0, W0) at the image's size.
        record: what :func:`image_record` built; its method decides the colour scale
            (a mask on 0..1) and its label and probability the picture's title.
    """
    from ..viz.overlay import save_overlay

    base = Path(folder) / stem
    base.parent.mkdir(parents=True, exist_ok=True)
    npy = save_npy(base.with_name(base.name + ".npy"), np.asarray(attribution, dtype=np.float32))
    is_mask = method_info(record["method"]).is_mask
    png = save_overlay(
        base.with_name(base.name + ".png"),
        picture,
        attribution,
        title=f"{record['method']}: {record['label']} (p={record['probability']:.2f})",
        vmin=0.0 if is_mask else None,
        vmax=1.0 if is_mask else None,
    )
    js = write_text(base.with_name(base.name + ".json"), json.dumps(record, indent=2) + "\n")
    return Written(npy, png, js, record)
