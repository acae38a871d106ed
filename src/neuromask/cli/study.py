"""``neuromask study bnn``: do explanations survive binarization? (the BNN-vs-FP study)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from ..studies.config import FULL

    parser = subparsers.add_parser(
        "study",
        help="run a study that answers a question about explanations with numbers",
        description="Run a study. 'bnn': saliency, SmoothGrad, Grad-CAM and the other methods on full-precision "
        "CNNs and their binarized twins, several seeds each, with 95%% intervals; writes report.md, "
        "report.html, findings.json, results.json and PNGs into DIR.",
    )
    studies = parser.add_subparsers(dest="study", required=True)
    bnn = studies.add_parser("bnn", help="BNN vs full-precision explanations (Widdicombe & Julier 2021)")
    bnn.add_argument(
        "--quick",
        action="store_true",
        help="3 seeds, 6 images, 8 methods instead of 5 seeds, 8 images, every method but the baselines",
    )
    bnn.add_argument(
        "--dataset",
        nargs="+",
        choices=sorted(FULL.datasets),
        metavar="NAME",
        help=f"datasets (default: all of {', '.join(FULL.datasets)})",
    )
    bnn.add_argument("--out", required=True, type=Path, metavar="DIR")
    bnn.add_argument(
        "--cache",
        type=Path,
        metavar="DIR",
        help="where the trained seed models are kept and reused (default DIR/models)",
    )
    bnn.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from ..studies import run_bnn_study

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    summary = run_bnn_study(args.out, quick=args.quick, datasets=args.dataset, cache=args.cache)
    for f in summary["findings"] + ([summary["neuromask"]] if summary["neuromask"] else []):
        lo, hi = f["ci95"]
        outcome = f.get("verdict", f.get("standing"))
        print(f"[{f['id']}] {f['statistic']}: {f['value']:.3f} [{lo:.3f}, {hi:.3f}] -> {outcome}")
    return 0
