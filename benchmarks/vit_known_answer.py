"""Which methods localise on a transformer: the known-answer benchmark on the shipped ViTs
beside their CNN twins, with 95 % bootstrap intervals.

Runs the benchmark runner (:mod:`neuromask.bench.runner`) on its own suite: the
``<dataset>-cnn`` and ``<dataset>-vit`` models of the three known-answer datasets, each on
the same N held-out images of its dataset (drawn after both models' training and test
samples), every method at its defaults, the localisation metrics against the evidence
masks. Writes the rows and the runner's report under ``--out`` and a side-by-side table
(CNN | ViT per metric, mean [95 % CI]) to ``benchmarks/results/vit_known_answer.md``.
The full benchmark (``neuromask benchmark --suite full``) covers the ViTs too.

Usage: ``python benchmarks/vit_known_answer.py --images 25 --out out/vit_known_answer``
(resumable: rerun the same command to complete it).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import torch

import neuromask
from neuromask.bench import report, runner
from neuromask.bench.suites import Suite

sys.path.insert(0, str(Path(__file__).parent))
from machine import describe  # noqa: E402

DATASETS = ("triangles_squares", "counting", "shapes_on_texture")
METRICS = ("energy_pointing_game", "auroc", "equal_area_iou")
RESULT = Path(__file__).parent / "results" / "vit_known_answer.md"


def cell(c: report.Cell | None) -> str:
    if c is None or math.isnan(c.mean):
        return "—" if c is None or not c.failures else "refused"
    return f"{c.mean:.2f} [{c.low:.2f}, {c.high:.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=25, help="held-out images per model (default 25)")
    parser.add_argument("--out", type=Path, default=Path("out/vit_known_answer"))
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("THREADS", "1")))
    models = tuple(f"{d}-{a}" for d in DATASETS for a in ("cnn", "vit"))
    suite = Suite(
        name="vit_known_answer",
        datasets=models,
        dataset_images=args.images,
        photos=(),
        categories={"datasets": ("localisation",), "composites": (), "photos": ()},
        bootstrap=2000,
    )
    load, started = round(os.getloadavg()[0], 2), time.perf_counter()
    runner.run(suite, args.out, parts=("datasets",))
    minutes = (time.perf_counter() - started) / 60
    summary = report.summarise(report.read_rows(args.out / runner.ROWS_FILE), resamples=2000, paired=True)
    report.write_report(args.out, charts=False)

    lines = [
        "# The known-answer benchmark on the ViTs beside the CNNs",
        "",
        f"`python benchmarks/vit_known_answer.py --images {args.images}`: every method at its defaults on the same "
        f"{args.images} held-out images per dataset for both models, mean [95 % bootstrap CI]; higher is better for "
        "all three metrics. *refused*: the method raised UnsupportedModelError on that model (see "
        "transformer_methods.md).",
        "",
    ]
    for dataset in DATASETS:
        cnn, vit = summary.get(f"{dataset}-cnn", {}), summary.get(f"{dataset}-vit", {})
        lines += [f"## {dataset}", "", "| method | " + " | ".join(f"{m} CNN | {m} ViT" for m in METRICS) + " |"]
        lines.append("|---|" + "---:|---:|" * len(METRICS))
        for method in neuromask.methods():
            cells = [f"{cell(cnn.get(method, {}).get(m))} | {cell(vit.get(method, {}).get(m))}" for m in METRICS]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        lines.append("")
    machine = {**describe(), "load_average_1min_at_start": load, "minutes": round(minutes, 1)}
    lines += ["Machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()), ""]
    RESULT.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
