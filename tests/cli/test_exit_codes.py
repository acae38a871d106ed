"""One exit code per outcome (the table in neuromask.errors), each tested: 0 done, 1 some
images failed and the rest was written, 2 a bad request, 3 a bug with its traceback, 130
interrupted with only complete files left."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from neuromask import errors
from neuromask.cli.main import main


class BreaksOnWhite(nn.Module):
    """A small CNN whose forward raises an unexpected RuntimeError on an all-white image."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 5, stride=4)
        self.head = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if bool(
            (x > 2.0).flatten(1).all(1).any()
        ):  # an all-white image: white after ImageNet normalisation is about 2.2 to 2.6
            raise RuntimeError("an internal failure that is not about the input's shape")
        return self.head(torch.relu(self.conv(x)).mean(dim=(2, 3)))


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    path = tmp_path / "breaks_on_white.pt"
    torch.jit.script(BreaksOnWhite().eval()).save(str(path))
    return path


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    out = {}
    for name in ("a", "b"):
        out[name] = tmp_path / f"{name}.png"
        Image.fromarray(rng.integers(0, 200, (40, 48, 3), dtype=np.uint8)).save(out[name])
    out["white"] = tmp_path / "white.png"
    Image.new("RGB", (40, 48), (255, 255, 255)).save(out["white"])
    return out


def _explain(model_file: Path, paths: list[Path], out: Path, *extra: str) -> int:
    return main(
        [
            "explain",
            *map(str, paths),
            "--model",
            str(model_file),
            "--method",
            "saliency",
            "--out",
            str(out),
            "--quiet",
            *extra,
        ]
    )


def test_exit_0_when_everything_was_written(model_file, images, tmp_path) -> None:
    assert _explain(model_file, [images["a"], images["b"]], tmp_path / "o") == errors.EXIT_OK == 0


def test_exit_1_keeps_the_others_and_names_the_failed_file(model_file, images, tmp_path, capsys) -> None:
    missing = tmp_path / "missing.png"
    code = _explain(model_file, [images["a"], missing, images["b"]], tmp_path / "o")
    assert code == errors.EXIT_FAILED == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"neuromask explain: {missing}: image '{missing}' does not exist"]
    assert {p.name for p in (tmp_path / "o").glob("*.json")} == {"a.saliency.json", "b.saliency.json"}


@pytest.mark.parametrize(
    "argv_tail, fragment",
    [
        (["--method", "nope"], "unknown method"),
        (["--method", "saliency", "--param", "stpes=3"], "no option 'stpes'"),
        (["--method", "saliency", "--param", "noequals"], "--param must be KEY=VALUE"),
        (["--method", "saliency", "--target", "7"], "[0, 2]"),
        (["--method", "saliency", "--target", "zebra"], "zebra"),
        (["--method", "neuromask", "--preset", "nonsense"], "no preset 'nonsense'"),
    ],
)
def test_exit_2_for_a_bad_request_before_any_work(model_file, images, tmp_path, capsys, argv_tail, fragment) -> None:
    out = tmp_path / "o"
    code = main(["explain", str(images["a"]), "--model", str(model_file), "--out", str(out), "--quiet", *argv_tail])
    assert code == errors.EXIT_USAGE == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())


