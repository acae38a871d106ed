"""The examples of CONTRIBUTING.md run as written: a method with its fast preset, a metric,
a dataset and a command, each registered (and checked by its registry) like the real ones."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import nn

import neuromask
from neuromask import datasets
from neuromask.explainers import METHODS
from neuromask.metrics import METRICS, ScoringData, metric_info, score

GUIDE = Path(__file__).resolve().parent.parent / "CONTRIBUTING.md"


def _examples() -> dict[str, str]:
    """Each Python example by the file its first comment names."""
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), flags=re.S)
    return {block.splitlines()[0].split("src/neuromask/")[1]: block for block in blocks}


def _run(code: str, module: str) -> dict:
    """Execute an example as if it were the module ``module`` (relative imports resolve there)."""
    namespace: dict = {"__name__": module, "__package__": module.rpartition(".")[0]}
    exec(compile(code, str(GUIDE), "exec"), namespace)  # noqa: S102 - the guide's own example
    return namespace


@pytest.fixture
def registered() -> Iterator[list[tuple[dict, str]]]:
    """Registrations the examples make, removed afterwards."""
    made: list[tuple[dict, str]] = []
    yield made
    for entries, name in made:
        entries.pop(name, None)


def test_there_is_one_example_of_each() -> None:
    assert set(_examples()) == {
        "explainers/noise_saliency.py",
        "metrics/localisation.py",
        "datasets/bars.py",
        "cli/options.py",
    }


def test_the_method_example(registered: list) -> None:
    _run(_examples()["explainers/noise_saliency.py"], "neuromask.explainers.noise_saliency")
    registered.append((METHODS._entries, "noise_saliency"))
    assert neuromask.method_presets("noise_saliency") == {"fast": {"samples": 4}}
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    e = neuromask.explain(model, torch.rand(2, 3, 12, 12), method="noise_saliency", preset="fast")
    assert e.attribution.shape == (2, 12, 12) and (e.attribution >= 0).all()
    assert e.params["samples"] == 4 and e.params["preset"] == "fast"


def test_the_metric_example(registered: list) -> None:
    import neuromask.metrics.localisation as family

    code = _examples()["metrics/localisation.py"]
    namespace = {**vars(family), "__name__": family.__name__}
    exec(compile(code, str(GUIDE), "exec"), namespace)  # noqa: S102 - the guide's own example
    registered.append((METRICS._entries, "top_pixel_inside"))
    assert metric_info("top_pixel_inside").direction == "higher"
    attribution = torch.zeros(1, 6, 6)
    attribution[0, :2, :2] = 1.0  # the 4 highest pixels lie on the evidence
    evidence = torch.zeros(1, 6, 6, dtype=torch.bool)
    evidence[0, :3, :3] = True
    value = score("top_pixel_inside", ScoringData(attribution=attribution, evidence=evidence), k=4)
    assert value.tolist() == [1.0]


def test_the_dataset_example(registered: list) -> None:
    _run(_examples()["datasets/bars.py"], "neuromask.datasets.bars")
    registered.append((datasets.DATASETS._entries, "bars"))
    data = datasets.generate("bars", 4, seed=0)
    assert data.images.shape == (4, 1, 32, 32) and data.labels.tolist() == [0, 1, 0, 1]
    # The evidence is exactly the bright bar.
    assert torch.equal(data.evidence, data.images[:, 0] > 0.5)


def test_the_command_example(capsys: pytest.CaptureFixture[str]) -> None:
    namespace = _run(_examples()["cli/options.py"], "neuromask.cli.options")
    parser = argparse.ArgumentParser(prog="neuromask")
    namespace["register"](parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["options", "occlusion", "--size", "32", "32"])
    assert args.run(args) == 0
    printed = json.loads(capsys.readouterr().out)
    assert (printed["window"], printed["stride"]) == (5, 2)
