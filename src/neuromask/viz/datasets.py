"""A picture grid of dataset samples with their ground-truth evidence."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..datasets import DATASETS, generate
from ._figure import new_figure, save_figure


def dataset_rows() -> tuple[tuple[str, str, dict[str, Any]], ...]:
    """What docs/datasets.png shows, read from the registry: (title, dataset name, options),
    one row per registered dataset, or per variant of a dataset that registers variants."""
    rows: list[tuple[str, str, dict[str, Any]]] = []
    for entry in DATASETS:
        variants = entry.meta.get("variants")
        if variants:
            rows += [(f"{entry.name} ({v})", entry.name, {"variant": v}) for v in variants]
        else:
            rows.append((entry.name, entry.name, {}))
    return tuple(rows)


DEFAULT_ROWS = dataset_rows()


def save_dataset_grid(
    path: str | Path,
    rows: Sequence[tuple[str, str, dict[str, Any]]] = DEFAULT_ROWS,
    *,
    samples: int = 6,
    seed: int = 0,
) -> Path:
    """Write a grid: for each dataset a row of ``samples`` images (titled with their class)
    and under it a row of their evidence masks (white = evidence, outlined in red on the image).

    Args:
        path: the image file to write (PNG by its suffix).
        rows: (title, dataset name, options) per dataset.
        samples: samples per dataset; with labels cycling through the classes, every class
            shows when ``samples`` is at least the number of classes.
        seed: the datasets' seed.
    """
    path = Path(path)
    fig = new_figure(figsize=(1.5 * samples, 3.1 * len(rows)))
    axes = fig.subplots(2 * len(rows), samples, squeeze=False)
    for r, (title, name, options) in enumerate(rows):
        data = generate(name, samples, seed=seed, **options)
        for i in range(samples):
            image = data.images[i, 0].numpy()
            evidence = data.evidence[i].numpy()
            top, bottom = axes[2 * r, i], axes[2 * r + 1, i]
            top.imshow(image, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            top.contour(evidence.astype(np.float32), levels=[0.5], colors="red", linewidths=0.8)
            top.set_title(data.class_names[int(data.labels[i])], fontsize=8)
            bottom.imshow(evidence, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            for ax in (top, bottom):
                ax.set_xticks([])
                ax.set_yticks([])
        axes[2 * r, 0].set_ylabel(title, fontsize=8)
        axes[2 * r + 1, 0].set_ylabel("evidence", fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    return path
