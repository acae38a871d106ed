"""Seconds per image of `explain-dataset` on EfficientNet-Lite0: in-process batch 1, in-process
batched, and 2 Ray workers, for NeuroMask and saliency, with Ray's start-up measured apart.

The images are scikit-image's colour photos (PNG files, 224 px after the model's
preprocessing). Each configuration runs ``--repeats`` times, each time into a fresh
output folder, and its time is the wall-clock of ``explain_dataset`` (listing the source,
loading the model, explaining, writing maps, manifest and Parquet; for Ray, creating the
actors and loading the model in each) divided by the number of images: the median and
the range over the repeats. The local Ray instance (2 CPUs) is started once, timed, and
reused by every Ray run; that start-up is reported on its own line. In this process
torch uses all cores; each Ray worker uses 1 thread (the cores shared out).

    python benchmarks/throughput.py [--images 6] [--steps 20] [--repeats 3] [--batch 6]

Prints Markdown and writes benchmarks/results/throughput.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from machine import describe  # noqa: E402
from neuromask.runs import explain_dataset  # noqa: E402

RESULTS = Path(__file__).parent / "results"
PHOTOS = (
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "colorwheel",
    "stereo_motorcycle",
    "logo",
)
MODEL = "efficientnet_lite0"


def write_photos(root: Path, n: int) -> None:
    import skimage.data

    root.mkdir(parents=True, exist_ok=True)
    for name in PHOTOS[:n]:
        array = getattr(skimage.data, name)()
        Image.fromarray(array[0] if isinstance(array, tuple) else array).save(root / f"{name}.png")


def timed_run(source: Path, work: Path, method: str, options: dict, **kwargs) -> float:
    out = Path(tempfile.mkdtemp(dir=work))
    start = time.perf_counter()
    summary = explain_dataset(
        source, MODEL, [method], out, options={method: options} if options else None, quiet=True, **kwargs
    )
    seconds = time.perf_counter() - start
    if not summary.ok:
        raise SystemExit(f"{method} {kwargs}: failures {summary.failures}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=6)
    parser.add_argument("--steps", type=int, default=20, help="NeuroMask's steps")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=6, help="the batched configurations' batch size")
    args = parser.parse_args()
    import ray

    machine = {**describe(), "load_average_1min_at_start": round(os.getloadavg()[0], 2)}
    configs = [
        ("in-process, batch 1", dict(batch_size=1)),
        (f"in-process, batch {args.batch}", dict(batch_size=args.batch)),
        ("2 Ray workers, batch 1", dict(batch_size=1, workers=2)),
    ]
    methods = [("neuromask", {"steps": args.steps}), ("saliency", {})]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = work / "photos"
        write_photos(source, args.images)
        start = time.perf_counter()
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
        ray_startup = time.perf_counter() - start
        try:
            for method, options in methods:
                for name, kwargs in configs:
                    per_image = [
                        timed_run(source, work, method, options, **kwargs) / args.images for _ in range(args.repeats)
                    ]
                    rows.append(
                        {
                            "method": method,
                            "options": options,
                            "config": name,
                            "seconds_per_image": per_image,
                            "median": statistics.median(per_image),
                        }
                    )
                    print(f"{method} {name}: {per_image}", file=sys.stderr)
        finally:
            ray.shutdown()
    machine["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
    lines = [
        "# explain-dataset throughput on EfficientNet-Lite0",
        "",
        f"{args.images} photos, median (min-max) seconds per image over {args.repeats} runs "
        f"(`python benchmarks/throughput.py --images {args.images} --steps {args.steps} "
        f"--repeats {args.repeats} --batch {args.batch}`). Model loading and all writes included; "
        "Ray's start-up apart.",
        "",
        "| method | configuration | s / image | ratio to in-process batch 1 |",
        "|---|---|---:|---:|",
    ]
    for r in rows:
        base = next(b["median"] for b in rows if b["method"] == r["method"] and b["config"] == configs[0][0])
        opts = f" ({', '.join(f'{k} {v}' for k, v in r['options'].items())})" if r["options"] else ""
        lines.append(
            f"| {r['method']}{opts} | {r['config']} | {r['median']:.3f} ({min(r['seconds_per_image']):.3f}-"
            f"{max(r['seconds_per_image']):.3f}) | {r['median'] / base:.2f} |"
        )
    lines += [
        "",
        f"Ray start-up (`ray.init(num_cpus=2)`, once per run of the command): {ray_startup:.1f} s.",
        "",
        f"Machine: {machine}",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "throughput.md").write_text(text)
    payload = {"machine": machine, "ray_startup_seconds": ray_startup, "rows": rows, "args": vars(args)}
    (RESULTS / "throughput.json").write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
