"""``neuromask evaluate`` killed with SIGKILL while explaining and while scoring, then rerun:
the same scores.parquet as an uninterrupted run, no row twice, none missing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import neuromask
from dataset_runs import MODEL, write_image_folder
from helpers import one_thread  # noqa: F401 (autouse fixture)
from neuromask.evaluation import read_scores

METHODS = ["saliency", "neuromask"]
METRICS = ["energy", "deletion", "randomisation"]
# One torch thread per process: on a loaded 2-core machine threads of tiny models wait for each other.
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def table(out: Path) -> dict[tuple[str, str, str], tuple[str, float]]:
    rows = read_scores(out).to_pylist()
    keys = [(r["image"], r["method"], r["metric"]) for r in rows]
    assert len(keys) == len(set(keys)), "a row twice"
    return {(r["image"], r["method"], r["metric"]): (r["status"], r["value"]) for r in rows}


def test_killed_twice_while_scoring_and_once_while_explaining_then_rerun(tmp_path: Path) -> None:
    ids = write_image_folder(tmp_path / "images", 6, masks=tmp_path / "masks")
    kwargs = dict(
        masks=tmp_path / "masks", metrics=METRICS, options={"neuromask": {"steps": 2}}, batch_size=2, quiet=True
    )
    reference = neuromask.evaluate(tmp_path / "images", MODEL, METHODS, tmp_path / "reference", **kwargs)
    assert reference.ok
    out = tmp_path / "out"
    command = [sys.executable, "-m", "neuromask.cli.main", "evaluate", str(tmp_path / "images"), "--model", MODEL,
               "--methods", ",".join(METHODS), "--masks", str(tmp_path / "masks"), "--metrics", ",".join(METRICS),
               "--option", "neuromask.steps=2", "--batch-size", "2", "--out", str(out), "--quiet"]  # fmt: skip
    kills = []
    # While explaining (3 maps recorded), then twice while scoring.
    for watched, more in (("manifest.jsonl", 3), ("scores.jsonl", 4), ("scores.jsonl", 12)):
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
        goal = lines(out / watched) + more
        while proc.poll() is None and lines(out / watched) < goal:
            time.sleep(0.001)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            kills.append((watched, lines(out / watched)))
    assert len(kills) == 3, f"a run finished before it could be killed: {kills}"
    assert kills[-1][1] < len(ids) * len(METHODS) * len(METRICS)
    finish = subprocess.run(command, capture_output=True, text=True, timeout=600, env=ENV)
    assert finish.returncode == 0, finish.stderr

    recorded = [json.loads(line)["key"] for line in (out / "scores.jsonl").read_text().splitlines()]
    assert len(recorded) == len(set(recorded)) == len(ids) * len(METHODS) * len(METRICS)
    resumed, expected = table(out), table(tmp_path / "reference")
    assert resumed.keys() == expected.keys()
    for key, (status, value) in expected.items():
        assert resumed[key][0] == status == "ok"
        # Bit-identical: the maps are (the engine's guarantee), and a scoring batch is
        # always the same images, so each score is computed from the same numbers.
        assert np.isnan(value) and np.isnan(resumed[key][1]) or resumed[key][1] == value, key
