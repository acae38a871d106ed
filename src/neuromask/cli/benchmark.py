"""``neuromask benchmark``: the project's own data handed to ``evaluate``, and the suite's report."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from ..bench.suites import SUITES

    p = sub.add_parser(
        "benchmark",
        help="score every method on the known-answer datasets and real photos; write tables, charts, HTML",
        description=(
            "Write the known-answer datasets, the composites and the offline photos as image and mask folders, "
            "run `neuromask evaluate` on each group with every method (OUT/groups/<group>/), and write "
            "rows.parquet, summary.csv, results.md, SUMMARY.md, charts/ and index.html into OUT. A rerun with "
            "the same OUT computes only what is missing."
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
    p.add_argument("--groups", nargs="+", metavar="GROUP", default=None, help="only these groups (by their names)")
    p.add_argument("--device", default="cpu", help="where the models run: cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--workers", type=int, default=1, help="Ray actors per group (default 1: this process)")
    p.add_argument("--report-only", action="store_true", help="rewrite the report from the rows; run nothing")
    p.add_argument("--no-report", action="store_true", help="run, and leave the report to a later --report-only")
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
            groups=tuple(args.groups) if args.groups else None,
            workers=args.workers,
        )
    if args.no_report:
        return 1 if failures else 0
    paths = write_report(args.out)
    print(f"wrote {len(paths)} files to {args.out} (table: {paths[1]}, summary: {paths[3]})")
    if failures:
        print(f"neuromask benchmark: {failures} row(s) failed; see the Failures section of {paths[1]}", file=sys.stderr)
        return 1
    return 0
