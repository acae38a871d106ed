"""``neuromask explain-dataset SOURCE --model MODEL --methods a,b --out DIR``: a whole dataset, resumably.

Rerunning the same command computes only what is missing; see :mod:`neuromask.runs`.
Exit status (the table in :mod:`neuromask.errors`): 0 when every (image, method) is ``ok``;
1 when some failed (each on its own line on stderr, all in ``DIR/results.parquet``); 2 for
a bad request; 3 when a failure was an unexpected exception (its traceback is shown, after
every other item was still written).
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

from ..api import methods
from ..errors import EXIT_BUG, EXIT_FAILED, EXIT_OK, InputError
from .common import parse_params


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "explain-dataset",
        help="explain every image of a folder or WebDataset shards; rerun to resume",
    )
    p.add_argument("source", type=Path, help="a folder of images (recursive), an ImageFolder root, or .tar shards")
    p.add_argument("--model", required=True, help="built-in name (see `neuromask models`) or a model file / spec")
    p.add_argument("--methods", required=True, help=f"comma-separated, from: {', '.join(methods())}")
    p.add_argument("--out", required=True, type=Path, help="folder for results.parquet, maps.zarr, manifest.jsonl")
    p.add_argument(
        "--source-kind",
        default="auto",
        choices=("auto", "folder", "imagefolder", "webdataset"),
        help="how SOURCE is laid out (default: auto, .tar shards or a folder)",
    )
    p.add_argument(
        "--target",
        default="top1",
        choices=("top1", "class"),
        help="explain each image's top-1 class, or the class its ImageFolder folder / .cls gives",
    )
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="METHOD.KEY=VALUE",
        help="an option of one method, e.g. neuromask.steps=100 (repeatable)",
    )
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        help='a JSON or TOML file of options per method, e.g. {"neuromask": {"steps": 100}}',
    )
    p.add_argument("--batch-size", type=int, default=1, help="images explained together (default 1)")
    p.add_argument("--workers", type=int, default=1, help="more than 1 runs on a pool of Ray actors (default 1)")
    p.add_argument("--address", default=None, help="run on an existing Ray cluster (e.g. 127.0.0.1:6379, or auto)")
    p.add_argument("--threads", type=int, default=None, help="torch threads per Ray worker (default: cores shared out)")
    p.add_argument("--per-image", action="store_true", help="also write per_image/<ID>.<method>.npy/.png/.json")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    p.set_defaults(run=run)


def method_options(names: list[str], pairs: list[str], config: Path | None) -> dict[str, dict[str, Any]]:
    """Options per method: the config file's, then ``--option METHOD.KEY=VALUE`` over them."""
    options: dict[str, dict[str, Any]] = {}
    if config is not None:
        text = config.read_text()
        try:
            loaded = tomllib.loads(text) if config.suffix == ".toml" else json.loads(text)
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"config '{config}' is not valid {config.suffix.lstrip('.') or 'JSON'}: {exc}") from exc
        if not isinstance(loaded, dict) or not all(isinstance(v, dict) for v in loaded.values()):
            raise InputError(
                f'config \'{config}\' must map each method to its options, e.g. {{"neuromask": {{"steps": 100}}}}'
            )
        options = {m: dict(v) for m, v in loaded.items()}
    for key, value in parse_params(pairs).items():
        method, dot, option = key.partition(".")
        if not dot or not option or method not in names:
            raise InputError(f"--option must be METHOD.KEY=VALUE for one of --methods {','.join(names)}; got {key!r}")
        options.setdefault(method, {})[option] = value
    return options


def run(args: argparse.Namespace) -> int:
    from ..runs import explain_dataset

    names = [n.strip() for n in args.methods.split(",") if n.strip()]
    summary = explain_dataset(
        args.source,
        args.model,
        names,
        args.out,
        options=method_options(names, args.option, args.config),
        target=args.target,
        source_kind=args.source_kind,
        batch_size=args.batch_size,
        workers=args.workers,
        address=args.address,
        threads=args.threads,
        per_image=args.per_image,
        device=args.device,
        quiet=args.quiet,
    )
    for _, _, trace in summary.bugs:
        print(trace, file=sys.stderr, end="")
    for image, method, error in summary.failures:
        print(f"neuromask explain-dataset: {image} [{method}]: {error}", file=sys.stderr)
    if not args.quiet:
        print(
            f"{summary.total} items: {summary.already_done} done before, {summary.computed} computed now, "
            f"{len(summary.failures)} failed -> {summary.out / 'results.parquet'}"
        )
    if summary.bugs:
        print(
            f"neuromask explain-dataset: internal error in {len(summary.bugs)} item(s); this is a bug in neuromask "
            "or a library it calls: please report it with the traceback above",
            file=sys.stderr,
        )
        return EXIT_BUG
    return EXIT_OK if summary.ok else EXIT_FAILED
