"""Cells: a grey microscopy-like field of cells, labelled by how many of them are infected.

Each image (64 x 64) shows ``cells`` cells on a noisy background: an uneven illumination,
pixel noise and dark debris specks. A cell is an ellipse with a darker membrane and a
darker nucleus. One or two of the cells are *infected*: each carries a parasite, a small
dark ring inside its cytoplasm (as a ring-stage malaria parasite in a blood smear). The
class is the number of infected cells (``one``, ``two``); the evidence is the infected
cells, whole. What an explanation must find is therefore a property of a cell, among
cells that look alike otherwise and debris that is as dark as the parasites.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ._base import DATASETS
from ._draw import place

SIZE = 64
CLASSES = ("one", "two")
# Grey levels (before noise): background, cytoplasm, membrane, nucleus, parasite, debris.
BACKGROUND = 0.40
CYTOPLASM = (0.62, 0.72)
MEMBRANE = 0.50
NUCLEUS = (0.44, 0.50)
PARASITE = 0.12
DEBRIS = 0.18
RADIUS = (6.0, 8.5)  # the cell's semi-major axis, pixels


def _ellipse(shape: tuple[int, int], centre: tuple[float, float], a: float, b: float, angle: float) -> np.ndarray:
    """The (H, W) bool mask of an ellipse with semi-axes a (along ``angle``) and b."""
    rows, cols = np.mgrid[: shape[0], : shape[1]].astype(np.float64)
    dy, dx = rows - centre[0], cols - centre[1]
    u = dx * np.cos(angle) + dy * np.sin(angle)
    v = -dx * np.sin(angle) + dy * np.cos(angle)
    inside: np.ndarray = (u / a) ** 2 + (v / b) ** 2 <= 1.0
    return inside


def _ring(shape: tuple[int, int], centre: tuple[float, float], radius: float) -> np.ndarray:
    rows, cols = np.mgrid[: shape[0], : shape[1]].astype(np.float64)
    distance = np.hypot(rows - centre[0], cols - centre[1])
    ring: np.ndarray = np.abs(distance - radius) <= 0.6
    return ring


@DATASETS.register("cells", classes=CLASSES)
def cells(
    rng: np.random.Generator, label: int, *, cells: int = 6, noise: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """One image (64, 64) float32 with ``label + 1`` infected cells among ``cells``, and their evidence."""
    if isinstance(cells, bool) or not isinstance(cells, int) or not 3 <= cells <= 8:
        raise InputError(f"cells must be an integer in 3 .. 8; got {cells!r}")
    if not 0.0 <= noise <= 0.2:
        raise InputError(f"noise must be in [0, 0.2]; got {noise!r}")
    shape = (SIZE, SIZE)
    while True:
        radii = [float(r) for r in rng.uniform(*RADIUS, size=cells)]
        centres = place(rng, radii, SIZE, margin=1.0, gap=1.5)
        if centres is not None:
            break
    rows, cols = np.mgrid[:SIZE, :SIZE].astype(np.float64) / SIZE
    tilt = rng.uniform(-0.08, 0.08, size=2)
    image = BACKGROUND + tilt[0] * (rows - 0.5) + tilt[1] * (cols - 0.5)
    for _ in range(int(rng.integers(6, 12))):  # debris: small dark specks
        centre = (float(rng.uniform(0, SIZE)), float(rng.uniform(0, SIZE)))
        image[_ellipse(shape, centre, rng.uniform(0.8, 1.5), rng.uniform(0.8, 1.5), 0.0)] = DEBRIS
    infected = set(rng.choice(cells, size=label + 1, replace=False).tolist())
    evidence = np.zeros(shape, bool)
    for k, (centre, a) in enumerate(zip(centres, radii)):
        b = a * rng.uniform(0.7, 1.0)
        angle = rng.uniform(0, np.pi)
        body = _ellipse(shape, centre, a, b, angle)
        inner = _ellipse(shape, centre, a - 1.0, b - 1.0, angle)
        image[body] = MEMBRANE
        image[inner] = rng.uniform(*CYTOPLASM)
        # The nucleus sits off-centre; the parasite, if any, on the other side of the cell.
        side = rng.uniform(0, 2 * np.pi)
        offset = np.array([np.sin(side), np.cos(side)])
        nucleus = centre + 0.3 * b * offset
        image[_ellipse(shape, tuple(nucleus), 0.33 * a, 0.28 * a, angle) & inner] = rng.uniform(*NUCLEUS)
        if k in infected:
            spot = centre - 0.45 * b * offset
            image[_ring(shape, tuple(spot), rng.uniform(1.3, 1.9)) & inner] = PARASITE
            evidence |= body
    image = image + rng.normal(0.0, noise, size=shape)
    return np.clip(image, 0.0, 1.0).astype(np.float32), evidence
