"""NeuroMask's cost against its floor and against extremal perturbation, on
EfficientNet-Lite0 at 224 px.

Each of NeuroMask's steps plays both games (keep the class with the mask's part, lose
it without) in one model call on 2B images, so its floor is ``steps`` x one
forward+backward of the frozen model w.r.t. its input on those 2B images, measured in
the same run. The ratio says how much the method adds on top of the model's own cost.
Extremal perturbation at its defaults runs on the same batch in the same run.
``--runs`` repeats each explanation; the table gives the median.

    python benchmarks/speed.py [--steps N] [--batch 1 8] [--runs R] [--device cpu|cuda]

Prints a Markdown table and writes benchmarks/results/speed.{md,json}.
"""

from __future__ import annotations

import argparse
import json
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

PHOTOS = ("chelsea", "coffee", "rocket", "astronaut")
RESULTS = Path(__file__).parent / "results"


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
        for _ in range(repeats + 1):  # the first call warms up
            inp = x.clone().requires_grad_(True)
            sync(x.device)
            start = time.perf_counter()
            logits = module(inp)
            (grad,) = torch.autograd.grad(logits[:, 0].sum(), inp)
            sync(x.device)
            times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=None, help="NeuroMask steps (default: the method's default)")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeats", type=int, default=10, help="forward+backward repeats for the floor")
    parser.add_argument("--runs", type=int, default=1, help="explanations per configuration (median reported)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    device = torch.device(args.device)
    model = load_model("efficientnet_lite0", device=device)
    steps = args.steps or neuromask.method_options("neuromask")["steps"]
    rows = []
    for batch in args.batch:
        x = photos(model, batch).to(device)
        both_games = torch.cat([x, x])
        before = forward_backward_seconds(model.module, both_games, args.repeats)
        seconds = [neuromask.explain(model, x, steps=steps).seconds for _ in range(args.runs)]
        extremal = [neuromask.explain(model, x, method="extremal_perturbation").seconds for _ in range(args.runs)]
        after = forward_backward_seconds(model.module, both_games, args.repeats)
        step = statistics.median([before, after])
        floor = steps * step
        rows.append(
            {
                "batch": batch,
                "steps": steps,
                "runs": args.runs,
                "seconds_per_image": statistics.median(seconds) / batch,
                "seconds_per_image_all_runs": [s / batch for s in seconds],
                "floor_per_image": floor / batch,
                "ratio": statistics.median(seconds) / floor,
                "forward_backward_per_image": step / (2 * batch),
                "extremal_perturbation_per_image": statistics.median(extremal) / batch,
                "extremal_perturbation_all_runs": [s / batch for s in extremal],
            }
        )
        print(
            f"batch {batch}: neuromask {statistics.median(seconds):.1f} s, floor {floor:.1f} s, "
            f"extremal perturbation {statistics.median(extremal):.1f} s",
            file=sys.stderr,
        )

    machine = describe()
    lines = [
        f"NeuroMask on EfficientNet-Lite0, 224 px, default options ({steps} steps), device {device}; "
        f"extremal perturbation at its defaults on the same images in the same run; median of {args.runs} run(s).",
        "",
        "| batch | NeuroMask s / image | floor / image (steps x fwd+bwd of 2B) | ratio "
        "| extremal perturbation s / image | NeuroMask / extremal |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['batch']} | {r['seconds_per_image']:.2f} | {r['floor_per_image']:.2f} | {r['ratio']:.3f} | "
            f"{r['extremal_perturbation_per_image']:.2f} | "
            f"{r['seconds_per_image'] / r['extremal_perturbation_per_image']:.2f} |"
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
