"""``neuromask compare``: the grid, the page and every map, with a method that fails."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from explainers._fixtures import one_thread  # noqa: F401 - autouse fixture
from neuromask.cli.main import main
from neuromask.viz.grid import normalise_for_display

NET = """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 5, stride=4)
        self.act = nn.SiLU()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(self.act(self.conv(x)).mean(dim=(2, 3)))
"""


@pytest.fixture
def setup(tmp_path: Path) -> tuple[str, list[Path]]:
    (tmp_path / "net.py").write_text(NET)
    import importlib.util

    spec = importlib.util.spec_from_file_location("net_for_compare", tmp_path / "net.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(0)
    torch.save(module.Net().state_dict(), tmp_path / "net.pt")
    photos = []
    for i, size in enumerate([(60, 80), (90, 70)]):
        pixels = np.random.default_rng(i).integers(0, 255, size + (3,), dtype=np.uint8)
        photos.append(tmp_path / f"photo{i}.png")
        Image.fromarray(pixels).save(photos[-1])
    return f"{tmp_path / 'net.pt'}@{tmp_path / 'net.py'}:Net", photos


def test_compare_writes_grid_page_and_maps(setup: tuple[str, list[Path]], tmp_path: Path) -> None:
    spec, photos = setup
    out = tmp_path / "out"
    code = main(
        [
            "compare",
            *map(str, photos),
            "--model",
            spec,
            "--methods",
            "saliency,gradcam,guided_backprop,center",
            "--param",
            "gradcam.upsample=nearest",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 1  # guided backprop refuses the SiLU network; everything else is written
    assert (out / "compare.png").stat().st_size > 0
    page = (out / "compare.html").read_text()
    assert "saliency" in page and "failed" in page and "SiLU" in page
    for photo, size in zip(photos, [(60, 80), (90, 70)]):
        for method in ("saliency", "gradcam", "center"):
            assert np.load(out / f"{photo.stem}.{method}.npy").shape == size
        assert not (out / f"{photo.stem}.guided_backprop.npy").exists()


def test_compare_rejects_unknown_methods(setup: tuple[str, list[Path]], tmp_path: Path) -> None:
    spec, photos = setup
    assert main(["compare", str(photos[0]), "--model", spec, "--methods", "saliency,nope", "--out", str(tmp_path)]) == 2


def test_display_normalisation_is_the_same_rule_for_every_map() -> None:
    a = np.arange(100, dtype=np.float32).reshape(10, 10)
    shown = normalise_for_display(a)
    assert shown.min() == 0 and shown.max() == 1
    assert np.allclose(normalise_for_display(3 * a - 7), shown)  # invariant to scale and shift
    assert not normalise_for_display(np.ones((4, 4))).any()


def test_compare_all_skips_a_method_that_refuses_the_model(
    setup: tuple[str, list[Path]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--methods all`` asks for what applies: guided backprop's refusal of the SiLU
    network is one 'skipped' line, like a missing extra, and the exit status is 0."""
    import neuromask

    spec, photos = setup
    out = tmp_path / "all"
    fast = [f"{m}.preset=fast" for m in neuromask.methods(available=True) if "fast" in neuromask.method_info(m).presets]
    args = ["compare", str(photos[0]), "--model", spec, "--methods", "all", "--out", str(out), "--quiet"]
    assert main(args + [a for p in fast for a in ("--param", p)]) == 0
    err = capsys.readouterr().err
    assert "neuromask compare: skipped guided_backprop (cannot explain this model: guided backprop" in err
    assert not (out / f"{photos[0].stem}.guided_backprop.npy").exists()
    assert (out / f"{photos[0].stem}.saliency.npy").exists()
    assert "guided_backprop" not in (out / "compare.html").read_text()
