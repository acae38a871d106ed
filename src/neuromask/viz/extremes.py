"""A method's best and worst images on a metric: the map over each image, the object outlined."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._figure import new_figure, save_figure
from .grid import normalise_for_display
from .overlay import _as_rgb


@dataclass(frozen=True)
class Panel:
    """One picture: the image (H, W[, 3]), its map (H, W), the object mask (H, W) bool or None, a caption."""

    image: np.ndarray
    attribution: np.ndarray
    mask: np.ndarray | None
    caption: str


def extremes_figure(path: str | Path, title: str, panels: Sequence[Panel], *, cmap: str = "jet") -> Path:
    """Write one row of panels (e.g. the two best, then the two worst images of a method).

    Every map is shown by the same display rule (:func:`normalise_for_display`) over a
    greyed copy of its image, with the object's outline in white where there is one.
    """
    fig = new_figure(figsize=(2.4 * max(1, len(panels)), 2.9), constrained_layout=True)
    axes = np.atleast_1d(fig.subplots(1, max(1, len(panels))))
    for ax, panel in zip(axes, panels):
        rgb = _as_rgb(panel.image)
        ax.imshow(rgb.mean(axis=2), cmap="gray", vmin=0.0, vmax=1.0)
        ax.imshow(normalise_for_display(panel.attribution), cmap=cmap, alpha=0.55, vmin=0.0, vmax=1.0)
        if panel.mask is not None and panel.mask.any() and not panel.mask.all():
            ax.contour(panel.mask.astype(np.float32), levels=[0.5], colors="white", linewidths=1.0)
        ax.set_title(panel.caption, fontsize=7)
        ax.axis("off")
    for ax in axes[len(panels) :]:
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path, dpi=90)
