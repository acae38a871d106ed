"""The full benchmark suite as parallel shards on one machine, with a time box.

``neuromask benchmark --suite full`` runs its cells one after the other. On a machine
with many cores (and a GPU that one process leaves mostly idle) the suite splits into
independent shards: each shipped model's dataset in two halves by method (the four
slow methods apart), the composites in four (NeuroMask, extremal perturbation, the other
two slow methods, the rest), and the photos. Each shard is the same ``full``
suite restricted to its groups and methods, so its cells carry the same resume keys as
in an unsharded run; each writes its own folder (one writer per rows file), and at the
end their rows are appended to ``OUT/rows.jsonl``, their runs to ``OUT/machine.json``,
and the report is rewritten. A shard still running at the deadline gets Ctrl-C, which
the runner turns into a clean stop: every row written so far is kept, and a rerun with
the same ``OUT`` resumes (``neuromask benchmark --suite full --out OUT`` too).

    python benchmarks/full_suite_sharded.py --out DIR [--device cuda] [--seconds 420] [--threads 1]
    python benchmarks/full_suite_sharded.py --out DIR --per-group --methods extremal_perturbation  # a rerun
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

SLOW = ("neuromask", "extremal_perturbation", "meaningful_perturbation", "rise")
# On the 224 px composites each slow method is a shard of its own (two share one).
COMPOSITE_SPLIT = (("neuromask",), ("extremal_perturbation",), ("meaningful_perturbation", "rise"))


def shards(
    methods: list[str] | None = None, per_group: bool = False
) -> dict[str, tuple[object, list[str] | None, tuple[str, ...] | None]]:
    """{name: (suite, methods, groups)}: the full suite cut into independent pieces.

    ``per_group``: one shard per group (every method of ``methods``, default all), for a
    rerun of a few methods across the whole suite.
    """
    import neuromask
    from neuromask.bench import SUITES
    from neuromask.bench.runner import group_names

    full = SUITES["full"]
    if per_group:
        return {name: (full, methods, (name,)) for name in group_names(full)}
    rest = [m for m in sorted(neuromask.methods()) if m not in SLOW]
    out: dict[str, tuple[object, list[str] | None, tuple[str, ...] | None]] = {}
    for m in full.datasets:
        suite = dataclasses.replace(full, datasets=(m,), composite_models=(), photos=())
        out[f"datasets-{m}-slow"] = (suite, list(SLOW), None)
        out[f"datasets-{m}-rest"] = (suite, rest, None)
    composites = dataclasses.replace(full, datasets=(), photos=())
    for group in COMPOSITE_SPLIT:
        out["composites-" + "+".join(group)] = (composites, list(group), None)
    out["composites-rest"] = (composites, rest, None)
    out["photos"] = (dataclasses.replace(full, datasets=(), composite_models=()), None, None)
    return out


def run_shard(name: str, out: Path, device: str, methods: list[str] | None, per_group: bool) -> int:
    from neuromask.bench import run

    suite, shard_methods, groups = shards(methods, per_group)[name]
    try:
        return run(suite, out, methods=shard_methods, device=device, progress=False, groups=groups)  # type: ignore[arg-type]
    except KeyboardInterrupt:
        print(f"shard {name}: stopped at the deadline; its rows so far are kept", file=sys.stderr)
        return 0


def merge(out: Path, names: list[str]) -> None:
    """Append every shard's rows and runs to ``out``'s, then rewrite the report."""
    from neuromask.bench import write_report

    rows = out / "rows.jsonl"
    machine = out / "machine.json"
    runs = json.loads(machine.read_text())["runs"] if machine.exists() else []
    with rows.open("a", encoding="utf-8") as dst:
        for name in names:
            shard = out / "shards" / name
            if (shard / "rows.jsonl").exists():
                text = (shard / "rows.jsonl").read_text(encoding="utf-8")
                # A row cut off by the stop is dropped: the cell is simply not done.
                dst.writelines(line + "\n" for line in text.splitlines() if line.endswith("}"))
            if (shard / "machine.json").exists():
                runs += [r | {"shard": name} for r in json.loads((shard / "machine.json").read_text())["runs"]]
    machine.write_text(json.dumps({"runs": runs}, indent=2, default=repr) + "\n")
    write_report(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seconds", type=float, default=3600, help="time box for the shards")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per shard")
    parser.add_argument("--only", nargs="+", default=None, help="run only these shards")
    parser.add_argument("--methods", nargs="+", default=None, help="only these methods (with --per-group)")
    parser.add_argument("--per-group", action="store_true", help="one shard per group instead")
    parser.add_argument("--shard", help=argparse.SUPPRESS)  # internal: run one shard in this process
    args = parser.parse_args()

    if args.shard:
        import torch

        torch.set_num_threads(args.threads)
        sys.exit(run_shard(args.shard, args.out, args.device, args.methods, args.per_group))

    names = args.only or list(shards(args.methods, args.per_group))
    extra = (["--per-group"] if args.per_group else []) + (["--methods", *args.methods] if args.methods else [])
    env = os.environ | {"OMP_NUM_THREADS": str(args.threads), "PYTHONUNBUFFERED": "1"}
    procs = {}
    for name in names:
        log = args.out / "shards" / name
        log.mkdir(parents=True, exist_ok=True)
        procs[name] = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--shard",
                name,
                "--out",
                str(log),
                "--device",
                args.device,
                "--threads",
                str(args.threads),
                *extra,
            ],
            env=env,
            stdout=(log / "log.txt").open("w"),
            stderr=subprocess.STDOUT,
        )
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
        print(f"shard {name}: exit {p.returncode} after {time.monotonic() - start:.0f} s")
    merge(args.out, names)


if __name__ == "__main__":
    main()
