"""An attribution over its image, and the mask's evolution during optimisation."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ._figure import new_figure, save_figure


def _as_rgb(image: np.ndarray) -> np.ndarray:
    """(H, W), (H, W, 1) or (H, W, 3) uint8 or float in [0, 1] -> (H, W, 3) float in [0, 1]."""
    img = np.asarray(image)
    img = img.astype(np.float32) / 255.0 if img.dtype == np.uint8 else img.astype(np.float32)
    if img.ndim == 2:
        img = img[..., None]
    if img.shape[-1] == 1:
        img = np.repeat(img, 3, axis=-1)
    return np.asarray(np.clip(img, 0.0, 1.0))


def save_overlay(
    path: str | Path,
    image: np.ndarray,
    attribution: np.ndarray,
    *,
    title: str = "",
    cmap: str = "jet",
    alpha: float = 0.5,
    vmin: float | None = None,
    vmax: float | None = None,
) -> Path:
    """Write the image, and the attribution (H, W) over it with a colour bar, side by side.

    ``vmin``/``vmax`` fix the colour scale (NeuroMask's mask: 0 and 1); by default the
    attribution's own range is used.
    """
    rgb = _as_rgb(image)
    att = np.asarray(attribution, dtype=np.float32)
    if att.shape != rgb.shape[:2]:
        raise ValueError(f"attribution must have the image's size {rgb.shape[:2]}; got {att.shape}")
    fig = new_figure(figsize=(9, 4.4), constrained_layout=True)
    axes = fig.subplots(1, 2)
    axes[0].imshow(rgb)
    axes[0].set_title("input")
    axes[1].imshow(rgb)
    shown = axes[1].imshow(att, cmap=cmap, alpha=alpha, vmin=vmin, vmax=vmax)
    axes[1].set_title(title)
    fig.colorbar(shown, ax=axes[1], fraction=0.046, pad=0.04)
    for ax in axes:
        ax.axis("off")
    path = Path(path)
    save_figure(fig, path, dpi=100)
    return path


def save_evolution(
    path: str | Path,
    image: np.ndarray,
    history: np.ndarray,
    steps: Sequence[int],
    *,
    cmap: str = "jet",
    max_panels: int = 8,
) -> Path:
    """Write the mask's evolution (the paper's Figure 4): masks (K, H, W) at ``steps``.

    Panels show the image multiplied by the mask, with the mask's step above each; at
    most ``max_panels`` evenly spaced snapshots (always the first and the last).
    """
    history = np.asarray(history, dtype=np.float32)
    rgb = _as_rgb(image)
    k = history.shape[0]
    picks = np.unique(np.linspace(0, k - 1, min(k, max_panels)).round().astype(int))
    fig = new_figure(figsize=(2.2 * len(picks), 4.6), constrained_layout=True)
    axes = fig.subplots(2, len(picks), squeeze=False)
    for col, i in enumerate(picks):
        mask = history[i]
        axes[0, col].imshow(mask, cmap=cmap, vmin=0.0, vmax=1.0)
        axes[0, col].set_title(f"step {int(steps[i])}")
        axes[1, col].imshow(rgb * mask[..., None])
        for row in range(2):
            axes[row, col].axis("off")
    axes[0, 0].set_ylabel("mask")
    path = Path(path)
    save_figure(fig, path, dpi=90)
    return path
