"""The command line: files written, exit codes, one-line errors and nothing lost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from neuromask.cli.main import main


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 5, stride=4)
        self.head = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.conv(x)).mean(dim=(2, 3)))


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    path = tmp_path / "tiny.pt"
    torch.jit.script(Tiny().eval()).save(str(path))
    return path


@pytest.fixture
def photos(tmp_path: Path) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for name, size in (("wide", (90, 160)), ("tall", (150, 100))):
        path = tmp_path / f"{name}.png"
        Image.fromarray(rng.integers(0, 255, size + (3,), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def test_explain_writes_npy_png_json_at_original_size(model_file, photos, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    code = main(
        ["explain", *map(str, photos), "--model", str(model_file), "--steps", "3", "--out", str(out), "--quiet"]
    )
    assert code == 0
    for path, size in zip(photos, ((90, 160), (150, 100))):
        att = np.load(out / f"{path.stem}.neuromask.npy")
        assert att.shape == size and att.dtype == np.float32
        assert att.min() >= 0 and att.max() <= 1
        record = json.loads((out / f"{path.stem}.neuromask.json").read_text())
        assert record["method"] == "neuromask" and record["params"]["steps"] == 3
        assert 0 <= record["probability"] <= 1 and 0 <= record["masked_probability"] <= 1
        assert record["target"] in (0, 1, 2) and record["seconds"] >= 0
        assert Image.open(out / f"{path.stem}.neuromask.png").size[0] > 100


def test_target_by_index_and_option_by_param(model_file, photos, tmp_path) -> None:
    out = tmp_path / "out"
    code = main(
        [
            "explain",
            str(photos[0]),
            "--model",
            str(model_file),
            "--target",
            "2",
            "--steps",
            "2",
            "--param",
            "baseline=zero",
            "--param",
            "mask_size=null",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    record = json.loads((out / "wide.neuromask.json").read_text())
    assert record["target"] == 2 and record["params"]["baseline"] == "zero" and record["params"]["mask_size"] is None


def test_batch_keeps_good_results_and_reports_each_failure(model_file, photos, tmp_path, capsys) -> None:
    bad = {
        "missing.png": None,
        "empty.png": b"",
        "text.jpg": b"this is not an image\n",
        "corrupt.png": photos[0].read_bytes()[:60],
    }
    paths = []
    for name, content in bad.items():
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        paths.append(path)
    dot = tmp_path / "dot.png"
    Image.new("RGB", (1, 1)).save(dot)
    paths.append(dot)
    out = tmp_path / "out"
    code = main(
        [
            "explain",
            str(photos[0]),
            *map(str, paths),
            str(photos[1]),
            "--model",
            str(model_file),
            "--steps",
            "2",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == len(paths)
    for path, line in zip(paths, err):
        assert str(path) in line and "Traceback" not in line
    assert (out / "wide.neuromask.npy").exists() and (out / "tall.neuromask.npy").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "no_such_model"], "unknown model"),
        (["--target", "zebra"], "zebra"),
        (["--target", "7"], "[0, 2]"),
        (["--method", "nope"], "unknown method"),
        (["--param", "stpes=3"], "no option"),
    ],
)
def test_bad_requests_exit_nonzero_with_one_line(model_file, photos, tmp_path, capsys, args, message) -> None:
    argv = [
        "explain",
        str(photos[0]),
        "--model",
        str(model_file),
        "--steps",
        "1",
        "--out",
        str(tmp_path / "o"),
        "--quiet",
    ]
    if "--model" in args:
        argv[argv.index("--model") + 1] = args[1]
        args = []
    code = main(argv + args)
    assert code != 0
    err = capsys.readouterr().err.strip()
    assert message in err and "Traceback" not in err
    assert len(err.splitlines()) == 1


def test_subprocess_exit_status_and_no_traceback(tmp_path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_text("not a jpeg")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "neuromask.cli.main",
            "explain",
            str(broken),
            "--model",
            str(tmp_path / "none.pt"),
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_models_lists_builtins(capsys) -> None:
    assert main(["models"]) == 0
    assert "efficientnet_lite0" in capsys.readouterr().out
