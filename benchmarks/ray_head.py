"""The same `explain-dataset` command in this process and against a separately started Ray head node.

Start the head first (token authentication is on by default in Ray 2.60), then::

    export RAY_AUTH_MODE=token
    ray start --head --num-cpus 2
    python benchmarks/ray_head.py --address 127.0.0.1:6379

Runs ``neuromask explain-dataset`` on 12 triangles_squares PNGs with saliency and
NeuroMask (10 steps), batches of 2, once in-process and once with ``--workers 2
--address ADDRESS`` (each as its own process, as a user types it), then compares the two
tables and every map. Prints Markdown and writes benchmarks/results/ray_head.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from dataset_runs import write_image_folder  # noqa: E402  (the tests' PNG folders)
from machine import describe  # noqa: E402
from neuromask.runs import RunResults  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--address", required=True)
    args = parser.parse_args()
    machine = {**describe(), "load_average_1min_at_start": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ids = write_image_folder(work / "images", 12)
        base = [
            sys.executable,
            "-m",
            "neuromask.cli.main",
            "explain-dataset",
            str(work / "images"),
            "--model",
            "triangles_squares-cnn",
            "--methods",
            "saliency,neuromask",
            "--option",
            "neuromask.steps=10",
            "--batch-size",
            "2",
            "--quiet",
        ]
        runs = {}
        for name, extra in (("in-process", []), ("head node", ["--workers", "2", "--address", args.address])):
            start = time.perf_counter()
            done = subprocess.run(base + ["--out", str(work / name)] + extra, capture_output=True, text=True)
            runs[name] = {
                "exit": done.returncode,
                "seconds": round(time.perf_counter() - start, 1),
                "stderr_tail": done.stderr[-500:],
            }
        a, b = RunResults(work / "in-process"), RunResults(work / "head node")
        columns = ["image", "method", "status", "target"]
        same_rows = sorted(map(str, a.table.select(columns).to_pylist())) == sorted(
            map(str, b.table.select(columns).to_pylist())
        )
        diffs = [float(np.abs(a.map(i, m) - b.map(i, m)).max()) for i in ids for m in ("saliency", "neuromask")]
    result = {
        "address": args.address,
        "runs": runs,
        "rows": [a.table.num_rows, b.table.num_rows],
        "same_rows": same_rows,
        "maps": len(diffs),
        "maps_equal": sum(d == 0 for d in diffs),
        "max_abs_difference": max(diffs),
        "machine": machine,
    }
    lines = [
        "# explain-dataset against a separately started Ray head node",
        "",
        f"`ray start --head --num-cpus 2`, then `python benchmarks/ray_head.py --address {args.address}`: "
        "12 images x (saliency, NeuroMask 10 steps), batches of 2.",
        "",
        "| run | exit | seconds (start-up included) | rows |",
        "|---|---:|---:|---:|",
        f"| in-process | {runs['in-process']['exit']} | {runs['in-process']['seconds']} | {a.table.num_rows} |",
        f"| `--workers 2 --address {args.address}` | {runs['head node']['exit']} | {runs['head node']['seconds']} "
        f"| {b.table.num_rows} |",
        "",
        f"Same (image, method, status, target) rows: {same_rows}. Maps bit-identical: {result['maps_equal']} of "
        f"{len(diffs)}; largest difference {result['max_abs_difference']:.2e} (each actor runs torch with 1 thread).",
        "",
        f"Machine: {machine}",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ray_head.md").write_text(text)
    (RESULTS / "ray_head.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
