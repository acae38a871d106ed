"""The one page writer and the one per-image record (neuromask.outputs)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from neuromask.outputs import Cell, Page, explanation_record, image_record, write_image_files
from neuromask.types import Explanation, LoadedModel


def test_a_page_says_the_same_in_markdown_and_html(tmp_path: Path) -> None:
    page = Page("A <title>")
    page.heading(2, "Goals & more")
    page.paragraph("x < y")
    page.items(["one", "two"])
    page.table(["method", "AUROC ↑"], [[Cell("neuromask", bold=True), "0.91"], ["saliency", Cell("0.95", bold=True)]])
    page.image("charts/a.png", "a chart")
    page.preformatted('{"cpu": 2}', markdown="In `machine.json`.")
    md, html = page.write(tmp_path / "r.md", tmp_path / "r.html")
    assert md.read_text() == (
        "# A <title>\n\n## Goals & more\n\nx < y\n\n- one\n- two\n\n| method | AUROC ↑ |\n|---|---|\n"
        "| **neuromask** | 0.91 |\n| saliency | **0.95** |\n\n![a chart](charts/a.png)\n\nIn `machine.json`.\n"
    )
    text = html.read_text()
    assert (
        "<title>A &lt;title&gt;</title>" in text and "<h2>Goals &amp; more</h2>" in text and "<p>x &lt; y</p>" in text
    )
    assert "<td><b>neuromask</b></td><td>0.91</td>" in text and "<td>saliency</td><td><b>0.95</b></td>" in text
    assert "<img src='charts/a.png' alt='a chart'>" in text and "<pre>{&quot;cpu&quot;: 2}</pre>" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "r.md"]  # no temporary file left


def _explanation() -> Explanation:
    return Explanation(
        attribution=torch.rand(2, 4, 5),
        target=torch.tensor([1, 0]),
        method="neuromask",
        params={"steps": 3, "mean": (0.5,), "progress": True},
        probability=torch.tensor([0.75, 0.5]),
        seconds=2.0,
        extras={"masked_probability": torch.tensor([0.25, 0.125]), "mask_mean": torch.tensor([0.5, 0.0625])},
    )


def test_the_record_of_one_image_of_a_batch() -> None:
    model = LoadedModel(torch.nn.Identity(), "tiny", (4, 5), labels=["cat", "dog"])
    record = explanation_record(_explanation(), 1, image="b.png", model=model)
    assert record == {
        "image": "b.png",
        "model": "tiny",
        "method": "neuromask",
        "target": 0,
        "label": "cat",
        "probability": 0.5,
        "masked_probability": 0.125,
        "mask_mean": 0.0625,
        "seconds": 1.0,
        "params": {"steps": 3, "mean": [0.5]},
        "scores": {},
    }
    plain = image_record(
        image="a", model="m", method="saliency", target=3, label="3", probability=0.5, params={}, seconds=0.1
    )
    assert set(plain) == set(record) and plain["masked_probability"] is None


def test_the_files_of_one_image(tmp_path: Path) -> None:
    model = LoadedModel(torch.nn.Identity(), "tiny", (4, 5), labels=["cat", "dog"])
    record = explanation_record(_explanation(), 0, image="a.png", model=model)
    attribution = np.linspace(0, 1, 30, dtype=np.float32).reshape(5, 6)
    picture = np.zeros((5, 6, 3), dtype=np.uint8)
    written = write_image_files(tmp_path, "sub/a.neuromask", picture, attribution, record)
    assert written.npy == tmp_path / "sub" / "a.neuromask.npy"
    np.testing.assert_array_equal(np.load(written.npy), attribution)
    assert json.loads(written.json.read_text()) == record
    assert written.png.read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == [f"a.neuromask.{s}" for s in ("json", "npy", "png")]


def test_an_interrupted_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from neuromask._core import write_text

    def broken(self: Path, text: str, encoding: str | None = None) -> int:
        self.write_bytes(text[:3].encode())
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_text", broken)
    with pytest.raises(KeyboardInterrupt):
        write_text(tmp_path / "r.json", '{"a": 1}')
    assert list(tmp_path.iterdir()) == []
