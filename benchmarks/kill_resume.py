"""Exactly-once under SIGKILL: `neuromask explain-dataset` killed five times at random moments, then rerun.

For each scenario the same command runs once uninterrupted (the reference), and once
more in a fresh folder where it is killed with SIGKILL at a random moment, started
again, killed again (five times), and finally run to the end. Then: the table's row
count against images x methods, duplicate and missing items in the manifest, arrays in
the map store that no row names, leftovers in ``tmp/``, and every map against the
reference's, bit for bit.

Scenarios:
- ``fast``: 200 triangles_squares images (32x32 PNGs, drawn by neuromask.datasets),
  saliency and gradcam with the shipped ``triangles_squares-cnn``, batches of 4;
- ``neuromask``: 20 of those images, NeuroMask with 50 steps, batches of 4;
- ``neuromask-efficientnet`` (only when named in ``--scenarios``; about 15 minutes per
  run of the command under a load of 15 on 2 cores): 20 photos (scikit-image's 10 colour
  photos and their mirror images, as PNGs), NeuroMask with 10 steps on EfficientNet-Lite0.

The kill points are random: five distinct item counts drawn uniformly from 1 .. total - 1
(sorted), and the k-th run is killed once the manifest holds that many lines plus a
random fraction of one item's time (from the reference run), so that the kill lands
anywhere inside the work of the next item or batch: in the computation, the Zarr write,
the rename or the manifest append. Drawn from ``--seed``.

    python benchmarks/kill_resume.py [--kills 5] [--seed 0] [--scenarios fast,neuromask,...]

Prints Markdown and writes benchmarks/results/kill_resume.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from dataset_runs import write_image_folder  # noqa: E402  (the tests' PNG folders)
from machine import describe  # noqa: E402
from neuromask.runs import RunResults  # noqa: E402

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

SCENARIOS = {
    "fast": dict(images=200, model="triangles_squares-cnn", methods="saliency,gradcam", options=[], batch=4),
    "neuromask": dict(
        images=20, model="triangles_squares-cnn", methods="neuromask", options=["neuromask.steps=50"], batch=4
    ),
    "neuromask-efficientnet": dict(
        images=20, model="efficientnet_lite0", methods="neuromask", options=["neuromask.steps=10"], batch=4, photos=True
    ),
}


def write_photos(root: Path) -> None:
    """scikit-image's colour photos and their mirror images as PNGs (20 files)."""
    import skimage.data

    root.mkdir(parents=True, exist_ok=True)
    for name in PHOTOS:
        array = getattr(skimage.data, name)()
        array = array[0] if isinstance(array, tuple) else array
        Image.fromarray(array).save(root / f"{name}.png")
        Image.fromarray(np.ascontiguousarray(array[:, ::-1])).save(root / f"{name}_mirrored.png")


def recorded(out: Path) -> int:
    path = out / "manifest.jsonl"
    return path.read_bytes().count(b"\n") if path.exists() else 0


def first_record_after(proc: subprocess.Popen, out: Path, start: float) -> float:
    """Seconds from ``start`` until the manifest's first line (the start-up), waiting for the process."""
    while recorded(out) == 0 and proc.poll() is None:
        time.sleep(0.01)
    return time.perf_counter() - start


