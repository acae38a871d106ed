"""``neuromask explain IMAGE [IMAGE ...] --model MODEL [--method M] [--target CLASS] --out DIR``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..api import methods
from .common import check_request, exit_code, explain_files, parse_params, show_progress


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("explain", help="explain a classifier's decision on image files")
    p.add_argument("images", nargs="+", type=Path, help="image files (any format Pillow reads)")
    p.add_argument("--model", required=True, help="built-in name (see `neuromask models`) or a model file / spec")
    p.add_argument("--method", default="neuromask", help=f"one of: {', '.join(methods())} (default: neuromask)")
    p.add_argument("--target", default=None, help="class index or label name (default: each image's top-1 class)")
    p.add_argument("--steps", type=int, default=None, help="optimisation steps, for methods that have them")
    p.add_argument("--preset", default=None, help="a named set of options, e.g. neuromask's paper / reference")
    p.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE", help="any other method option (repeatable)"
    )
    p.add_argument("--batch-size", type=int, default=4, help="images explained together (default 4)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    p.add_argument("--out", required=True, type=Path, help="folder for <stem>.<method>.npy/.png/.json")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..models import load_model

    params = parse_params(args.param)
    if args.steps is not None:
        params["steps"] = args.steps
    if args.preset is not None:
        params["preset"] = args.preset
    model = load_model(args.model, device=args.device)
    options = check_request(model, args.method, args.target, {**show_progress(args.method, args.quiet), **params})
    written, failures = explain_files(
        model,
        args.images,
        args.out,
        method=args.method,
        target=args.target,
        options=options,
        batch_size=args.batch_size,
    )
    if not args.quiet:
        for image, w in written:
            masked = w.record["masked_probability"]
            masked_text = "" if masked is None else f", masked p={masked:.3f}"
            print(f"{image}: {w.record['label']} (p={w.record['probability']:.3f}{masked_text}) -> {w.png}")
    for f in failures:
        print(f.line("explain"), file=sys.stderr)
    return exit_code(failures)
