"""How long the full benchmark suite takes on this machine, from a timed sample of its own rows.

The suite (``neuromask benchmark`` on ``evaluate``) explains every image of each group with
every method, scores each map, and explains ``sanity_images`` images of each group again
on a randomised network. This script runs the same groups on a sample (``--images`` per
group, the first of them with the randomisation check; two-object scenes: one scene, two
images) with every method at the suite's options, into a scratch folder, and reads the
cost of each part from the rows themselves: an explanation's ``seconds`` in
``results.parquet`` and each score's ``seconds`` in ``scores.parquet``. Per group:

    estimate = images x (explanations + scores other than randomisation, per image)
             + randomisation images x (randomisation, per image)

It also times the sample run's wall clock, so that what the rows do not see (reading,
writing, loading models, the reports) shows as the ratio of wall time to row seconds; the
total is scaled by it. A measurement of this machine at its current load (printed).

    python benchmarks/full_suite_estimate.py [--suite full] [--images 2] [--device cpu]

Prints a Markdown table and writes benchmarks/results/full_suite_estimate.{md,json}.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
from machine import describe  # noqa: E402
from neuromask.bench import SUITES, run  # noqa: E402
from neuromask.bench.runner import GROUPS  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def per_image(group: Path) -> dict[str, tuple[float, float, float]]:
    """Per method: (explanation seconds, score seconds without randomisation, randomisation
    seconds) per image of a group."""
    explained = pq.read_table(group / "results.parquet").to_pylist()
    scores = pq.read_table(group / "scores.parquet").to_pylist()
    images = len({r["image"] for r in explained})
    sanity_images = max(1, len({r["image"] for r in scores if r["metric"] == "randomisation"}))
    out: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for r in explained:
        out[r["method"]][0] += (r["seconds"] or 0.0) / images
    for r in scores:
        if r["metric"] == "randomisation":
            out[r["method"]][2] += (r["seconds"] or 0.0) / sanity_images
        else:
            out[r["method"]][1] += (r["seconds"] or 0.0) / images
    return {m: (e, o, s) for m, (e, o, s) in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", default="full")
    parser.add_argument("--images", type=int, default=2, help="images per group in the timed sample")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    suite = SUITES[args.suite]
    sample = dataclasses.replace(
        suite,
        dataset_images=args.images,
        composite_images=args.images if suite.composite_images else 0,
        composite_pairs=1 if suite.composite_pairs else 0,
        photos=suite.photos[: args.images],
        sanity_images=1,
    )
    counts = {m: suite.dataset_images for m in suite.datasets}
    for model in suite.composite_models:
        counts[f"composites-{model}-{suite.composite_split}-flat"] = suite.composite_images
        counts[f"composites-{model}-{suite.composite_split}-texture"] = suite.composite_images
        if suite.composite_pairs:
            counts[f"composites-{model}-{suite.composite_split}-pairs"] = 2 * suite.composite_pairs
    if suite.photos:
        counts[f"photos-{suite.photo_model}"] = len(suite.photos)
    load_start = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        failures = run(sample, scratch, device=args.device, progress=False)
        wall = time.perf_counter() - started
        seconds_in_rows = 0.0
        for name, images in counts.items():
            methods = per_image(Path(scratch) / GROUPS / name)
            explain, other, sanity = (sum(v[i] for v in methods.values()) for i in range(3))
            sample_images = len(pq.read_table(Path(scratch) / GROUPS / name / "results.parquet")["image"].unique())
            seconds_in_rows += sample_images * (explain + other) + sanity
            k = min(images, suite.sanity_images if suite.sanity_images is not None else images)
            total = images * (explain + other) + k * sanity
            rows.append({"group": name, "images": images, "sanity_images": k, "explain": explain, "score": other,
                         "randomisation": sanity, "seconds": total,
                         "methods": {m: images * (e + o) + k * r for m, (e, o, r) in methods.items()}})  # fmt: skip
    overhead = wall / seconds_in_rows
    total = sum(r["seconds"] for r in rows)
    machine = describe() | {"load_average_1min_at_start": round(load_start, 2)}
    lines = [
        f"Suite `{suite.name}` on this machine ({args.device}), estimated from the rows of a timed sample "
        f"({args.images} images per group, every method; the sample run had {failures} failed rows): seconds per "
        "image from `results.parquet` (explanations) and `scores.parquet` (scores).",
        "",
        "| group | images | randomisation on | s / image: explain | score | randomisation | minutes |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['group']} | {r['images']} | {r['sanity_images']} | {r['explain']:.1f} | {r['score']:.1f} | "
            f"{r['randomisation']:.1f} | {r['seconds'] / 60:.1f} |"
        )
    # Where the time goes: each method's share of the estimate, over every group (what a trim would save).
    by_method: dict[str, float] = defaultdict(float)
    for r in rows:
        for m, seconds in r["methods"].items():
            by_method[m] += seconds
    lines += ["", "| method | minutes (explain, score, randomisation; every group) | share |", "|---|---:|---:|"]
    for m, seconds in sorted(by_method.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {m} | {seconds / 60:.1f} | {seconds / total:.0%} |")
    lines += [
        "",
        f"The sample ran for {wall:.0f} s of wall time against {seconds_in_rows:.0f} s in its rows (ratio "
        f"{overhead:.2f}: reading, writing, models, reports).",
        "",
        f"**Estimated total: {total / 60:.0f} min from the rows, {overhead * total / 60:.0f} min with the overhead.**",
        "",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()),
    ]
    table = "\n".join(lines)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "full_suite_estimate.md").write_text(table + "\n")
    (args.out / "full_suite_estimate.json").write_text(
        json.dumps({"machine": machine, "rows": rows, "wall_seconds": wall, "row_seconds": seconds_in_rows,
                    "by_method_minutes": {m: v / 60 for m, v in by_method.items()}, "total_minutes": total / 60,
                    "total_minutes_with_overhead": overhead * total / 60}, indent=1)
        + "\n"
    )  # fmt: skip


if __name__ == "__main__":
    main()
