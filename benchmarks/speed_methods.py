"""Seconds per explanation for every registered method on EfficientNet-Lite0 at 224 px,
side by side in one run, with each method's default options.

Each method runs on the same photo (skimage's chelsea); the time is the method's own
(``Explanation.seconds``: explain()'s validation and first forward pass excluded), the
median of ``--repeats`` runs, except that a method whose first run takes longer than
``--long`` seconds runs once. One forward+backward of the model is measured in the same
run, as the unit the gradient methods are made of. A second table times integrated
gradients (50 steps) against its internal batch size, which chose the default.

    python benchmarks/speed_methods.py [--repeats 3] [--long 10] [--methods a,b]

Prints Markdown and writes benchmarks/results/speed_methods.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from skimage import data

sys.path.insert(0, str(Path(__file__).parent))
import neuromask  # noqa: E402
from machine import describe  # noqa: E402
from neuromask.images import preprocess_image  # noqa: E402
from neuromask.models import load_model  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def forward_backward_seconds(module: torch.nn.Module, x: torch.Tensor, repeats: int) -> float:
    """Median seconds of one forward+backward w.r.t. the input, parameters frozen."""
    with neuromask._core.frozen(module):
        times = []
        for _ in range(repeats + 1):  # the first call warms up
            inp = x.clone().requires_grad_(True)
            start = time.perf_counter()
            torch.autograd.grad(module(inp)[:, 0].sum(), inp)
            times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--long", type=float, default=10.0, help="a method slower than this runs once")
    parser.add_argument("--methods", default="all", help="'all' or a comma-separated list")
    parser.add_argument(
        "--batch-sizes",
        type=int,
        nargs="*",
        default=[5, 10, 25, 50],
        help="internal batch sizes to time integrated gradients with (none: skip)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    model = load_model("efficientnet_lite0")
    x = preprocess_image(model, data.chelsea())[0][None]
    neuromask.explain(model, x, method="saliency")  # warm up
    unit = forward_backward_seconds(model.module, x, 5)
    rows = []
    names = neuromask.methods(available=True) if args.methods == "all" else args.methods.split(",")
    for name in names:
        times: list[float] = []
        while len(times) < args.repeats and not (times and times[0] > args.long):
            times.append(neuromask.explain(model, x, method=name).seconds)
        rows.append({"method": name, "seconds": statistics.median(times), "runs": len(times)})
        print(f"{name}: {rows[-1]['seconds']:.2f} s ({len(times)} runs)", file=sys.stderr)

    study = []
    for size in args.batch_sizes:
        e = neuromask.explain(model, x, method="integrated_gradients", steps=50, batch_size=size)
        study.append({"batch_size": size, "seconds": e.seconds})
        print(f"integrated_gradients batch {size}: {e.seconds:.2f} s", file=sys.stderr)

    machine = describe()
    # Other jobs on a shared machine slow every method alike; the load says how busy it was.
    machine["load_average_1min"] = f"{load_before:.1f} at start, {os.getloadavg()[0]:.1f} at end"
    lines = [
        "Seconds per explanation, EfficientNet-Lite0, 224 px, one image (chelsea), default options, CPU.",
        f"One forward+backward of the model: {unit:.3f} s.",
        "",
        "| method | seconds | x fwd+bwd | runs |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {r['method']} | {r['seconds']:.2f} | {r['seconds'] / unit:.1f} | {r['runs']} |" for r in rows]
    if study:
        lines += [
            "",
            "Integrated gradients (50 steps) against its internal batch size:",
            "",
            "| batch_size | seconds |",
            "|---:|---:|",
        ]
        lines += [f"| {s['batch_size']} | {s['seconds']:.2f} |" for s in study]
    lines += ["", "Machine: " + ", ".join(f"{k} {v}" for k, v in machine.items())]
    table = "\n".join(lines)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "speed_methods.md").write_text(table + "\n")
    payload = {"machine": machine, "forward_backward_seconds": unit, "rows": rows, "batch_size_study": study}
    (args.out / "speed_methods.json").write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
