"""Grad-CAM on the shipped ViTs beside their CNN twins, one held-out image per dataset.

Draws ``docs/vit_gradcam.png``: per known-answer dataset, the first benchmark image
(drawn after the ViT's training and test samples), its evidence (the pixels that define
the class), and Grad-CAM's map for the target class on ``<dataset>-vit`` (the token grid
of its last LayerNorm, 4 x 4 or 6 x 6 cells) and on ``<dataset>-cnn`` (its last
convolution). Prints, per map, the share of the positive map inside the evidence (the
energy pointing game). Usage: ``python benchmarks/vit_gradcam_picture.py``.
"""

from __future__ import annotations

from pathlib import Path

import torch

import neuromask
from neuromask import datasets
from neuromask.viz.grid import comparison_grid

DATASETS = ("triangles_squares", "counting", "shapes_on_texture")
TITLES = {"vit": "ViT", "cnn": "CNN"}
OUT = Path(__file__).resolve().parents[1] / "docs" / "vit_gradcam.png"


def main() -> None:
    torch.set_num_threads(1)
    images, labels, maps = [], [], []
    for name in DATASETS:
        vit = neuromask.load_model(f"{name}-vit")
        record = vit.extra["record"]
        start = int(record["samples"]) + int(record["test_samples"])
        data = datasets.generate(name, 1, seed=int(record["seed"]), start=start, **record["options"])
        target = data.labels
        row = {"evidence": data.evidence[0].float().numpy()}
        for arch in ("vit", "cnn"):
            model = vit if arch == "vit" else neuromask.load_model(f"{name}-cnn")
            e = neuromask.explain(model, data.images, target=target, method="gradcam")
            cam = e.attribution[0]
            energy = float(cam.clamp(min=0)[data.evidence[0]].sum() / cam.clamp(min=0).sum().clamp(min=1e-12))
            print(f"{name}-{arch}: layer {e.extras['layer']} ({e.extras.get('grid', 'nchw')}), energy {energy:.2f}")
            row[f"Grad-CAM, {TITLES[arch]}"] = cam.numpy()
        images.append(data.images[0, 0].numpy())
        labels.append(f"{name}: {vit.label(int(target[0]))}")
        maps.append(row)
    comparison_grid(OUT, images, labels, ["evidence", *(f"Grad-CAM, {t}" for t in TITLES.values())], maps, cell=1.6)
    print(f"-> {OUT}")


if __name__ == "__main__":
    main()
