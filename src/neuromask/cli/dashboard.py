"""``neuromask dashboard [--port P]``: serve the web dashboard on http://127.0.0.1:P/ until interrupted."""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import subprocess
import sys

from ..errors import InputError, MissingDependencyError

INSTALL_HINT = "pip install 'neuromask[dashboard]'"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("dashboard", help="serve the web dashboard (Explain and Results pages) on this machine")
    p.add_argument("--port", type=int, default=8501, help="the port on 127.0.0.1 (default 8501)")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads for the explanations (default: PyTorch's); 1 can be much faster on a busy machine",
    )
    p.set_defaults(run=run)


def streamlit_command(port: int) -> list[str]:
    """The ``streamlit run`` command line: bound to 127.0.0.1 only (the Results page reads the
    server's folders), no browser opened, no usage statistics sent, uploads capped."""
    from ..dashboard import APP_PATH
    from ..dashboard.logic import MAX_UPLOAD_MB

    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_PATH),
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.maxUploadSize",
        str(MAX_UPLOAD_MB),
        "--browser.gatherUsageStats",
        "false",
        "--client.showErrorDetails",
        "false",
        "--client.toolbarMode",
        "minimal",
    ]


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.port <= 65535:
        raise InputError(f"--port must be between 1 and 65535; got {args.port}")
    if args.threads is not None and args.threads < 1:
        raise InputError(f"--threads must be at least 1; got {args.threads}")
    if importlib.util.find_spec("streamlit") is None:
        raise MissingDependencyError(f"the dashboard needs Streamlit; install it with: {INSTALL_HINT}")
    print(f"neuromask dashboard: serving on http://127.0.0.1:{args.port}/ (Ctrl-C to stop)", flush=True)
    # Streamlit runs in its own process: its server owns the event loop and signal handlers,
    # and Ctrl-C reaches both processes; main() turns the interrupt into exit status 130.
    from ..dashboard.logic import THREADS_ENV

    env = dict(os.environ)
    if args.threads is not None:
        env[THREADS_ENV] = str(args.threads)
    # SIGTERM (a service manager, `kill`, a test's teardown) would end this process without
    # running the `finally` below and leave the server running as an orphan: turn it into an
    # exit that does run it. 128 + 15 is the shell's status for a process ended by SIGTERM.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    process = subprocess.Popen(streamlit_command(args.port), env=env)
    try:
        return process.wait()
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait()
