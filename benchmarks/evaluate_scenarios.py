"""Two domain scenarios end to end: `neuromask evaluate` on data that are not ImageNet photos.

- ``cells``: grey microscopy-like fields (``neuromask.datasets`` generator ``cells``),
  labelled by how many cells carry a parasite; the masks are the infected cells;
- ``settlements``: RGB aerial-like tiles (generator ``settlements``), a planned or an
  informal settlement; the masks are the settlement's footprint.

For each, with the project's own commands (printed as they run):

1. ``neuromask dataset NAME --n 120 --start 2000000000 --out WORK/NAME/data``: held-out
   images and masks (far beyond the indices the model was trained and tested on);
2. ``neuromask train --dataset NAME --arch cnn ...`` when ``benchmarks/results/evaluate/NAME/``
   holds no model yet (the committed weights are these);
3. ``neuromask evaluate WORK/NAME/data/images --model MODEL --methods all --masks
   WORK/NAME/data/masks --out WORK/NAME/eval --batch-size 8``, timed;
4. the report, summary, rows and pictures (with a 128-colour palette) copied into
   ``benchmarks/results/evaluate/NAME/``;
5. the same maps scored again with ROAD's noisy linear imputation as the baseline of insertion
   and deletion (``--metrics insertion,deletion --metric-option insertion.baseline=road
   --metric-option deletion.baseline=road``: nothing is explained again), its report copied
   into ``NAME/road/``; then step 3's command again, which computes nothing and restores
   its report. Why: a black image (deletion's default baseline, 0) and a blurred one
   (insertion's) are each taken for one class by these models, so those curves follow the
   image's class more than the map (the diagnostic ``p(class | constant image)`` is printed).

    python benchmarks/evaluate_scenarios.py [--scenarios cells,settlements] [--images 120] [--work out/scenarios]

Writes benchmarks/results/evaluate/{NAME/, scenarios.md, scenarios.json}.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
from machine import describe  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "evaluate"
HELD_OUT = 2_000_000_000
# Training sets: sized like the shipped models' (10 000 samples, 6 epochs: shapes_on_texture's).
TRAIN = {"cells": ["--samples", "10000", "--epochs", "6"], "settlements": ["--samples", "8000", "--epochs", "5"]}
COPIED = ("report.md", "report.html", "summary.csv", "scores.parquet", "results.parquet")


def neuromask(*args: str) -> float:
    """Run a neuromask command, echoing it; return its wall seconds."""
    command = [sys.executable, "-m", "neuromask.cli.main", *args]
    print("$ neuromask " + " ".join(args), flush=True)
    started = time.perf_counter()
    done = subprocess.run(command, check=False)
    if done.returncode not in (0, 1):
        raise SystemExit(f"neuromask {args[0]} failed with exit code {done.returncode}")
    return time.perf_counter() - started


def scenario(name: str, images: int, work: Path) -> dict[str, object]:
    folder = RESULTS / name
    folder.mkdir(parents=True, exist_ok=True)
    data, out = work / name / "data", work / name / "eval"
    shutil.rmtree(data, ignore_errors=True)
    neuromask("dataset", name, "--n", str(images), "--start", str(HELD_OUT), "--out", str(data))
    model = folder / f"{name}-cnn.pt"
    trained = None
    if not model.exists():
        trained = neuromask("train", "--dataset", name, "--arch", "cnn", *TRAIN[name], "--out", str(model))
    record = json.loads(model.with_suffix(".json").read_text())
    load = os.getloadavg()[0]
    evaluate = ["evaluate", str(data / "images"), "--model", os.path.relpath(model), "--methods", "all",
                "--masks", str(data / "masks"), "--out", str(out), "--batch-size", "8", "--quiet"]  # fmt: skip
    seconds = neuromask(*evaluate)
    road_seconds = neuromask(*evaluate, "--metrics", "insertion,deletion", "--metric-option",
                             "insertion.baseline=road", "--metric-option", "deletion.baseline=road")  # fmt: skip
    (folder / "road").mkdir(exist_ok=True)
    for file in ("report.md", "summary.csv"):
        shutil.copy(out / file, folder / "road" / file)
    neuromask(*evaluate)  # computes nothing: the first request's report and rows again
    for file in COPIED:
        shutil.copy(out / file, folder / file)
    shutil.rmtree(folder / "report", ignore_errors=True)
    (folder / "report").mkdir()
    for picture in sorted((out / "report").glob("*.png")):
        small_copy(picture, folder / "report" / picture.name)
    with (out / "summary.csv").open() as fh:
        summary = list(csv.DictReader(fh))
    with (folder / "road" / "summary.csv").open() as fh:
        road = list(csv.DictReader(fh))
    explain_rows = pq.read_table(out / "results.parquet").to_pylist()
    score_rows = pq.read_table(out / "scores.parquet").to_pylist()
    return {
        # From the rows: what explaining and scoring took, whichever run computed them.
        "explain_seconds": round(sum(r["seconds"] or 0.0 for r in explain_rows), 1),
        "score_seconds": round(sum(r["seconds"] or 0.0 for r in score_rows), 1),
        "road_seconds": round(road_seconds, 1),
        "road": road,
        "constant_images": constant_images(model),
        "scenario": name,
        "images": images,
        "model": {"file": model.name, "accuracy": record["accuracy"], "train_seconds": record["seconds"],
                  "trained_now_seconds": trained},
        "evaluate_seconds": round(seconds, 1),
        "load_average_at_start": round(load, 2),
        "summary": summary,
    }  # fmt: skip


def small_copy(picture: Path, to: Path) -> None:
    """The report's picture with a 128-colour palette: a third of the bytes in the repository, and
    the heat map's colours, the outlines and the text look the same."""
    from PIL import Image

    with Image.open(picture) as image:
        image.convert("RGB").quantize(128).save(to, optimize=True)


