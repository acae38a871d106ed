"""``neuromask evaluate SOURCE --model MODEL --methods a,b --out DIR [--masks DIR | --boxes FILE]``.

Scores explanation methods on the user's own model and images and says which to use (see
:mod:`neuromask.evaluation`). Rerunning the same command adds only what is missing, a new
metric included. Exit status: 0 when every explanation and every score is ``ok``; 1 when
some failed (one line per image and reason on stderr, every row in ``DIR/scores.parquet``);
2 for a bad request; 3 when a failure was an unexpected exception (its traceback is shown).
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from ..errors import EXIT_BUG, EXIT_FAILED, EXIT_OK, InputError
from .common import parse_params
from .compare import chosen_methods, skipped_line
from .explain_dataset import add_dataset_arguments, method_options, run_options


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from ..evaluation import DEFAULT, metric_names

    p = sub.add_parser(
        "evaluate",
        help="score explanation methods on your model and images; report which to trust",
        description=(
            "Explain every image of SOURCE with every method (once, resumably), score each map on the metrics, "
            "and write results.parquet, maps.zarr, scores.parquet, summary.csv, report.md and report.html into "
            "OUT. Rerun the same command to resume, or with more --metrics to score the stored maps again."
        ),
    )
    add_dataset_arguments(p, methods_help="'all' (every installed method) or a comma-separated list")
    truth = p.add_mutually_exclusive_group()
    truth.add_argument("--masks", type=Path, help="folder of PNG masks mirroring SOURCE (<ID without extension>.png)")
    truth.add_argument("--boxes", type=Path, help="COCO JSON, or CSV with the header image,x0,y0,x1,y1")
    p.add_argument("--other-masks", type=Path, help="two-object scenes: the other object's masks (for mass_margin)")
    p.add_argument(
        "--metrics",
        default=None,
        help=f"comma-separated, from: {', '.join(metric_names())} (default: those of {', '.join(DEFAULT)} "
        "that the ground truth allows)",
    )
    p.add_argument(
        "--metric-option",
        action="append",
        default=[],
        metavar="METRIC.KEY=VALUE",
        help="a metric's option, e.g. deletion.baseline=road (blur, mean, zero, road) (repeatable)",
    )
    p.set_defaults(run=run)


def metric_options(pairs: list[str], metrics: list[str] | None) -> dict[str, dict[str, Any]]:
    """``--metric-option METRIC.KEY=VALUE`` -> ``{metric: {key: value}}`` (values parsed as JSON, else text)."""
    from ..evaluation import metric_names

    known = metrics or metric_names()
    options: dict[str, dict[str, Any]] = {}
    for key, value in parse_params(pairs).items():
        metric, dot, option = key.partition(".")
        if not dot or not option or metric not in known:
            raise InputError(f"--metric-option must be METRIC.KEY=VALUE for one of {', '.join(known)}; got {key!r}")
        options.setdefault(metric, {})[option] = value
    return options


def run(args: argparse.Namespace) -> int:
    from ..evaluation import evaluate

    names, skipped = chosen_methods(args.methods)
    if skipped and not args.quiet:
        print(f"neuromask evaluate: {skipped_line(skipped)}", file=sys.stderr)
    metrics = None if args.metrics is None else [m.strip() for m in args.metrics.split(",") if m.strip()]
    result = evaluate(
        args.source,
        args.model,
        names,
        args.out,
        masks=args.masks,
        boxes=args.boxes,
        other_masks=args.other_masks,
        metrics=metrics,
        options=method_options(names, args.option, args.config),
        metric_options=metric_options(args.metric_option, metrics),
        **run_options(args),
    )
    for _, _, trace in result.explained.bugs:
        print(trace, file=sys.stderr, end="")
    for *_, trace in result.bugs:
        print(trace, file=sys.stderr, end="")
    for line in failure_lines(result):
        print(f"neuromask evaluate: {line}", file=sys.stderr)
    if not args.quiet:
        e = result.explained
        print(
            f"{e.total} explanations ({e.already_done} done before, {e.computed} now, {len(e.failures)} failed); "
            f"{result.total} scores ({result.already_done} done before, {result.computed} now, "
            f"{len(result.failures)} failed) -> {result.out / 'report.html'}"
        )
        print(result.recommendation.replace("**", ""))
    if result.bugs or result.explained.bugs:
        print(
            "neuromask evaluate: internal error; this is a bug in neuromask or a library it calls: "
            "please report it with the traceback above",
            file=sys.stderr,
        )
        return EXIT_BUG
    return EXIT_OK if result.ok else EXIT_FAILED


def failure_lines(result: Any) -> list[str]:
    """One line per (image, reason): the explanation's failures, then the scores' not caused by them."""
    lines = [f"{image} [{method}]: {error}" for image, method, error in result.explained.failures]
    grouped: dict[tuple[str, str], list[str]] = defaultdict(list)
    for image, method, metric, error in result.failures:
        if error.startswith("no map: the explanation failed"):
            continue  # said above, once per image and method
        grouped[(image, error)].append(metric if method == "*" else f"{method}/{metric}")
    for (image, error), where in grouped.items():
        lines.append(f"{image}: {error} [{_compact(where)}]")
    return lines


def _compact(where: list[str]) -> str:
    unique = list(dict.fromkeys(where))
    return ", ".join(unique) if len(unique) <= 4 else f"{', '.join(unique[:3])} and {len(unique) - 3} more"
