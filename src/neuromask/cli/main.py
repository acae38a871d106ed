"""``neuromask``: the entry point; each subcommand lives in its own module of this package."""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback

from .. import __version__
from ..errors import EXIT_BUG, EXIT_INTERRUPTED, EXIT_USAGE, NeuromaskError
from ..registry import import_submodules


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neuromask", description="Explain image classifiers.")
    parser.add_argument("--version", action="version", version=f"neuromask {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    package = importlib.import_module(__package__ or "neuromask.cli")
    # Every module of this package is a subcommand, but this one and the shared helpers.
    for module in import_submodules(package.__name__, package.__path__, skip=("main", "common")):
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (the table in :mod:`neuromask.errors`).

    A bad request (a :class:`NeuromaskError`, or a file system error naming a path, such
    as an output folder that cannot be created) prints one line and returns 2. Anything
    else is a bug: its traceback is shown and the code is 3, never disguised as a user
    error. Ctrl-C returns 130.
    """
    args = build_parser().parse_args(argv)  # argparse itself exits 2 on a bad command line
    try:
        return int(args.run(args) or 0)
    except NeuromaskError as exc:
        print(f"neuromask {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        if exc.filename is None:  # not about a path the user gave: treat as any other bug
            return _bug(args.command, exc)
        print(f"neuromask {args.command}: error: {exc.strerror or exc}: '{exc.filename}'", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"neuromask {args.command}: interrupted; the files written so far are complete", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the last resort: show it as the bug it is
        return _bug(args.command, exc)


def _bug(command: str, exc: BaseException) -> int:
    traceback.print_exception(exc, file=sys.stderr)
    print(
        f"neuromask {command}: internal error ({type(exc).__name__}); this is a bug in neuromask "
        "or a library it calls: please report it with the traceback above",
        file=sys.stderr,
    )
    return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
