"""``neuromask train``: train a small classifier on a known-answer dataset."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from ..datasets import DATASETS
    from ..models.train import ARCHS

    parser = subparsers.add_parser(
        "train",
        help="train a small CNN, BNN or ViT on a known-answer dataset",
        description="Train a small classifier on a procedural dataset, print its test accuracy "
        "and save its weights (FILE) and a JSON record (FILE with suffix .json).",
    )
    parser.add_argument("--dataset", required=True, choices=DATASETS.names())
    parser.add_argument("--variant", help="dataset variant (triangles_squares: oriented or scaled)")
    parser.add_argument("--arch", required=True, choices=sorted(ARCHS))
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--samples", type=int, default=20_000, help="training samples (default 20000)")
    parser.add_argument("--test-samples", type=int, default=2_000, help="test samples (default 2000)")
    parser.add_argument(
        "--width", type=int, help="channels of the first conv block, or the ViT's token dimension (default 16; vit 64)"
    )
    parser.add_argument("--lr", type=float, default=3e-3, help="peak learning rate")
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="drives the training data, initial weights and shuffling (default 0; "
        "the BNN study trains seeds 0..4 of each architecture)",
    )
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--out", required=True, type=Path, metavar="FILE")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from ..models.train import save_trained, train

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    options = {} if args.variant is None else {"variant": args.variant}
    result = train(
        args.dataset,
        args.arch,
        samples=args.samples,
        test_samples=args.test_samples,
        epochs=args.epochs,
        width=args.width,
        lr=args.lr,
        seed=args.seed,
        **options,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    weights, record = save_trained(result, args.out)
    print(
        f"{args.dataset} {args.arch}: test accuracy {100 * result.record['accuracy']:.2f}% "
        f"on {args.test_samples} samples ({result.record['seconds']:.0f} s); wrote {weights} and {record}"
    )
    return 0
