"""Killed with SIGKILL at several points and rerun: the result equals an uninterrupted run's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from dataset_runs import MODEL, write_image_folder
from neuromask.runs import RunResults, explain_dataset

METHODS = ["saliency", "neuromask"]


def recorded(out: Path) -> int:
    path = out / "manifest.jsonl"
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_sigkill_at_several_points_then_rerun_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    source = tmp_path / "images"
    ids = write_image_folder(source, 8)
    options = {"neuromask": {"steps": 2}}
    explain_dataset(source, MODEL, METHODS, tmp_path / "reference", options=options, batch_size=2, quiet=True)
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "neuromask.cli.main",
        "explain-dataset",
        str(source),
        "--model",
        MODEL,
        "--methods",
        ",".join(METHODS),
        "--option",
        "neuromask.steps=2",
        "--batch-size",
        "2",
        "--out",
        str(out),
        "--quiet",
    ]
    kills = []
    for more in (1, 3, 5):  # killed once 1, 3, 5 more items are recorded
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        goal = recorded(out) + more
        while proc.poll() is None and recorded(out) < goal:
            time.sleep(0.001)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            kills.append(recorded(out))
    assert len(kills) >= 2, f"the run finished before it could be killed: {kills}"
    assert kills[-1] < len(ids) * len(METHODS)
    finish = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert finish.returncode == 0, finish.stderr

    lines = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    keys = [line["key"] for line in lines]
    assert len(keys) == len(set(keys)) == len(ids) * len(METHODS)  # nothing lost, nothing twice
    assert all(line["status"] == "ok" for line in lines)
    assert not list((out / "tmp").iterdir())  # nothing half-written left over
    resumed, reference = RunResults(out), RunResults(tmp_path / "reference")
    assert resumed.table.num_rows == reference.table.num_rows == len(keys)
    for image in ids:
        for method in METHODS:
            np.testing.assert_array_equal(resumed.map(image, method), reference.map(image, method))