def test_exit_2_for_a_missing_extra_names_the_install_command(
    model_file, images, tmp_path, capsys, monkeypatch
) -> None:
    import neuromask.explainers._registry as explainers

    monkeypatch.setattr(explainers, "_importable", lambda module: False)
    code = main(
        [
            "explain",
            str(images["a"]),
            "--model",
            str(model_file),
            "--method",
            "lrp_epsilon",
            "--out",
            str(tmp_path / "o"),
            "--quiet",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "pip install" in err and len(err.splitlines()) == 1


def test_exit_2_when_the_output_folder_cannot_be_made(model_file, images, tmp_path, capsys) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    code = _explain(model_file, [images["a"]], blocker / "out")
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert str(blocker) in err and len(err.splitlines()) == 1


def test_exit_3_an_unexpected_error_in_one_image_shows_its_traceback_and_keeps_the_others(
    model_file, images, tmp_path, capsys
) -> None:
    out = tmp_path / "o"
    # One batch of three: it fails as a whole, is retried image by image, and only white fails.
    code = _explain(model_file, [images["a"], images["white"], images["b"]], out, "--batch-size", "3")
    assert code == errors.EXIT_BUG == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and "not about the input's shape" in err
    assert f"neuromask explain: {images['white']}: saliency: unexpected " in err  # torch.jit.Error, a RuntimeError
    assert {p.name for p in out.glob("*.json")} == {"a.saliency.json", "b.saliency.json"}


def test_exit_3_a_library_bug_is_not_disguised_as_a_user_error(
    model_file, images, tmp_path, capsys, monkeypatch
) -> None:
    import neuromask.cli.explain as cli_explain

    def buggy(*args, **kwargs):
        raise ValueError("a bug, not the user's fault")

    monkeypatch.setattr(cli_explain, "explain_files", buggy)
    assert _explain(model_file, [images["a"]], tmp_path / "o") == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and "internal error (ValueError)" in err


def test_exit_130_on_ctrl_c_leaves_only_complete_files(model_file, images, tmp_path, capsys, monkeypatch) -> None:
    from matplotlib.figure import Figure

    real, calls = Figure.savefig, []

    def interrupted_half_way(self, path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 2:  # the second image's PNG: write half of it, then Ctrl-C
            Path(path).write_bytes(b"\x89PNG half")
            raise KeyboardInterrupt
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", interrupted_half_way)
    out = tmp_path / "o"
    code = _explain(model_file, [images["a"], images["b"]], out, "--batch-size", "1")
    assert code == errors.EXIT_INTERRUPTED == 130
    assert "interrupted" in capsys.readouterr().err
    names = sorted(p.name for p in out.iterdir())
    assert names == ["a.saliency.json", "a.saliency.npy", "a.saliency.png", "b.saliency.npy"]
    json.loads((out / "a.saliency.json").read_text())
    assert np.load(out / "b.saliency.npy").shape == (40, 48)
    Image.open(out / "a.saliency.png").verify()


def test_compare_keeps_every_other_image_when_one_breaks_a_method(model_file, images, tmp_path, capsys) -> None:
    out = tmp_path / "c"
    code = main(
        [
            "compare",
            str(images["a"]),
            str(images["white"]),
            str(images["b"]),
            "--model",
            str(model_file),
            "--methods",
            "saliency,random",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 3  # the white image breaks the model: unexpected, so a bug's exit code
    err = capsys.readouterr().err
    for method in ("saliency", "random"):  # explain() itself runs the model once, also for random
        assert f"neuromask compare: {images['white']}: {method}: unexpected " in err
    npy = {p.name for p in out.glob("*.npy")}
    assert npy == {"a.saliency.npy", "b.saliency.npy", "a.random.npy", "b.random.npy"}
    assert (out / "compare.png").exists() and "Failures" in (out / "compare.html").read_text()
    assert not [p for p in out.iterdir() if ".tmp-" in p.name]


def test_pixel_options_follow_the_models_input_size(images, tmp_path) -> None:
    """triangles_squares-cnn takes 32 x 32: occlusion's 32 px window (given for 224 px) would
    cover the whole image; the CLI scales it from the registry unless the user sets it."""
    out = tmp_path / "o"
    assert (
        main(
            [
                "explain",
                str(images["a"]),
                "--model",
                "triangles_squares-cnn",
                "--method",
                "occlusion",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    record = json.loads((out / "a.occlusion.json").read_text())
    assert (record["params"]["window"], record["params"]["stride"]) == (5, 2)  # 32 and 16 x 32 / 224
    assert (
        main(
            [
                "explain",
                str(images["a"]),
                "--model",
                "triangles_squares-cnn",
                "--method",
                "occlusion",
                "--param",
                "window=8",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    assert json.loads((out / "a.occlusion.json").read_text())["params"]["window"] == 8


def test_a_real_ctrl_c_exits_130(model_file, images, tmp_path) -> None:
    """SIGINT to a running `neuromask explain` process: exit status 130, only complete files."""
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "o"
    # Far more than can run before the signal, even on an idle machine (100 ran out once).
    many = [images["a"], images["b"]] * 1000
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "neuromask.cli.main",
            "explain",
            *map(str, many),
            "--model",
            str(model_file),
            "--steps",
            "30",
            "--batch-size",
            "1",
            "--out",
            str(out),
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A test run started in the background (`pytest ... &`) inherits SIGINT ignored, and
        # Python then installs no KeyboardInterrupt handler: give the child the default back.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 180
    while not list(out.glob("*.json")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:  # never leave a 2000-image run behind a failed test
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err[-500:]
    assert "interrupted" in err and "Traceback" not in err
    assert not [p for p in out.iterdir() if ".tmp-" in p.name]
    for js in out.glob("*.json"):
        json.loads(js.read_text())
    for npy in out.glob("*.npy"):
        assert np.load(npy).shape == (40, 48)
