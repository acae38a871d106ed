"""``neuromask compare IMAGE [IMAGE ...] --model MODEL [--methods all|a,b,c] --out DIR``:
every method on the same images, side by side (the NeuroMask paper's Figure 3)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._core import save_npy
from ..api import explain, method_info, methods, resolve_options
from ..errors import NeuromaskError, UnknownNameError, UnsupportedModelError
from ..types import Explanation
from .common import Failure, exit_code, failure, parse_params, read_image


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("compare", help="run several methods on the same images and draw them side by side")
    p.add_argument("images", nargs="+", type=Path, help="image files (any format Pillow reads)")
    p.add_argument("--model", required=True, help="built-in name (see `neuromask models`) or a model file / spec")
    p.add_argument("--methods", default="all", help="'all' or a comma-separated list of method names (default: all)")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="METHOD.KEY=VALUE",
        help="an option of one method, e.g. rise.masks=1000 (repeatable)",
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument(
        "--out", required=True, type=Path, help="folder for compare.png, compare.html and <stem>.<method>.npy"
    )
    p.set_defaults(run=run)


def chosen_methods(spec: str) -> tuple[list[str], list[str]]:
    """``"all"`` or ``"a,b,c"`` -> (method names to run, in display order for "all" or as
    given; the methods "all" skipped because their optional dependency is missing)."""
    registered = methods()
    if spec.strip() == "all":
        usable = methods(available=True)
        return usable, [m for m in registered if m not in usable]
    names = [s.strip() for s in spec.split(",") if s.strip()]
    if not names:
        raise UnknownNameError("--methods must be 'all' or a comma-separated list of method names; got nothing")
    unknown = [n for n in names if n not in registered]
    if unknown:
        raise UnknownNameError(f"unknown method(s) {', '.join(unknown)}; choose from: {', '.join(registered)}")
    return list(dict.fromkeys(names)), []


def skipped_line(skipped: list[str]) -> str:
    """One line naming the skipped methods and the commands that add them."""
    commands = sorted({method_info(m).install or "" for m in skipped} - {""})
    return f"skipped {', '.join(skipped)} (not installed; add with: {'; '.join(commands)})"


def method_params(pairs: list[str], names: list[str]) -> dict[str, dict[str, Any]]:
    """``["rise.masks=1000"]`` -> ``{"rise": {"masks": 1000}}``."""
    out: dict[str, dict[str, Any]] = {n: {} for n in names}
    for key, value in parse_params(pairs).items():
        method, dot, option = key.partition(".")
        if not dot or method not in out:
            raise UnknownNameError(f"--param must be METHOD.KEY=VALUE for one of the compared methods; got {key!r}")
        out[method][option] = value
    return out


def _pixels(inputs: torch.Tensor, model: Any) -> np.ndarray:
    """Model inputs (C, H, W) -> the picture the model saw, (H, W, 3) float in [0, 1]."""
    x = inputs.detach().cpu()
    if model.mean is not None and model.std is not None:
        mean = torch.tensor(model.mean).view(-1, 1, 1)
        std = torch.tensor(model.std).view(-1, 1, 1)
        x = x * std + mean
    pixels = x.clamp(0, 1).permute(1, 2, 0).numpy()
    return np.repeat(pixels, 3, axis=-1) if pixels.shape[-1] == 1 else pixels


def run(args: argparse.Namespace) -> int:
    from ..images import to_original_size
    from ..models import load_model
    from ..viz.grid import comparison_grid

    names, skipped = chosen_methods(args.methods)
    if skipped:
        print(f"neuromask compare: {skipped_line(skipped)}", file=sys.stderr)
    params = method_params(args.param, names)
    model = load_model(args.model, device=args.device)
    for name in names:  # a bad request is refused before any work (exit 2)
        method_info(name).require()
        params[name] = resolve_options(name, params[name], size=model.input_size, model=model)
    args.out.mkdir(parents=True, exist_ok=True)

    paths, stems, tensors, geometries = [], [], [], []
    failures: list[Failure] = []
    for path in args.images:
        try:
            _, tensor, geometry = read_image(path, model, "compare")
        except Exception as exc:  # noqa: BLE001 - reported per file, see failure()
            failures.append(failure(str(path), exc))
            continue
        paths.append(path)
        stems.append(path.stem)
        tensors.append(tensor)
        geometries.append(geometry)
    if not tensors:
        for f in failures:
            print(f.line("compare"), file=sys.stderr)
        return exit_code(failures)
    inputs = torch.stack(tensors)

    maps: list[dict[str, np.ndarray | None]] = [{} for _ in stems]
    seconds: dict[str, float] = {}
    labels: list[str] = ["" for _ in stems]
    # With --methods all, a method that cannot explain this kind of model (guided backprop
    # on GELU, LRP on a transformer) is skipped like a missing extra, not a failure; a
    # method asked for by name that refuses is a failure.
    refused: dict[str, str] | None = {} if args.methods.strip() == "all" else None
    for name in names:
        results = explain_each(model, inputs, name, params[name], paths, failures, refused)
        if refused is not None and name in refused:
            print(f"neuromask compare: skipped {name} (cannot explain this model: {refused[name]})", file=sys.stderr)
            continue
        done = [(i, e, j) for i, (e, j) in enumerate(results) if e is not None]
        for i, e, j in done:
            att = e.attribution[j]
            maps[i][name] = att.numpy()
            save_npy(args.out / f"{stems[i]}.{name}.npy", to_original_size(att, geometries[i]))
            labels[i] = labels[i] or f"{model.label(int(e.target[j]))} ({float(e.probability[j]):.2f})"
        for i, (found, _) in enumerate(results):
            if found is None:
                maps[i][name] = None
        if done:
            seconds[name] = sum(e.seconds / len(e) for _, e, _ in done) / len(done)
            if not args.quiet:
                print(f"{name}: {seconds[name]:.2f} s per image", flush=True)

    for i, label in enumerate(labels):  # every method failed on this image: the model's own answer
        if not label:
            labels[i] = _own_label(model, inputs[i : i + 1].to(args.device))
    names = [n for n in names if not refused or n not in refused]
    pictures = [_pixels(t, model) for t in tensors]
    png = comparison_grid(args.out / "compare.png", pictures, labels, names, maps, seconds=seconds)
    lines = [f"{f.where}: {f.reason}" for f in failures]
    write_html(args.out / "compare.html", png.name, args.model, stems, labels, names, seconds, lines)
    if not args.quiet:
        print(f"-> {png} and {args.out / 'compare.html'}")
    for f in failures:
        print(f.line("compare"), file=sys.stderr)
    return exit_code(failures)


def _own_label(model: Any, x: torch.Tensor) -> str:
    """The model's top-1 label and probability for one image (1, C, H, W); "?" if it fails on it
    (its failure is already reported by the methods)."""
    try:
        with torch.no_grad():
            p = model.module(x).softmax(1)[0].cpu()
    except Exception:  # noqa: BLE001 - already reported once per method
        return "?"
    return f"{model.label(int(p.argmax()))} ({float(p.max()):.2f})"


def explain_each(
    model: Any,
    inputs: torch.Tensor,
    name: str,
    params: dict[str, Any],
    paths: list[Path],
    failures: list[Failure],
    refused: dict[str, str] | None = None,
) -> list[tuple[Explanation | None, int]]:
    """Explain the batch with ``name``: for each image, (its Explanation, its row in it) or
    (None, 0) after adding its :class:`Failure`. An unexpected failure of the batch is
    retried image by image, so that one image that breaks a method does not take the
    others with it. With ``refused`` given, a method that raises UnsupportedModelError is
    put there with its message instead of into ``failures``."""
    try:
        e = explain(model, inputs, method=name, **params)
        return [(e, i) for i in range(len(paths))]
    except Exception as exc:  # noqa: BLE001 - reported, see failure()
        if refused is not None and isinstance(exc, UnsupportedModelError):
            refused[name] = str(exc)
            return [(None, 0)] * len(paths)
        if len(paths) == 1 or isinstance(exc, NeuromaskError):
            failures.append(failure(f"{', '.join(map(str, paths))}: {name}", exc))
            return [(None, 0)] * len(paths)
    results: list[tuple[Explanation | None, int]] = []
    for i, path in enumerate(paths):
        try:
            results.append((explain(model, inputs[i : i + 1], method=name, **params), 0))
        except Exception as exc:  # noqa: BLE001 - reported, see failure()
            failures.append(failure(f"{path}: {name}", exc))
            results.append((None, 0))
    return results


def write_html(
    path: Path,
    png: str,
    model: str,
    stems: list[str],
    labels: list[str],
    names: list[str],
    seconds: dict[str, float],
    failures: list[str],
) -> None:
    """A small self-contained page: the grid, and seconds per image for each method."""
    from ..outputs import Page

    page = Page("neuromask compare", style="td+td{text-align:right}")
    images = ", ".join(f"{s}: {lab}" for s, lab in zip(stems, labels))
    page.paragraph(f"Model: {model}. Images (predicted label, probability): {images}.")
    page.image(png, "comparison grid")
    page.heading(2, "Seconds per image")
    page.table(["method", "seconds"], [[n, f"{seconds[n]:.2f}" if n in seconds else "failed"] for n in names])
    if failures:
        page.heading(2, "Failures")
        page.items(failures)
    page.write(None, path)
