"""What the explain, compare and demo subcommands share: read image files, refuse a bad request
before any work, report each failure on its own line, write the results atomically."""

from __future__ import annotations

import json
import sys
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._core import atomic_path, model_device, save_npy, write_text
from ..api import explain, method_info, resolve_options
from ..errors import EXIT_BUG, EXIT_FAILED, EXIT_OK, ImageNote, InputError, NeuromaskError, TargetError
from ..types import Explanation, LoadedModel


@dataclass(frozen=True)
class Failure:
    """One thing that failed in a batch: which file(s) and method, why, and whether it was expected.

    ``unexpected`` marks an exception that is not a :class:`NeuromaskError` (a bug in
    neuromask or in a library it calls): its traceback was printed when it happened, and
    the command exits with ``EXIT_BUG`` once everything else is written.
    """

    where: str
    reason: str
    unexpected: bool = False

    def line(self, command: str) -> str:
        return f"neuromask {command}: {self.where}: {self.reason}"


def failure(where: str, exc: BaseException) -> Failure:
    """The :class:`Failure` for ``exc`` raised while working on ``where``.

    A :class:`NeuromaskError` is the input's fault: its message is the reason. Running
    out of memory is the machine's: the reason says what to lower. Anything else is a
    bug: its traceback goes to stderr now, and the reason points to it.
    """
    if isinstance(exc, NeuromaskError):
        return Failure(where, str(exc))
    if isinstance(exc, torch.OutOfMemoryError):
        return Failure(where, "out of memory; lower --batch-size, or use a smaller model or --device cpu")
    traceback.print_exception(exc, file=sys.stderr)
    message = " ".join(str(exc).split())[:200]
    return Failure(where, f"unexpected {type(exc).__name__}: {message} (a bug: traceback above)", unexpected=True)


def exit_code(failures: list[Failure]) -> int:
    """EXIT_OK, EXIT_FAILED when some items failed, EXIT_BUG when one of them was unexpected."""
    if any(f.unexpected for f in failures):
        return EXIT_BUG
    return EXIT_FAILED if failures else EXIT_OK


def read_image(path: Path, model: LoadedModel, command: str) -> tuple[Any, torch.Tensor, Any]:
    """``load_image`` + ``preprocess_image``: (the RGB image, inputs (C, H, W), geometry).

    An :class:`ImageNote` (e.g. only an animation's first frame is used) is printed as one
    line, ``neuromask COMMAND: PATH: note: ...``.
    """
    from ..images import load_image, preprocess_image

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ImageNote)
        image = load_image(path)
    for w in caught:
        if issubclass(w.category, ImageNote):
            print(f"neuromask {command}: {path}: note: {w.message}", file=sys.stderr)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    tensor, geometry = preprocess_image(model, image)
    return image, tensor, geometry


def check_request(model: LoadedModel, method: str, target: str | None, params: dict[str, Any]) -> dict[str, Any]:
    """Refuse a bad request before any image is read: an unknown or unavailable method, an
    unknown option or preset, a target that is not one of the model's classes.

    Returns the options the method will run with on the model's inputs
    (:func:`neuromask.resolve_options`: what ``explain()`` records), to pass to ``explain()``.

    Raises the NeuromaskError that ``explain()`` would raise on every image (exit 2).
    """
    method_info(method).require()
    options = resolve_options(method, params, size=model.input_size, model=model)
    if target is not None:
        index = model.class_index(target)
        height, width = model.input_size
        probe = torch.zeros(1, model.channels, height, width, device=model_device(model.module))
        with torch.no_grad():
            classes = model.module(probe).shape[-1]
        if not 0 <= index < classes:
            raise TargetError(f"target class must be in [0, {classes - 1}]; got {index}")
    return options


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
            raise InputError(f"--param must be KEY=VALUE; got {pair!r}")
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
    # Each file is written under a temporary name and renamed (Ctrl-C leaves no half
    # file); the JSON record comes last, so its presence means all three are there.
    npy = save_npy(out / f"{stem}.npy", attribution.astype(np.float32))
    is_mask = method_info(explanation.method).is_mask
    png = out / f"{stem}.png"
    with atomic_path(png) as tmp:
        save_overlay(
            tmp,
            image,
            attribution,
            title=f"{explanation.method}: {record['label']} (p={record['probability']:.2f})",
            vmin=0.0 if is_mask else None,
            vmax=1.0 if is_mask else None,
        )
    js = write_text(out / f"{stem}.json", json.dumps(record, indent=2) + "\n")
    return Written(image_path, npy, png, js, record)


def explain_files(
    model: LoadedModel,
    paths: list[Path],
    out: Path,
    *,
    method: str,
    target: str | None,
    options: dict[str, Any],
    batch_size: int,
) -> tuple[list[Written], list[Failure]]:
    """Explain each image file with ``options`` (as :func:`check_request` resolved them) and
    write its results; a failure never loses the others.

    Returns what was written and a :class:`Failure` for each image that was not. A batch
    that fails is retried image by image, so one bad image does not take its batch with it.
    """
    from ..images import to_original_size

    out.mkdir(parents=True, exist_ok=True)
    written: list[Written] = []
    failures: list[Failure] = []
    loaded = []
    for path in paths:
        try:
            image, tensor, geometry = read_image(path, model, "explain")
            loaded.append((path, np.asarray(image), tensor, geometry))
        except Exception as exc:  # noqa: BLE001 - every failure is reported per file, see failure()
            failures.append(failure(f"{path}", exc))

    def run(batch: list) -> None:
        inputs = torch.stack([item[2] for item in batch])
        try:
            explanation = explain(model, inputs, target=target, method=method, **options)
        except Exception as exc:  # noqa: BLE001 - reported per file, see failure()
            if len(batch) > 1 and not isinstance(exc, NeuromaskError):
                for item in batch:
                    run([item])
                return
            failures.extend(failure(f"{item[0]}: {method}", exc) for item in batch)
            return
        for i, (path, image, _, geometry) in enumerate(batch):
            attribution = to_original_size(explanation.attribution[i], geometry)
            written.append(
                write_result(out, path, image, attribution, explanation[i], model, explanation.seconds / len(batch))
            )

    for start in range(0, len(loaded), max(1, batch_size)):
        run(loaded[start : start + batch_size])
    return written, failures