def run_scenario(name: str, spec: dict, work: Path, kills: int, rng: random.Random) -> dict:
    source = work / f"{name}-images"
    if spec.get("photos"):
        write_photos(source)
    else:
        write_image_folder(source, spec["images"])
    methods = spec["methods"].split(",")

    def command(out: Path) -> list[str]:
        cmd = [
            sys.executable,
            "-m",
            "neuromask.cli.main",
            "explain-dataset",
            str(source),
            "--model",
            spec["model"],
            "--methods",
            spec["methods"],
            "--batch-size",
            str(spec["batch"]),
            "--out",
            str(out),
            "--quiet",
        ]
        for option in spec["options"]:
            cmd += ["--option", option]
        return cmd

    reference = work / f"{name}-reference"
    start = time.perf_counter()
    proc = subprocess.Popen(command(reference))
    startup = first_record_after(proc, reference, start)
    if proc.wait() != 0:
        raise SystemExit(f"the reference run of {name} failed")
    full = time.perf_counter() - start
    total = spec["images"] * len(methods)

    out = work / f"{name}-killed"
    per_item = (full - startup) / total
    moments = []
    for target in sorted(rng.sample(range(1, total), kills)):
        before = recorded(out)
        proc = subprocess.Popen(command(out))
        while proc.poll() is None and recorded(out) < target:
            time.sleep(0.002)
        time.sleep(rng.uniform(0, per_item))
        killed = proc.poll() is None
        if killed:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        moments.append({"target": target, "recorded_before": before, "killed": killed, "recorded_after": recorded(out)})
    final = subprocess.run(command(out))

    lines = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    keys = [line["key"] for line in lines]
    ok = {line["key"] for line in lines if line["status"] == "ok"}
    resumed, ref = RunResults(out), RunResults(reference)
    rows = resumed.table.to_pylist()
    arrays = {p.name for p in (out / "maps.zarr").iterdir() if p.is_dir()}
    equal, worst = 0, 0.0
    for row in rows:
        a, b = resumed.map(row["image"], row["method"]), ref.map(row["image"], row["method"])
        equal += int(a.shape == b.shape and np.array_equal(a, b))
        worst = max(worst, float(np.abs(a - b).max()) if a.shape == b.shape else float("inf"))
    return {
        "scenario": name,
        "model": spec["model"],
        "methods": spec["methods"],
        "options": spec["options"],
        "batch_size": spec["batch"],
        "images": spec["images"],
        "expected_rows": total,
        "rows": len(rows),
        "duplicates": len(keys) - len(set(keys)),
        "missing": total - len(ok),
        "failed_rows": sum(r["status"] != "ok" for r in rows),
        "unreferenced_arrays": len(arrays - {r["map"] for r in rows}),
        "tmp_leftovers": len(list((out / "tmp").iterdir())),
        "maps_equal": equal,
        "max_abs_difference": worst,
        "kills_landed": sum(m["killed"] for m in moments),
        "kills": moments,
        "final_exit": final.returncode,
        "reference_seconds": round(full, 1),
        "startup_seconds": round(startup, 1),
    }


def markdown(results: list[dict], machine: dict, args: argparse.Namespace) -> str:
    lines = [
        "# explain-dataset killed with SIGKILL and rerun",
        "",
        f"Each scenario: one uninterrupted run (the reference), and one started {args.kills} times, each time "
        "killed with SIGKILL at a random moment (once the manifest reached a random line count, plus a random "
        "part of one item's time), then run to the end "
        f"(`python benchmarks/kill_resume.py --kills {args.kills} --seed {args.seed}`). "
        "'recorded at each kill': the manifest's lines just after each kill.",
        "",
        "| scenario | model | methods (options) | images | rows / expected | duplicates | missing | failed "
        "| unreferenced arrays | tmp leftovers | maps equal (bit for bit) | kills landed | recorded at each kill |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        at = ", ".join(
            str(m["recorded_after"]) if m["killed"] else f"({m['recorded_after']}: finished)" for m in r["kills"]
        )
        options = f" ({' '.join(r['options'])})" if r["options"] else ""
        lines.append(
            f"| {r['scenario']} | {r['model']} | {r['methods']}{options} | {r['images']} | {r['rows']} / "
            f"{r['expected_rows']} | {r['duplicates']} | {r['missing']} | {r['failed_rows']} | "
            f"{r['unreferenced_arrays']} | {r['tmp_leftovers']} | {r['maps_equal']} / {r['rows']} | "
            f"{r['kills_landed']} | {at} |"
        )
    lines += ["", f"Machine: {machine}", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scenarios", default="fast,neuromask", help=f"from {', '.join(SCENARIOS)}")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    machine = {**describe(), "load_average_1min_at_start": round(os.getloadavg()[0], 2)}
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.scenarios.split(","):
            results.append(run_scenario(name, SCENARIOS[name], Path(tmp), args.kills, rng))
            print(f"{name}: done", file=sys.stderr)
    machine["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
    text = markdown(results, machine, args)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "kill_resume.md").write_text(text)
    (RESULTS / "kill_resume.json").write_text(json.dumps({"machine": machine, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
