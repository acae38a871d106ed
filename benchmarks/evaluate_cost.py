"""What scoring costs against explaining, per image, in `neuromask evaluate`.

EfficientNet-Lite0 at 224 px on ``--images`` composites of the test split (one object on a
flat background, with their masks), explained by saliency (one backward pass) and by
NeuroMask at its defaults, then scored on every metric of the contract (energy, AUROC,
equal-area IoU, pointing game, insertion and deletion at evaluate's default 28 steps, and
the randomisation check). The seconds come from the rows: an explanation's ``seconds`` in
``results.parquet``, each score's in ``scores.parquet`` (a batched model call's time
shared among its images). Also timed: insertion on the same maps with the model's calls
batched across images (``batch_size=64``, the default) and one state per call
(``batch_size=1``), to show what batching buys.

    python benchmarks/evaluate_cost.py [--images 8] [--work out/evaluate_cost]

Prints Markdown and writes benchmarks/results/evaluate_cost.{md,json}.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch

sys.path.insert(0, str(Path(__file__).parent))
from machine import describe  # noqa: E402

RESULTS = Path(__file__).parent / "results"
METHODS = ["saliency", "neuromask"]
METRICS = ["energy", "auroc", "eq_iou", "pointing", "insertion", "deletion", "randomisation"]


def main() -> int:
    import neuromask
    from neuromask.bench.groups import GroupData, composite_groups
    from neuromask.bench.suites import Suite
    from neuromask.metrics.faithfulness import insertion
    from neuromask.runs import RunResults

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--work", type=Path, default=Path("out/evaluate_cost"))
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    suite = Suite(name="cost", datasets=(), dataset_images=0, photos=(), composite_models=("efficientnet_lite0",),
                  composite_images=args.images)  # fmt: skip
    group: GroupData = composite_groups(args.work / "data", "efficientnet_lite0", suite)[0]
    load = os.getloadavg()[0]
    started = time.perf_counter()
    result = neuromask.evaluate(group.images, group.model, METHODS, args.work / "eval", masks=group.truth("masks"),
                                metrics=METRICS, target="class", quiet=True)  # fmt: skip
    wall = time.perf_counter() - started
    explained = pq.read_table(args.work / "eval" / "results.parquet").to_pylist()
    scores = pq.read_table(args.work / "eval" / "scores.parquet").to_pylist()
    per: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in explained:
        per[r["method"]]["explain"].append(r["seconds"])
    for r in scores:
        per[r["method"]][r["metric"]].append(r["seconds"])
    table = {m: {k: float(np.mean(v)) for k, v in parts.items()} for m, parts in per.items()}

    # Insertion on the stored maps: the states of all images per call, or one state per call.
    model = dataclasses.replace(group.model)
    run = RunResults(args.work / "eval")
    ids = [r["image"] for r in explained if r["method"] == "saliency"]
    inputs = torch.stack([neuromask.preprocess_image(model, neuromask.load_image(group.images / i))[0] for i in ids])
    maps = torch.stack([torch.from_numpy(run.map(i, "saliency")) for i in ids])
    target = torch.tensor([r["target"] for r in explained if r["method"] == "saliency"])
    batching = {}
    for batch_size in (64, 1):
        t = time.perf_counter()
        insertion(model.module, inputs, target, maps, batch_size=batch_size)
        batching[batch_size] = (time.perf_counter() - t) / len(ids)

    lines = [
        f"# Scoring against explaining, seconds per image (`neuromask evaluate`, {args.images} images)",
        "",
        f"EfficientNet-Lite0, 224 px composites (test split, flat), {result.total} scores, all ok: {result.ok}. "
        f"Load average {load:.2f} at the start; wall time {wall:.0f} s. Command: `python benchmarks/evaluate_cost.py`.",
        "",
        "| method | explain | " + " | ".join(METRICS) + " | scoring, all | scoring / explaining |",
        "|---|---:|" + "---:|" * (len(METRICS) + 2),
    ]
    for method in METHODS:
        row = table[method]
        scoring = sum(row[m] for m in METRICS)
        lines.append(f"| {method} | {row['explain']:.2f} | " + " | ".join(f"{row[m]:.2f}" for m in METRICS)
                     + f" | {scoring:.2f} | {scoring / row['explain']:.2f} |")  # fmt: skip
    lines += [
        "",
        f"Insertion (224 steps) on the same {len(ids)} saliency maps: {batching[64]:.2f} s per image with the "
        f"states of all images batched 64 per model call, {batching[1]:.2f} s with one state per call "
        f"({batching[1] / batching[64]:.1f} times as long).",
        "",
        f"Machine: {describe()}",
    ]
    text = "\n".join(lines)
    print(text)
    (RESULTS / "evaluate_cost.md").write_text(text + "\n")
    (RESULTS / "evaluate_cost.json").write_text(json.dumps({"per_image": table, "insertion_batching": batching,
                                                            "wall": wall, "load": load}, indent=1) + "\n")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
