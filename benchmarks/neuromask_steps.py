"""NeuroMask's quality against its number of steps and model passes, development and
test split apart, at the current defaults or at the defaults before issue 16 (``--old``).

Both use Adam at a constant learning rate, with no schedule, so the mask after k steps
of a long run *is* the mask a k-step run returns: one run of ``--steps`` steps with
``history_every`` gives the whole curve. A step runs the model on the masked image and,
on every ``delete_every``-th step, on the image with the mask's part hidden: "passes" is
the number of images the model ran forward and backward on per explained image after
k steps. Each group is scored at every recorded step on the known answer (energy
pointing game, pixel AUROC, equal-area IoU; mean and 95 % bootstrap interval over the
images):

- the three shipped CNNs on their own datasets: development images (``DEV_OFFSET`` past
  the held-out ones, as in ``neuromask_tuning.py``) and the benchmark's held-out (test)
  images;
- EfficientNet-Lite0 on the composites, one object on flat and on textured backgrounds,
  development and test split.

The default's number of steps is decided on the development rows; the test rows report.

    python benchmarks/neuromask_steps.py [--old] [--device cuda] [--n 24] [--scenes 12] [--steps 300] [--every 25]
    python benchmarks/neuromask_steps.py --compare     # the old and new curves side by side, by passes

Prints a Markdown table and writes benchmarks/results/neuromask_steps.{md,json}
(``neuromask_steps_old`` with ``--old``; ``--compare`` writes ``neuromask_passes.md``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

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
# NeuroMask's defaults before issue 16: the options that changed since.
OLD_DEFAULTS: dict[str, Any] = {"steps": 200, "lr": 0.1, "lr_schedule": "constant", "delete_every": 1}


def passes(steps: int, delete_every: int, lambda_delete: float) -> int:
    """Images the model runs on per explained image in ``steps`` steps (the final masked
    probability, one forward without backward, not counted)."""
    return steps + (-(-steps // delete_every) if lambda_delete else 0)


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
    parser.add_argument("--old", action="store_true", help="the defaults before issue 16 (OLD_DEFAULTS)")
    parser.add_argument("--compare", action="store_true", help="print the old and new curves by passes, run nothing")
    args = parser.parse_args()
    if args.compare:
        compare(args.out)
        return

    options = {k: v for k, v in OLD_DEFAULTS.items() if k != "steps"} if args.old else {}
    effective = {**neuromask.method_options("neuromask"), **options}
    rows = []
    start = time.perf_counter()
    groups = dataset_groups(args.device, args.n) + (composite_groups(args.device, args.scenes) if args.scenes else [])
    for split, name, model, x, y, evidence in groups:
        histories = []
        for i in range(0, len(x), args.batch):
            e = neuromask.explain(
                model,
                x[i : i + args.batch],
                target=y[i : i + args.batch],
                steps=args.steps,
                history_every=args.every,
                **options,
            )
            histories.append(e.extras["history"])
            steps = e.extras["history_steps"].tolist()
        history = torch.cat(histories)  # (N, K, H, W)
        for k, step in enumerate(steps):
            row = {
                "split": split,
                "group": name,
                "steps": step,
                "passes": passes(step, effective["delete_every"], effective["lambda_delete"]),
                "n": len(x),
            }
            for metric, fn in METRICS.items():
                mean, lo, hi = bootstrap(fn(history[:, k], evidence).numpy().astype(float))
                row[metric] = [round(mean, 3), round(lo, 3), round(hi, 3)]
            rows.append(row)
        print(f"{split} {name}: done at {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)

    which = "its defaults before issue 16 (" + ", ".join(f"{k} {v}" for k, v in options.items()) + ")"
    lines = [
        f"NeuroMask at {which if args.old else 'its defaults'}, quality after k steps (one run of {args.steps} "
        f"steps, mask recorded every {args.every}); passes = images the model ran on per explained image; device "
        f"{args.device}; mean [95 % bootstrap CI] over n images.",
        "",
        "| split | group | n | steps | passes | energy pointing game | pixel AUROC | equal-area IoU |",
        "|---|---|---:|---:|---:|---|---|---|",
    ]
    for r in rows:
        cells = " | ".join(f"{r[m][0]:.3f} [{r[m][1]:.3f}, {r[m][2]:.3f}]" for m in METRICS)
        lines.append(f"| {r['split']} | {r['group']} | {r['n']} | {r['steps']} | {r['passes']} | {cells} |")
    machine = describe()
    lines += [
        "",
        f"{time.perf_counter() - start:.0f} s in all. Machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()),
    ]
    table = "\n".join(lines)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "neuromask_steps_old" if args.old else "neuromask_steps"
    (args.out / f"{stem}.md").write_text(table + "\n")
    record = {"machine": machine, "options": options, "seconds": round(time.perf_counter() - start), "rows": rows}
    (args.out / f"{stem}.json").write_text(json.dumps(record, indent=1) + "\n")


def compare(out: Path) -> None:
    """The old and the new defaults' curves side by side, each at its passes (both files must exist)."""
    old = json.loads((out / "neuromask_steps_old.json").read_text())
    new = json.loads((out / "neuromask_steps.json").read_text())
    for r in old["rows"]:  # rows written before the passes column: both games every step
        r.setdefault("passes", passes(r["steps"], 1, 1.0))
    lines = [
        "Quality against model passes per image, NeuroMask's old defaults (`neuromask_steps_old.md`) and new "
        "defaults (`neuromask_steps.md`); energy pointing game / pixel AUROC / equal-area IoU, means over the "
        "images (intervals in those files). Bold: each default's own number of steps. The two runs differ in "
        f"machine and image count (old: {old['rows'][0]['n']} images per dataset group on "
        f"{old['machine'].get('gpu', old['machine']['cpu'])}; new: {new['rows'][0]['n']} on "
        f"{new['machine'].get('gpu', new['machine']['cpu'])}); the composites' first scenes are the same scenes.",
        "",
        "| split | group | defaults | " + " | ".join(f"{p} passes" for p in (30, 60, 90, 150, 200, 400, 600)) + " |",
        "|---|---|---|" + "---|" * 7,
    ]
    ours = neuromask.method_options("neuromask")
    own = {
        "old": passes(OLD_DEFAULTS["steps"], 1, 1.0),
        "new": passes(ours["steps"], ours["delete_every"], ours["lambda_delete"]),
    }
    groups = list(dict.fromkeys((r["split"], r["group"]) for r in new["rows"]))
    for split, group in groups:
        for label, record in (("old", old), ("new", new)):
            by_passes = {r["passes"]: r for r in record["rows"] if (r["split"], r["group"]) == (split, group)}
            cells = []
            for p in (30, 60, 90, 150, 200, 400, 600):
                near = min(by_passes, key=lambda q, p=p: abs(q - p)) if by_passes else None
                if near is None or abs(near - p) > 0.1 * p:
                    cells.append("-")
                    continue
                r = by_passes[near]
                text = " / ".join(f"{r[m][0]:.2f}" for m in METRICS) + (f" ({near})" if near != p else "")
                cells.append(f"**{text}**" if near == own[label] else text)
            lines.append(f"| {split} | {group} | {label} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    print(table)
    (out / "neuromask_passes.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
