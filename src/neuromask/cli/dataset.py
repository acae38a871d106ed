"""``neuromask dataset NAME --n N --out DIR``: write a known-answer dataset as PNG images and masks."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from ..datasets import DATASETS

    p = sub.add_parser(
        "dataset",
        help="write a known-answer dataset as PNG images (ImageFolder) and evidence masks",
        description="Write samples of a procedural dataset to DIR/images/<class>/<index>.png and their evidence "
        "masks to DIR/masks/<class>/<index>.png, the layout `neuromask evaluate DIR/images --masks DIR/masks` reads.",
    )
    p.add_argument("name", choices=DATASETS.names())
    p.add_argument("--n", type=int, required=True, help="number of images")
    p.add_argument("--out", type=Path, required=True, metavar="DIR")
    p.add_argument("--seed", type=int, default=0, help="the generator's seed (default 0)")
    p.add_argument(
        "--start",
        type=int,
        default=0,
        help="index of the first sample; beyond a model's training and test samples for held-out images",
    )
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="a dataset option (repeatable)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..datasets import write_folder
    from .common import parse_params

    ids = write_folder(args.name, args.n, args.out, seed=args.seed, start=args.start, **parse_params(args.option))
    print(f"wrote {len(ids)} images to {args.out / 'images'} and their masks to {args.out / 'masks'}")
    return 0
