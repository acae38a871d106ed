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

from .._core import model_device
from ..api import explain, method_info, resolve_options
from ..errors import EXIT_BUG, EXIT_FAILED, EXIT_OK, ImageNote, InputError, NeuromaskError, TargetError
from ..outputs import Written, explanation_record, write_image_files
from ..types import LoadedModel


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


def explain_files(
    model: LoadedModel,
    paths: list[Path],
    out: Path,
    *,
    method: str,
    target: str | None,
    options: dict[str, Any],
    batch_size: int,
) -> tuple[list[tuple[Path, Written]], list[Failure]]:
    """Explain each image file with ``options`` (as :func:`check_request` resolved them) and
    write its results; a failure never loses the others.

    Returns (image, its files) for each image written (``<stem>.<method>.npy/.png/.json``,
    :func:`neuromask.outputs.write_image_files`) and a :class:`Failure` for each image that
    was not. A batch that fails is retried image by image, so one bad image does not take
    its batch with it.
    """
    from ..images import to_original_size

    out.mkdir(parents=True, exist_ok=True)
    written: list[tuple[Path, Written]] = []
    failures: list[Failure] = []
    loaded = []
    for path in paths:
        try:
            image, tensor, geometry = read_image(path, model, "explain")
            loaded.append((path, np.asarray(image), tensor, geometry))
        except Exception as exc:  # noqa: BLE001 - every failure is reported per file, see failure()
            failures.append(failure(f"{path}", exc))

    def run(batch: list[tuple[Path, np.ndarray, torch.Tensor, Any]]) -> None:
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
            record = explanation_record(explanation, i, image=str(path), model=model)
            written.append((path, write_image_files(out, f"{path.stem}.{method}", image, attribution, record)))

    for start in range(0, len(loaded), max(1, batch_size)):
        run(loaded[start : start + batch_size])
    return written, failures
