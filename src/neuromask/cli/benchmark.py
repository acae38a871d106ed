"""``neuromask benchmark``: run every method through the metrics and write the report."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from ..bench.suites import SUITES

    p = sub.add_parser(
        "benchmark",
        help="score every method on the known-answer datasets and real photos; write tables, charts, HTML",
        description=(
            "Explain the shipped datasets' images and scikit-image's photos with every registered method, "
            "score each explanation with the metrics, and write rows.jsonl, summary.csv, results.md, charts/ "
            "and index.html into OUT. A rerun with the same OUT skips the cells already done."
        ),
    )
    p.add_argument("--suite", choices=sorted(SUITES), default="quick", help="what to run (default: quick)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (rows are kept between runs)")
    p.add_argument("--methods", nargs="+", metavar="METHOD", default=None, help="only these methods (default: all)")
    p.add_argument(
        "--parts",
        nargs="+",
        choices=("datasets", "composites", "photos"),
        default=None,
        help="only these parts of the suite (default: all)",
    )
    p.add_argument(
        "--categories",
        nargs="+",
        metavar="CATEGORY",
        default=None,
        help="only these metric categories (a partial run; a rerun without it adds the rest, reusing maps)",
    )
    p.add_argument("--device", default="cpu", help="where the models run: cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--report-only", action="store_true", help="rewrite the report from the rows; run nothing")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..bench import SUITES, write_report
    from ..bench import run as run_suite

    failures = 0
    if not args.report_only:
        failures = run_suite(
            SUITES[args.suite],
            args.out,
            methods=args.methods,
            progress=not args.quiet,
            parts=tuple(args.parts) if args.parts else None,
            categories=tuple(args.categories) if args.categories else None,
            device=args.device,
        )
    paths = write_report(args.out)
    print(f"wrote {len(paths)} files to {args.out} (table: {paths[1]})")
    if failures:
        print(
            f"neuromask benchmark: {failures} cell(s) failed; see the Failures section of {paths[1]}", file=sys.stderr
        )
        return 1
    return 0
