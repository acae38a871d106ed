"""How long the full benchmark suite takes on this machine, from timed samples of its own cells.

The suite runs every method on every image of each group and scores it; the first
``sanity_images`` images of a group also explain the image again on a randomised model.
This script runs the real cells (``neuromask.bench.runner.run_group``, into a scratch
folder) for a few images and times each image's whole wall time, every method and every
metric included:

- each shipped CNN's dataset group: image 0 (with the sanity check) and image
  ``sanity_images`` (without);
- the composites: image 0 and image ``sanity_images`` of the flat group; the textured
  and two-object groups use the same model at the same size with the same metrics, so
  they are charged the flat group's seconds per image;
- the photos: image 0 (every photo of the suite gets the sanity check).

Estimate = sum over groups of (sanity images x seconds with sanity + other images x
seconds without). It is a measurement of this machine at its current load (printed),
not of a run of the whole suite.

    python benchmarks/full_suite_estimate.py [--suite full] [--device cpu]

Prints a Markdown table and writes benchmarks/results/full_suite_estimate.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import neuromask  # noqa: E402
from machine import describe  # noqa: E402
from neuromask.bench import SUITES, RowStore  # noqa: E402
from neuromask.bench.runner import Group, composite_groups, dataset_group, photo_group, run_group  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def time_image(group: Group, index: int, suite, out: Path) -> float:
    store = RowStore(out / "rows.jsonl")
    start = time.perf_counter()
    run_group(group, sorted(neuromask.methods()), suite, store, out, images=range(index, index + 1))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", default="full")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    suite = SUITES[args.suite]
    sanity = suite.sanity_images if suite.sanity_images is not None else 10**9
    load_start = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch)

        def sample(name: str, group: Group, counts: list[tuple[str, int]]) -> None:
            n = len(group.images)
            with_s = time_image(group, 0, suite, out)
            without = time_image(group, sanity, suite, out) if n > sanity else with_s
            for label, images in counts:
                k = min(sanity, images)
                total = k * with_s + (images - k) * without
                rows.append(
                    {
                        "group": label,
                        "images": images,
                        "sanity_images": k,
                        "seconds_with_sanity": with_s,
                        "seconds_without": without,
                        "seconds": total,
                        "timed_on": name,
                    }
                )
                print(
                    f"{label}: {images} images, {with_s:.1f} s with sanity, {without:.1f} s without -> "
                    f"{total / 60:.1f} min",
                    file=sys.stderr,
                    flush=True,
                )

        for model in suite.datasets:
            group = dataset_group(model, suite.dataset_images, suite.categories["datasets"], args.device)
            sample(model, group, [(model, suite.dataset_images)])
        for model in suite.composite_models:
            flat = composite_groups(model, suite, args.device)[0]
            sample(
                flat.name,
                flat,
                [
                    (f"composites-{model}-flat", suite.composite_images),
                    (f"composites-{model}-texture", suite.composite_images),
                    (f"composites-{model}-pairs", 2 * suite.composite_pairs),
                ],
            )
        if suite.photos:
            group = photo_group(suite.photo_model, suite.photos, suite.categories["photos"], args.device)
            sample(group.name, group, [(group.name, len(suite.photos))])

    total = sum(r["seconds"] for r in rows)
    machine = describe() | {"load_average_1min_at_start": round(load_start, 2)}
    lines = [
        f"Suite `{suite.name}` on this machine ({args.device}), estimated from timed cells: every method and metric "
        "of one image with the sanity check and one without per timed group.",
        "",
        "| group | images | with sanity | s / image with sanity | s / image without | minutes |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['group']} | {r['images']} | {r['sanity_images']} | {r['seconds_with_sanity']:.1f} | "
            f"{r['seconds_without']:.1f} | {r['seconds'] / 60:.1f} |"
        )
    lines += [
        "",
        f"**Estimated total: {total / 60:.0f} min.**",
        "",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()),
    ]
    table = "\n".join(lines)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "full_suite_estimate.md").write_text(table + "\n")
    (args.out / "full_suite_estimate.json").write_text(
        json.dumps({"machine": machine, "rows": rows, "total_minutes": total / 60}, indent=1) + "\n"
    )


if __name__ == "__main__":
    main()
