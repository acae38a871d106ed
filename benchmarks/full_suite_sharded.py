"""The full benchmark suite as parallel processes on one machine, with a time box.

``neuromask benchmark --suite full`` evaluates its groups one after the other. Each group
is an evaluation of its own (``OUT/groups/<group>/``, one writer each), so on a machine
with many cores (and a GPU that one process leaves mostly idle) the groups run side by
side: first every group's images are written (``OUT/data``, once), then one process per
group runs ``neuromask benchmark --suite full --groups GROUP --out OUT`` with ``--workers``
Ray actors each. A process still running at the deadline gets Ctrl-C: every row written so
far is kept (each is recorded only once complete), and a rerun with the same ``OUT``
resumes, this script or ``neuromask benchmark --suite full --out OUT``. Then the report
is rewritten from all the groups' rows.

    python benchmarks/full_suite_sharded.py --out DIR [--device cuda] [--seconds 3600] [--workers 1] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def prepare(out: Path, device: str) -> list[str]:
    """Write every group's images and masks; return the group names."""
    from neuromask.bench import SUITES
    from neuromask.bench.groups import build, families
    from neuromask.bench.runner import DATA

    full = SUITES["full"]
    return [g.name for family in families(full) for g in build(out / DATA, full, family, device)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seconds", type=float, default=3600, help="time box for the groups")
    parser.add_argument("--workers", type=int, default=1, help="Ray actors per group")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--only", nargs="+", default=None, help="run only these groups")
    args = parser.parse_args()

    names = args.only or prepare(args.out, args.device)
    env = os.environ | {"OMP_NUM_THREADS": str(args.threads), "PYTHONUNBUFFERED": "1"}
    logs = args.out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "neuromask.cli.main", "benchmark", "--suite", "full", "--groups", name,
             "--out", str(args.out), "--device", args.device, "--workers", str(args.workers), "--quiet", "--no-report"],
            env=env,
            stdout=(logs / f"{name}.txt").open("w"),
            stderr=subprocess.STDOUT,
        )
        for name in names
    }  # fmt: skip
    start = time.monotonic()
    while any(p.poll() is None for p in procs.values()) and time.monotonic() - start < args.seconds:
        time.sleep(2)
    for p in procs.values():
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    for name, p in procs.items():
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
        print(f"group {name}: exit {p.returncode} after {time.monotonic() - start:.0f} s")
    from neuromask.bench import write_report

    write_report(args.out)


if __name__ == "__main__":
    main()