def constant_images(model: Path) -> dict[str, list[float]]:
    """The model's class probabilities on all-black, mid-grey and all-white images."""
    import torch

    import neuromask as nm

    loaded = nm.load_model(str(model))
    h, w = loaded.input_size
    out = {}
    for name, value in (("black", 0.0), ("grey", 0.5), ("white", 1.0)):
        with torch.no_grad():
            x = torch.full((1, loaded.channels, h, w), value)
            out[name] = [round(float(p), 3) for p in loaded.module(loaded.normalize(x)).softmax(1)[0]]
    return out


def ranking_table(summary: list[dict[str, str]], metrics: list[str]) -> list[str]:
    """Methods as rows, metrics as columns: mean [95 % interval] (#rank)."""
    methods = list(dict.fromkeys(r["method"] for r in summary))
    by = {(r["method"], r["metric"]): r for r in summary}
    lines = ["| method | " + " | ".join(metrics) + " |", "|---|" + "---|" * len(metrics)]
    for m in methods:
        cells = []
        for metric in metrics:
            r = by[(m, metric)]
            interval = "" if not r["ci95_low"] else f" [{float(r['ci95_low']):.2f}, {float(r['ci95_high']):.2f}]"
            cells.append(f"{float(r['mean']):.2f}{interval} #{r['rank']}" if r["mean"] not in ("", "nan") else "–")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return lines


def record_classes(name: str) -> list[str]:
    return list(json.loads((RESULTS / name / f"{name}-cnn.json").read_text())["class_names"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", default="cells,settlements")
    parser.add_argument("--images", type=int, default=120)
    parser.add_argument("--work", type=Path, default=Path("out/scenarios"))
    args = parser.parse_args()
    runs = [scenario(name, args.images, args.work) for name in args.scenarios.split(",")]
    machine = describe()
    lines = ["# `neuromask evaluate` on two domain scenarios", ""]
    lines += [f"Machine: {machine['cpu']}, {machine['cores']} cores, torch {machine['torch']}. "
              "Command: `python benchmarks/evaluate_scenarios.py`.", ""]  # fmt: skip
    for run in runs:
        name = run["scenario"]
        model = run["model"]
        metrics = list(dict.fromkeys(r["metric"] for r in run["summary"]))
        lines += [f"## {name}", ""]
        lines += [
            f"{run['images']} held-out images; model `{model['file']}` (`neuromask train`, test accuracy "
            f"{100 * model['accuracy']:.1f} %). `neuromask evaluate ... --methods all`: {run['explain_seconds']} s "
            f"explaining and {run['score_seconds']} s scoring in its rows (this invocation: {run['evaluate_seconds']} s "
            f"of wall time, load average {run['load_average_at_start']} at the start). "
            f"Report: [{name}/report.md]({name}/report.md).",
            "",
        ]
        report = (RESULTS / name / "report.md").read_text()
        start = report.index("## Which method to use")
        lines += [report[start:].split("\n\n", 2)[1], ""]
        lines += ["Mean [95 % interval] #rank (ranks from the paired bootstrap interval of the difference):", ""]
        lines += ranking_table(run["summary"], metrics) + [""]
        classes = ", ".join(f"{k} {v}" for k, v in run["constant_images"].items())
        lines += [
            f"The model's class probabilities on constant images ({', '.join(record_classes(name))}): {classes}. "
            f"The same maps scored with ROAD's imputation as insertion's and deletion's baseline ({run['road_seconds']} "
            f"s, nothing explained again; [{name}/road/report.md]({name}/road/report.md)):",
            "",
        ]
        lines += ranking_table(run["road"], ["insertion", "deletion"]) + [""]
    (RESULTS / "scenarios.md").write_text("\n".join(lines))
    (RESULTS / "scenarios.json").write_text(json.dumps({"machine": machine, "runs": runs}, indent=1) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
