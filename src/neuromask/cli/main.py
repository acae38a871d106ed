"""``neuromask``: the entry point; each subcommand lives in its own module of this package."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from .. import __version__
from ..errors import NeuromaskError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neuromask", description="Explain image classifiers.")
    parser.add_argument("--version", action="version", version=f"neuromask {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    package = importlib.import_module(__package__)
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name not in ("main", "common") and not info.name.startswith("_"):
            importlib.import_module(f"{__package__}.{info.name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; errors a user can fix print one line and exit non-zero, no traceback."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (NeuromaskError, ValueError, OSError) as exc:
        print(f"neuromask {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("neuromask: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
