"""What the explain and demo subcommands share: explain image files and write the results."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..api import explain, method_info
from ..errors import NeuromaskError
from ..types import Explanation, LoadedModel


@dataclass
class Written:
    """The files written for one image, and the numbers worth printing."""

    image: Path
    npy: Path
    png: Path
    json: Path
    record: dict[str, Any]


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """``["steps=100", "baseline=blur"]`` -> ``{"steps": 100, "baseline": "blur"}`` (JSON values, else text)."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--param must be KEY=VALUE; got {pair!r}")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


def show_progress(method: str, quiet: bool) -> dict[str, Any]:
    """A progress bar on a terminal for methods that offer one; nothing when quiet or piped."""
    wants = not quiet and sys.stderr.isatty() and method_info(method).progress
    return {"progress": True} if wants else {}


def _jsonable(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def write_result(
    out: Path,
    image_path: Path,
    image: np.ndarray,
    attribution: np.ndarray,
    explanation: Explanation,
    model: LoadedModel,
    seconds: float,
) -> Written:
    """Write ``<stem>.<method>.npy/.png/.json`` for one image (an explanation of one image)."""
    from ..viz.overlay import save_overlay

    stem = f"{image_path.stem}.{explanation.method}"
    target = int(explanation.target[0])
    record: dict[str, Any] = {
        "image": str(image_path),
        "model": model.name,
        "method": explanation.method,
        "target": target,
        "label": model.label(target),
        "probability": float(explanation.probability[0]),
        "seconds": round(seconds, 3),
        "params": _jsonable({k: v for k, v in explanation.params.items() if k != "progress"}),
    }
    for key in ("masked_probability", "mask_mean"):
        if key in explanation.extras:
            record[key] = float(explanation.extras[key][0])
    npy = out / f"{stem}.npy"
    np.save(npy, attribution.astype(np.float32))
    is_mask = method_info(explanation.method).is_mask
    png = save_overlay(
        out / f"{stem}.png", image, attribution,
        title=f"{explanation.method}: {record['label']} (p={record['probability']:.2f})",
        vmin=0.0 if is_mask else None, vmax=1.0 if is_mask else None,
    )
    js = out / f"{stem}.json"
    js.write_text(json.dumps(record, indent=2) + "\n")
    return Written(image_path, npy, png, js, record)


def explain_files(
    model: LoadedModel,
    paths: list[Path],
    out: Path,
    *,
    method: str,
    target: str | None,
    params: dict[str, Any],
    batch_size: int,
    quiet: bool,
) -> tuple[list[Written], list[tuple[Path, str]]]:
    """Explain each image file and write its results; a failure never loses the others.

    Returns what was written and (path, one-line reason) for each failure.
    """
    from ..images import load_image, preprocess_image, to_original_size

    out.mkdir(parents=True, exist_ok=True)
    written: list[Written] = []
    failures: list[tuple[Path, str]] = []
    loaded = []
    for path in paths:
        try:
            image = load_image(path)
            tensor, geometry = preprocess_image(model, image)
            loaded.append((path, np.asarray(image), tensor, geometry))
        except (NeuromaskError, OSError) as exc:
            failures.append((path, str(exc)))
    params = {**show_progress(method, quiet), **params}
    for start in range(0, len(loaded), max(1, batch_size)):
        batch = loaded[start : start + batch_size]
        inputs = torch.stack([item[2] for item in batch])
        try:
            explanation = explain(model, inputs, target=target, method=method, **params)
        except NeuromaskError as exc:
            failures.extend((item[0], str(exc)) for item in batch)
            continue
        for i, (path, image, _, geometry) in enumerate(batch):
            attribution = to_original_size(explanation.attribution[i], geometry)
            written.append(
                write_result(out, path, image, attribution, explanation[i], model, explanation.seconds / len(batch))
            )
    return written, failures
