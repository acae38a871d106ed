"""`neuromask train --seed`: the seed is the whole training run's (data, weights, shuffling)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from neuromask.cli.main import main
from neuromask.models.train import load_trained

ARGS = [
    "train",
    "--dataset",
    "triangles_squares",
    "--arch",
    "bnn",
    "--samples",
    "64",
    "--test-samples",
    "16",
    "--epochs",
    "1",
    "--width",
    "4",
    "--threads",
    "1",
]


def test_train_seed_reproduces_and_differs(tmp_path: Path) -> None:
    paths = {}
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        paths[name] = tmp_path / f"{name}.pt"
        assert main(ARGS + ["--seed", str(seed), "--out", str(paths[name])]) == 0
    assert json.loads(paths["a"].with_suffix(".json").read_text())["seed"] == 3
    weights = {k: load_trained(p).model.state_dict() for k, p in paths.items()}
    assert all(torch.equal(weights["a"][k], weights["b"][k]) for k in weights["a"]), "same seed, same model"
    assert not all(torch.equal(weights["a"][k], weights["c"][k]) for k in weights["a"]), "another seed, another model"
