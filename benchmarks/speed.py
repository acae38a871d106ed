"""NeuroMask's cost at its old and new defaults against extremal perturbation, in
forward+backward equivalents, on EfficientNet-Lite0 at 224 px.

In one run, for each batch size B, on the same B photos:

- one forward+backward of the frozen model w.r.t. its input, timed on **one image**
  (batch 1) and on the **B images** together (median of ``--repeats``, measured before
  and after the explanations, the median of both);
- NeuroMask at its current defaults, at the defaults before issue 16 (``OLD``: 200 steps
  at a constant rate, both games every step) and extremal perturbation at its defaults.

"Forward+backward equivalents" per image = seconds per image / the seconds of one
forward+backward of one image at batch 1 (issue 16's count: 281 for the old defaults);
"same-batch equivalents" divide by the per-image share of a forward+backward of the B
images instead (what the batch itself would cost per pass). ``--runs`` repeats each
explanation; the table gives the median.

    python benchmarks/speed.py [--batch 1 8] [--runs R] [--device cpu|cuda] [--autocast bf16]

Prints a Markdown table and writes benchmarks/results/speed.{md,json} (``speed_cuda`` on a GPU).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
from skimage import data

sys.path.insert(0, str(Path(__file__).parent))
import neuromask  # noqa: E402
from machine import describe  # noqa: E402
from neuromask.images import preprocess_image  # noqa: E402
from neuromask.models import load_model  # noqa: E402

PHOTOS = ("chelsea", "coffee", "rocket", "astronaut")
RESULTS = Path(__file__).parent / "results"
# NeuroMask's defaults before issue 16 (its options that changed since).
OLD: dict[str, Any] = {"steps": 200, "lr": 0.1, "lr_schedule": "constant", "delete_every": 1}


def photos(model: neuromask.LoadedModel, n: int) -> torch.Tensor:
    from PIL import Image

    images = [preprocess_image(model, Image.fromarray(getattr(data, PHOTOS[i % len(PHOTOS)])()))[0] for i in range(n)]
    return torch.stack(images)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def forward_backward_seconds(module: torch.nn.Module, x: torch.Tensor, repeats: int) -> float:
    """Median seconds of one forward+backward w.r.t. the input, parameters frozen."""
    with neuromask._core.frozen(module):
        times = []
        for _ in range(repeats + 3):  # the first calls warm up
            inp = x.clone().contiguous(memory_format=torch.channels_last).requires_grad_(True)
            sync(x.device)
            start = time.perf_counter()
            logits = module(inp)
            (grad,) = torch.autograd.grad(logits[:, 0].sum(), inp)
            sync(x.device)
            times.append(time.perf_counter() - start)
    return statistics.median(times[3:])


def timed(model: Any, x: torch.Tensor, runs: int, device: torch.device, **params: Any) -> list[float]:
    out = []
    for _ in range(runs):
        sync(device)
        start = time.perf_counter()
        neuromask.explain(model, x, **params)
        sync(device)
        out.append((time.perf_counter() - start) / len(x))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeats", type=int, default=10, help="forward+backward repeats for the unit")
    parser.add_argument("--runs", type=int, default=1, help="explanations per configuration (median reported)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--autocast", default=None, help="NeuroMask's autocast option for the new defaults (bf16)")
    parser.add_argument("--no-old", action="store_true", help="leave out the old defaults (a GPU's large batches)")
    parser.add_argument("--no-extremal", action="store_true", help="leave out extremal perturbation")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    device = torch.device(args.device)
    model = load_model("efficientnet_lite0", device=device)
    new_options = {"autocast": args.autocast} if args.autocast else {}
    configs = {"new": new_options}
    if not args.no_old:
        configs["old"] = OLD
    load_before = os.getloadavg()[0]
    rows = []
    for batch in args.batch:
        x = photos(model, batch).to(device)
        # Warm-up: the first calls at a batch size pay for kernel selection and allocation
        # (measured: 17 s on NeuroMask's first explanation at batch 1), which no timed
        # configuration should carry: a few steps of each at this batch size first.
        for params in configs.values():
            neuromask.explain(model, x, **{**params, "steps": 3})
        if not args.no_extremal:
            neuromask.explain(model, x, method="extremal_perturbation", steps=3)
        one = [forward_backward_seconds(model.module, x[:1], args.repeats)]
        whole = [forward_backward_seconds(model.module, x, args.repeats)]
        row: dict[str, Any] = {"batch": batch, "runs": args.runs}
        for name, params in configs.items():
            seconds = timed(model, x, args.runs, device, **params)
            row[name] = {"seconds_per_image": statistics.median(seconds), "all_runs": seconds, "options": params}
        if not args.no_extremal:
            seconds = timed(model, x, args.runs, device, method="extremal_perturbation")
            row["extremal_perturbation"] = {"seconds_per_image": statistics.median(seconds), "all_runs": seconds}
        one.append(forward_backward_seconds(model.module, x[:1], args.repeats))
        whole.append(forward_backward_seconds(model.module, x, args.repeats))
        row["forward_backward_one_image"] = statistics.median(one)
        row["forward_backward_per_image_in_batch"] = statistics.median(whole) / batch
        for name in (*configs, "extremal_perturbation"):
            if name in row:
                s = row[name]["seconds_per_image"]
                row[name]["equivalents"] = s / row["forward_backward_one_image"]
                row[name]["same_batch_equivalents"] = s / row["forward_backward_per_image_in_batch"]
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)

    machine = describe()
    machine["load_average_1min_before"] = round(load_before, 2)
    steps = neuromask.method_options("neuromask")["steps"]
    lines = [
        f"NeuroMask on EfficientNet-Lite0, 224 px, device {device}: its defaults (`new`, {steps} steps"
        + (f", autocast {args.autocast}" if args.autocast else "")
        + ") and its defaults before issue 16 (`old`, 200 steps, both games every step), extremal perturbation "
        f"at its defaults, on the same photos in the same run; median of {args.runs} run(s). fb = one "
        "forward+backward of the model w.r.t. its input: 'equivalents' count it on one image at batch 1, "
        "'same-batch' on the per-image share of a forward+backward of the whole batch.",
        "",
        "| batch | method | s / image | fb equivalents / image | same-batch fb equivalents | / extremal perturbation |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        ep = r.get("extremal_perturbation", {}).get("seconds_per_image")
        for name in (*configs, "extremal_perturbation"):
            if name not in r:
                continue
            c = r[name]
            label = {"new": "NeuroMask (new defaults)", "old": "NeuroMask (old defaults)"}.get(name, name)
            ratio = f"{c['seconds_per_image'] / ep:.2f}" if ep else "-"
            lines.append(
                f"| {r['batch']} | {label} | {c['seconds_per_image']:.2f} | {c['equivalents']:.0f} | "
                f"{c['same_batch_equivalents']:.0f} | {ratio} |"
            )
        lines.append(
            f"| {r['batch']} | (one fb: one image {r['forward_backward_one_image'] * 1000:.0f} ms, per image in the "
            f"batch {r['forward_backward_per_image_in_batch'] * 1000:.0f} ms) | | | | |"
        )
    lines += ["", "Machine: " + ", ".join(f"{k} {v}" for k, v in machine.items())]
    table = "\n".join(lines)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "" if device.type == "cpu" else f"_{device.type}"
    (args.out / f"speed{suffix}.md").write_text(table + "\n")
    (args.out / f"speed{suffix}.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
