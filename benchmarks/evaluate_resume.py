"""`neuromask evaluate` killed with SIGKILL and rerun, and a metric added to a finished run.

1. **Killed and rerun.** The same command runs once uninterrupted (the reference) and once
   in a fresh folder where it is killed with SIGKILL: once while explaining (the maps'
   manifest at a random line) and ``--kills`` times while scoring (``scores.jsonl`` at
   random lines, plus a random part of a second), then run to the end. Then:
   ``scores.parquet`` against images x methods x metrics, rows twice, rows missing, and
   every value against the reference's, bit for bit.
2. **A metric added.** On a finished run without it, the same command with ``--metrics ...,
   randomisation``: the maps' manifest before and after (nothing explained again), the
   scores computed, and the seconds.

Data: held-out ``triangles_squares`` images and their masks (``neuromask.datasets``), the
shipped ``triangles_squares-cnn``; saliency, Grad-CAM and NeuroMask (50 steps), batches of 4.

    python benchmarks/evaluate_resume.py [--images 40] [--kills 2] [--seed 0]

Prints Markdown and writes benchmarks/results/evaluate_resume.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from dataset_runs import MODEL, write_image_folder  # noqa: E402  (the tests' PNG folders)
from machine import describe  # noqa: E402

RESULTS = Path(__file__).parent / "results"
METHODS = "saliency,gradcam,neuromask"
METRICS = "energy,auroc,eq_iou,pointing,insertion,deletion,randomisation"


def lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def command(source: Path, masks: Path, out: Path, metrics: str) -> list[str]:
    return [sys.executable, "-m", "neuromask.cli.main", "evaluate", str(source), "--model", MODEL,
            "--methods", METHODS, "--masks", str(masks), "--metrics", metrics, "--option", "neuromask.steps=50",
            "--batch-size", "4", "--out", str(out), "--quiet"]  # fmt: skip


def table(out: Path) -> tuple[dict[tuple[str, str, str], float], int]:
    rows = pq.read_table(out / "scores.parquet").to_pylist()
    keys = [(r["image"], r["method"], r["metric"]) for r in rows]
    return {(r["image"], r["method"], r["metric"]): r["value"] for r in rows}, len(keys) - len(set(keys))


def killed_and_rerun(source: Path, masks: Path, work: Path, kills: int, rng: random.Random) -> dict:
    reference = work / "reference"
    start = time.perf_counter()
    subprocess.run(command(source, masks, reference, METRICS), check=True)
    seconds = time.perf_counter() - start
    expected = lines(reference / "scores.jsonl")
    maps = lines(reference / "manifest.jsonl")
    out = work / "killed"
    targets = [("manifest.jsonl", rng.randrange(1, maps))]
    targets += [("scores.jsonl", t) for t in sorted(rng.sample(range(1, expected), kills))]
    moments = []
    for watched, target in targets:
        proc = subprocess.Popen(command(source, masks, out, METRICS))
        while proc.poll() is None and lines(out / watched) < target:
            time.sleep(0.002)
        time.sleep(rng.uniform(0, 0.05))  # into the next item or batch
        landed = proc.poll() is None
        if landed:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        moments.append({"file": watched, "target": target, "killed": landed, "lines_after": lines(out / watched)})
    final = subprocess.run(command(source, masks, out, METRICS))
    ours, twice = table(out)
    theirs, _ = table(reference)
    equal = sum(
        (math.isnan(v) and math.isnan(ours[k])) or ours[k] == v
        for k, v in theirs.items()
        if k in ours and v is not None and ours[k] is not None
    )
    return {
        "expected_rows": expected,
        "rows": len(ours),
        "twice": twice,
        "missing": len(theirs.keys() - ours.keys()),
        "values_equal": equal,
        "kills": moments,
        "final_exit": final.returncode,
        "reference_seconds": round(seconds, 1),
    }


def metric_added(source: Path, masks: Path, work: Path) -> dict:
    out = work / "added"
    without = METRICS.replace(",randomisation", "")
    subprocess.run(command(source, masks, out, without), check=True)
    manifest = (out / "manifest.jsonl").read_bytes()
    scored = lines(out / "scores.jsonl")
    start = time.perf_counter()
    done = subprocess.run(command(source, masks, out, METRICS), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    return {
        "maps_manifest_unchanged": (out / "manifest.jsonl").read_bytes() == manifest,
        "maps": manifest.count(b"\n"),
        "scores_before": scored,
        "scores_added": lines(out / "scores.jsonl") - scored,
        "exit": done.returncode,
        "seconds": round(seconds, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--kills", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_image_folder(work / "images", args.images, masks=work / "masks")
        resume = killed_and_rerun(work / "images", work / "masks", work, args.kills, rng)
        added = metric_added(work / "images", work / "masks", work)
    at = ", ".join(
        f"{m['file']} line {m['lines_after']}" if m["killed"] else f"({m['file']}: finished)" for m in resume["kills"]
    )
    text = "\n".join([
        "# `neuromask evaluate` killed with SIGKILL and rerun; a metric added to a finished run",
        "",
        f"{args.images} triangles_squares images with masks, `{MODEL}`, methods {METHODS} (NeuroMask 50 steps), "
        f"metrics {METRICS}, batches of 4 (`python benchmarks/evaluate_resume.py --images {args.images} "
        f"--kills {args.kills} --seed {args.seed}`; load average {load:.2f} at the start).",
        "",
        "| rows / expected | rows twice | rows missing | values equal to the uninterrupted run's (bit for bit) "
        "| killed at | final exit |",
        "|---:|---:|---:|---:|---|---:|",
        f"| {resume['rows']} / {resume['expected_rows']} | {resume['twice']} | {resume['missing']} | "
        f"{resume['values_equal']} / {resume['expected_rows']} | {at} | {resume['final_exit']} |",
        "",
        f"**A metric added.** A finished run of {added['maps']} maps and {added['scores_before']} scores, then the "
        f"same command with `randomisation` added: maps' manifest unchanged: {added['maps_manifest_unchanged']} "
        f"(nothing explained again); {added['scores_added']} scores added in {added['seconds']} s, exit "
        f"{added['exit']}.",
        "",
        f"Machine: {describe()}",
        "",
    ])  # fmt: skip
    print(text)
    (RESULTS / "evaluate_resume.md").write_text(text)
    (RESULTS / "evaluate_resume.json").write_text(json.dumps({"resume": resume, "added": added}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
