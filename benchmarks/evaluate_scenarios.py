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
4. the report, summary, rows and pictures copied into ``benchmarks/results/evaluate/NAME/``.

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
    seconds = neuromask(
        "evaluate", str(data / "images"), "--model", os.path.relpath(model), "--methods", "all", "--masks",
        str(data / "masks"),
        "--out", str(out), "--batch-size", "8", "--quiet",
    )  # fmt: skip
    for file in COPIED:
        shutil.copy(out / file, folder / file)
    shutil.rmtree(folder / "report", ignore_errors=True)
    shutil.copytree(out / "report", folder / "report")
    with (out / "summary.csv").open() as fh:
        summary = list(csv.DictReader(fh))
    return {
        "scenario": name,
        "images": images,
        "model": {"file": model.name, "accuracy": record["accuracy"], "train_seconds": record["seconds"],
                  "trained_now_seconds": trained},
        "evaluate_seconds": round(seconds, 1),
        "load_average_at_start": round(load, 2),
        "summary": summary,
    }  # fmt: skip


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
            f"{100 * model['accuracy']:.1f} %); `neuromask evaluate ... --methods all` took {run['evaluate_seconds']} s "
            f"(load average {run['load_average_at_start']} at the start). Report: [{name}/report.md]({name}/report.md).",
            "",
        ]
        report = (RESULTS / name / "report.md").read_text()
        start = report.index("## Which method to use")
        lines += [report[start:].split("\n\n", 2)[1], ""]
        lines += ["Mean [95 % interval] #rank (ranks from the paired bootstrap interval of the difference):", ""]
        lines += ranking_table(run["summary"], metrics) + [""]
    (RESULTS / "scenarios.md").write_text("\n".join(lines))
    (RESULTS / "scenarios.json").write_text(json.dumps({"machine": machine, "runs": runs}, indent=1) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
