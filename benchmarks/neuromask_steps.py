"""NeuroMask's quality against its number of steps, development and test split apart.

The defaults use Adam at a constant learning rate, with no schedule, so the mask after
k steps of a long run *is* the mask a k-step run returns: one run of ``--steps`` steps
with ``history_every`` gives the whole curve. Each group is scored at every recorded
step on the known answer (energy pointing game, pixel AUROC, equal-area IoU; mean and
95 % bootstrap interval over the images):

- the three shipped CNNs on their own datasets: development images (``DEV_OFFSET`` past
  the held-out ones, as in ``neuromask_tuning.py``) and the benchmark's held-out (test)
  images;
- EfficientNet-Lite0 on the composites, one object on flat and on textured backgrounds,
  development and test split.

The default's number of steps is decided on the development rows; the test rows report.

    python benchmarks/neuromask_steps.py [--device cuda] [--n 24] [--scenes 12] [--steps 300] [--every 25]

Prints a Markdown table and writes benchmarks/results/neuromask_steps.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
import neuromask  # noqa: E402
from machine import describe  # noqa: E402
from neuromask.datasets import composite_scenes, generate  # noqa: E402
from neuromask.metrics.localisation import auroc, energy_pointing_game, equal_area_iou  # noqa: E402
from neuromask_tuning import DEV_OFFSET, bootstrap  # noqa: E402

RESULTS = Path(__file__).parent / "results"
SHIPPED = ("triangles_squares-cnn", "counting-cnn", "shapes_on_texture-cnn")
METRICS = {"energy": energy_pointing_game, "auroc": auroc, "iou": equal_area_iou}


def dataset_groups(device: str, n: int) -> list[tuple[str, str, object, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(split, name, model, inputs, target, evidence) for the shipped CNNs."""
    out = []
    for name in SHIPPED:
        model = neuromask.load_model(name, device=device)
        record = model.extra["record"]
        test_start = int(record["samples"]) + int(record.get("test_samples", 0))
        for split, start in (("dev", test_start + DEV_OFFSET), ("test", test_start)):
            data = generate(record["dataset"], n, seed=int(record["seed"]), start=start, **record.get("options", {}))
            out.append((split, name, model, model.normalize(data.images), data.labels.long(), data.evidence.bool()))
    return out


def composite_groups(device: str, n: int) -> list[tuple[str, str, object, torch.Tensor, torch.Tensor, torch.Tensor]]:
    model = neuromask.load_model("efficientnet_lite0", device=device)
    out = []
    for split in ("dev", "test"):
        for background in ("flat", "texture"):
            c = composite_scenes(model, n, split=split, objects=1, background=background)
            out.append(
                (split, f"lite0-{background}", model, model.normalize(c.images), c.labels[:, 0], c.evidence[:, 0])
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--n", type=int, default=24, help="images per dataset and split")
    parser.add_argument("--scenes", type=int, default=12, help="composite scenes per background and split")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--every", type=int, default=25)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    rows = []
    start = time.perf_counter()
    groups = dataset_groups(args.device, args.n) + (composite_groups(args.device, args.scenes) if args.scenes else [])
    for split, name, model, x, y, evidence in groups:
        histories = []
        for i in range(0, len(x), args.batch):
            e = neuromask.explain(
                model, x[i : i + args.batch], target=y[i : i + args.batch], steps=args.steps, history_every=args.every
            )
            histories.append(e.extras["history"])
            steps = e.extras["history_steps"].tolist()
        history = torch.cat(histories)  # (N, K, H, W)
        for k, step in enumerate(steps):
            row = {"split": split, "group": name, "steps": step, "n": len(x)}
            for metric, fn in METRICS.items():
                mean, lo, hi = bootstrap(fn(history[:, k], evidence).numpy().astype(float))
                row[metric] = [round(mean, 3), round(lo, 3), round(hi, 3)]
            rows.append(row)
        print(f"{split} {name}: done at {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)

    lines = [
        f"NeuroMask at its defaults, quality after k steps (one run of {args.steps} steps, mask recorded every "
        f"{args.every}); device {args.device}; mean [95 % bootstrap CI] over n images.",
        "",
        "| split | group | n | steps | energy pointing game | pixel AUROC | equal-area IoU |",
        "|---|---|---:|---:|---|---|---|",
    ]
    for r in rows:
        cells = " | ".join(f"{r[m][0]:.3f} [{r[m][1]:.3f}, {r[m][2]:.3f}]" for m in METRICS)
        lines.append(f"| {r['split']} | {r['group']} | {r['n']} | {r['steps']} | {cells} |")
    machine = describe()
    lines += [
        "",
        f"{time.perf_counter() - start:.0f} s in all. Machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()),
    ]
    table = "\n".join(lines)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "neuromask_steps.md").write_text(table + "\n")
    (args.out / "neuromask_steps.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
