"""The dataset picture grid writes a PNG with one image and one evidence row per dataset."""

from __future__ import annotations

from PIL import Image

from neuromask.viz.datasets import DEFAULT_ROWS, save_dataset_grid


def test_dataset_grid(tmp_path) -> None:
    path = save_dataset_grid(tmp_path / "grid.png", DEFAULT_ROWS[2:], samples=3)
    with Image.open(path) as image:
        width, height = image.size
    assert path.exists() and width > 100 and height > 100
