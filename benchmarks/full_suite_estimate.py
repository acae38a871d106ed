"""How long the full benchmark suite takes on an idle 2-core machine, estimated from per-cell seconds.

The benchmark's rows hold the seconds of every explanation, measured under whatever load
the machine had. Idle seconds per explanation come from two sources:

- EfficientNet-Lite0 (224 px: composites and photos): ``speed_methods.json``, every
  method at its defaults measured on an almost idle machine (load 1.8);
- the shipped 32-48 px CNNs (datasets): the rows' median seconds per method divided by
  the slowdown of that run, measured as the median over methods of (seconds in the rows
  on 224 px composites) / (idle seconds in ``speed_methods.json``), i.e. the load's
  effect on the same methods in the same run. Methods missing from the rows fall back
  to their 224 px idle time (an overestimate for small images).

The cost of a group is images x (sum over methods of idle seconds) x (1 + the share of
images with the sanity check, which explains each image again on a randomised model),
plus the metrics' forward passes (``--metric-seconds`` per cell, default 1 s on 224 px
and 0.3 s on small images: 28 + 28 deletion/insertion steps and 30 MoRF regions).

Usage: python benchmarks/full_suite_estimate.py [--rows benchmarks/results/benchmark/rows.jsonl]
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path

from neuromask.bench import SUITES, read_rows
from neuromask.bench.report import current_rows

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default=str(HERE / "results" / "benchmark" / "rows.jsonl"))
    parser.add_argument("--speed", default=str(HERE / "results" / "speed_methods.json"))
    parser.add_argument("--suite", default="full")
    parser.add_argument("--metric-seconds-224", type=float, default=1.0)
    parser.add_argument("--metric-seconds-small", type=float, default=0.3)
    args = parser.parse_args()

    suite = SUITES[args.suite]
    idle_224 = {r["method"]: r["seconds"] for r in json.loads(Path(args.speed).read_text())["rows"]}
    measured: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in current_rows(read_rows(args.rows)):
        if r.metric == "seconds" and r.status == "ok" and r.value is not None:
            measured[(r.group, r.method)].append(r.value)
    ratios = [
        statistics.median(v) / idle_224[m] for (g, m), v in measured.items()
        if g.startswith("composites-") and m in idle_224 and idle_224[m] > 0.05
    ]
    slowdown = statistics.median(ratios) if ratios else 1.0
    methods = sorted(idle_224)
    print(f"slowdown of this run (median over {len(ratios)} 224 px method cells): {slowdown:.1f}x")

    total = 0.0
    sanity = suite.sanity_images

    def group_cost(name: str, images: int, per_method: dict[str, float], metric_seconds: float) -> float:
        share = 1.0 if sanity is None else min(1.0, sanity / max(images, 1))
        explain = sum(per_method.values())
        seconds = images * (explain * (1 + share) + metric_seconds * len(per_method))
        print(f"  {name:45s} {images:4d} images x {len(per_method)} methods: "
              f"{explain:7.2f} s per image idle -> {seconds / 60:6.1f} min")
        return seconds

    print(f"suite '{suite.name}':")
    for model in suite.datasets:
        per_method = {
            m: (statistics.median(measured[(model, m)]) / slowdown if (model, m) in measured else idle_224[m])
            for m in methods
        }
        total += group_cost(model, suite.dataset_images, per_method, args.metric_seconds_small)
    for model in suite.composite_models:
        for kind, images in (("flat", suite.composite_images), ("texture", suite.composite_images),
                             ("pairs", 2 * suite.composite_pairs)):
            total += group_cost(f"composites-{model}-{kind}", images, idle_224, args.metric_seconds_224)
    if suite.photos:
        total += group_cost(f"photos-{suite.photo_model}", len(suite.photos), idle_224, args.metric_seconds_224)
    print(f"estimated total on an idle 2-core machine: {total / 60:.0f} min")


if __name__ == "__main__":
    main()
