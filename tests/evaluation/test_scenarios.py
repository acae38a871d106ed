"""The domain scenarios end to end, in miniature: `neuromask dataset` writes images and masks,
`neuromask train` trains a model (grey cells, RGB settlements), `neuromask evaluate` scores it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import neuromask
from helpers import one_thread  # noqa: F401 (autouse fixture)
from neuromask import datasets
from neuromask.cli.main import main
from neuromask.evaluation import read_scores


@pytest.mark.parametrize(("name", "channels"), [("cells", 1), ("settlements", 3)])
def test_dataset_train_evaluate(name: str, channels: int, tmp_path: Path) -> None:
    assert main(["dataset", name, "--n", "4", "--start", "1000", "--out", str(tmp_path / "data")]) == 0
    expected = datasets.generate(name, 4, start=1000)
    ids = sorted(
        p.relative_to(tmp_path / "data" / "images").as_posix() for p in (tmp_path / "data").rglob("images/*/*")
    )
    assert len(ids) == 4
    for rel in ids:
        index = int(Path(rel).stem) - 1000
        assert Path(rel).parent.name == expected.class_names[int(expected.labels[index])]
        mask = np.asarray(Image.open(tmp_path / "data" / "masks" / rel)) > 0
        assert np.array_equal(mask, expected.evidence[index].numpy())
        pixels = np.asarray(Image.open(tmp_path / "data" / "images" / rel), np.float32) / 255
        reference = expected.images[index].numpy()
        reference = reference[0] if channels == 1 else reference.transpose(1, 2, 0)
        assert np.abs(pixels - reference).max() <= 0.5 / 255 + 1e-6

    weights = tmp_path / f"{name}-cnn.pt"
    train = ["train", "--dataset", name, "--arch", "cnn", "--samples", "32", "--test-samples", "8", "--epochs", "1",
             "--width", "4", "--out", str(weights)]  # fmt: skip
    assert main(train) == 0
    model = neuromask.load_model(str(weights))
    assert model.channels == channels and model.input_size == (64, 64) and model.labels == expected.class_names

    out = tmp_path / "eval"
    argv = ["evaluate", str(tmp_path / "data" / "images"), "--model", str(weights), "--methods", "saliency,gradcam",
            "--masks", str(tmp_path / "data" / "masks"), "--metrics", "energy,eq_iou,deletion", "--target", "class",
            "--out", str(out), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    rows = read_scores(out).to_pylist()
    assert len(rows) == 4 * 2 * 3 and all(r["status"] == "ok" for r in rows)
    assert "Use **" in (out / "report.md").read_text()
