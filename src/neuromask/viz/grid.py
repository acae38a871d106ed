"""The side-by-side comparison figure (the NeuroMask paper's Figure 3): one row per image,
its picture and predicted label first, then one column per method."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ._figure import new_figure, save_figure
from .overlay import _as_rgb


def normalise_for_display(attribution: np.ndarray, percentile: float = 99.0) -> np.ndarray:
    """One rule for every method's map (H, W) -> [0, 1]: map the (100 - ``percentile``)-th
    percentile to 0 and the ``percentile``-th to 1, clip to [0, 1].

    The percentiles keep a few extreme pixels (common in gradient maps, at both ends of
    signed maps such as integrated gradients') from washing out the rest; signed maps keep
    their order, negative evidence at the dark end. A constant map shows as 0.
    """
    values = np.asarray(attribution, dtype=np.float64)
    low = float(np.percentile(values, 100.0 - percentile))
    high = float(np.percentile(values, percentile))
    if high <= low:
        high = float(values.max())
    if high <= low:
        return np.zeros(values.shape, dtype=np.float32)
    return np.clip((values - low) / (high - low), 0.0, 1.0).astype(np.float32)


def comparison_grid(
    path: str | Path,
    images: Sequence[np.ndarray],
    labels: Sequence[str],
    methods: Sequence[str],
    maps: Sequence[Mapping[str, np.ndarray | None]],
    *,
    seconds: Mapping[str, float] | None = None,
    cmap: str = "jet",
    cell: float = 1.9,
) -> Path:
    """Write the comparison grid as a PNG.

    Args:
        path: the PNG to write.
        images: one picture per row, (H, W, 3) or (H, W), uint8 or float in [0, 1].
        labels: the first column's title per row (e.g. "tabby (0.57)").
        methods: the column order.
        maps: per row, method -> map (H, W) at the picture's size, or ``None`` where the
            method failed (the cell then says so).
        seconds: method -> seconds per image, shown under the column titles.
        cmap: the colour map of every map, each normalised by :func:`normalise_for_display`.
        cell: the side of one cell in inches.

    Returns:
        ``path``.
    """
    if not (len(images) == len(labels) == len(maps)):
        raise ValueError(
            f"images, labels and maps must have one entry per row; got {len(images)}, {len(labels)}, {len(maps)}"
        )
    rows, cols = len(images), 1 + len(methods)
    fig = new_figure(figsize=(cell * cols, cell * rows + 0.4))
    axes = fig.subplots(rows, cols, squeeze=False)
    for r, (image, label, row_maps) in enumerate(zip(images, labels, maps)):
        axes[r, 0].imshow(_as_rgb(image))
        axes[r, 0].set_title(label, fontsize=8)
        for c, method in enumerate(methods, start=1):
            ax = axes[r, c]
            att = row_maps.get(method)
            if att is None:
                ax.text(0.5, 0.5, "failed", ha="center", va="center", fontsize=8, transform=ax.transAxes)
            else:
                ax.imshow(normalise_for_display(att), cmap=cmap, vmin=0.0, vmax=1.0)
            if r == 0:
                title = method.replace("_", " ")
                if seconds is not None and method in seconds:
                    title += f"\n{seconds[method]:.2f} s"
                ax.set_title(title, fontsize=8)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    path = Path(path)
    save_figure(fig, path, dpi=100)
    return path
