"""Settlements: RGB aerial-like tiles, labelled by the layout of the one settlement they hold.

Each tile (64 x 64, RGB) is land seen from above: a smooth mix of vegetation and bare
soil with pixel noise, a road across it, trees, a few isolated houses, and one settlement.
The class is the settlement's layout, the question of slum mapping from satellite images
(Kuffer, Pfeffer and Sliuzas, 2016): ``planned`` (a regular grid of equal roofs of one
colour, regularly spaced) or ``informal`` (small roofs of mixed sizes and materials,
densely and irregularly packed). The evidence is the settlement's footprint, the
rectangle its roofs fill (as settlements are outlined in maps), not the isolated houses,
whose roofs come from both palettes.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ._base import DATASETS

SIZE = 64
CLASSES = ("planned", "informal")
VEGETATION = np.array([0.30, 0.45, 0.20])
SOIL = np.array([0.60, 0.52, 0.38])
ROAD = np.array([0.45, 0.45, 0.47])
TREE = np.array([0.12, 0.28, 0.10])
# Roof materials: planned estates use one of the first two; informal roofs mix the last four.
ROOFS = np.array(
    [
        [0.72, 0.30, 0.22],  # clay tile
        [0.85, 0.85, 0.82],  # white concrete
        [0.62, 0.64, 0.66],  # corrugated metal
        [0.55, 0.33, 0.20],  # rusted metal
        [0.25, 0.40, 0.70],  # blue tarpaulin
        [0.45, 0.38, 0.30],  # scrap wood
    ]
)


def _smooth_field(rng: np.random.Generator) -> np.ndarray:
    """(SIZE, SIZE) in [0, 1]: a few random low-frequency waves, how soil and vegetation mix."""
    rows, cols = np.mgrid[:SIZE, :SIZE].astype(np.float64) / SIZE
    field = np.zeros((SIZE, SIZE))
    for _ in range(3):
        angle, freq, phase = rng.uniform(0, np.pi), rng.uniform(0.7, 2.2), rng.uniform(0, 2 * np.pi)
        field += np.sin(2 * np.pi * freq * (rows * np.cos(angle) + cols * np.sin(angle)) + phase)
    return np.clip(field / 6 + 0.5, 0, 1)


def _roof(image: np.ndarray, top: int, left: int, h: int, w: int, colour: np.ndarray) -> None:
    image[top : top + h, left : left + w] = colour


def _planned(rng: np.random.Generator, image: np.ndarray, top: int, left: int, h: int, w: int) -> None:
    colour = ROOFS[int(rng.integers(0, 2))] * rng.uniform(0.92, 1.05)
    size = int(rng.integers(3, 5))
    gap = int(rng.integers(2, 4))
    for y in range(top, top + h - size + 1, size + gap):
        for x in range(left, left + w - size + 1, size + gap):
            _roof(image, y, x, size, size, colour)


def _informal(rng: np.random.Generator, image: np.ndarray, top: int, left: int, h: int, w: int) -> None:
    for _ in range(int(h * w / 6)):
        rh, rw = int(rng.integers(2, 5)), int(rng.integers(2, 5))
        y, x = int(rng.integers(top, top + h - rh + 1)), int(rng.integers(left, left + w - rw + 1))
        _roof(image, y, x, rh, rw, ROOFS[int(rng.integers(2, 6))] * rng.uniform(0.85, 1.1))


@DATASETS.register("settlements", classes=CLASSES)
def settlements(
    rng: np.random.Generator, label: int, *, houses: int = 3, noise: float = 0.03
) -> tuple[np.ndarray, np.ndarray]:
    """One tile (64, 64, 3) float32 whose settlement is ``planned`` (0) or ``informal`` (1); evidence (64, 64)."""
    if isinstance(houses, bool) or not isinstance(houses, int) or not 0 <= houses <= 8:
        raise InputError(f"houses must be an integer in 0 .. 8; got {houses!r}")
    if not 0.0 <= noise <= 0.2:
        raise InputError(f"noise must be in [0, 0.2]; got {noise!r}")
    mix = _smooth_field(rng)[..., None]
    image = mix * VEGETATION + (1 - mix) * SOIL
    # A road across the tile, at any angle.
    rows, cols = np.mgrid[:SIZE, :SIZE].astype(np.float64)
    angle, offset = rng.uniform(0, np.pi), rng.uniform(-SIZE / 4, SIZE / 4)
    distance = (rows - SIZE / 2) * np.cos(angle) - (cols - SIZE / 2) * np.sin(angle) - offset
    image[np.abs(distance) <= 1.5] = ROAD
    h, w = int(rng.integers(20, 29)), int(rng.integers(20, 29))
    top, left = int(rng.integers(1, SIZE - h)), int(rng.integers(1, SIZE - w))
    # Trees and isolated houses outside the settlement (a margin of 2 px around it).
    near = np.zeros((SIZE, SIZE), bool)
    near[max(0, top - 2) : top + h + 2, max(0, left - 2) : left + w + 2] = True
    for _ in range(int(rng.integers(4, 9))):
        y, x = rng.uniform(0, SIZE, size=2)
        crown = (rows - y) ** 2 + (cols - x) ** 2 <= rng.uniform(1.5, 3.0) ** 2
        image[crown & ~near] = TREE * rng.uniform(0.8, 1.2)
    placed = 0
    for _ in range(50 * (houses + 1)):
        if placed == houses:
            break
        rh, rw = int(rng.integers(3, 6)), int(rng.integers(3, 6))
        y, x = int(rng.integers(0, SIZE - rh)), int(rng.integers(0, SIZE - rw))
        if near[y : y + rh, x : x + rw].any():
            continue
        _roof(image, y, x, rh, rw, ROOFS[int(rng.integers(0, 6))])
        placed += 1
    settlement = np.full_like(image, np.nan)
    (_planned if label == 0 else _informal)(rng, settlement, top, left, h, w)
    roofs = ~np.isnan(settlement[..., 0])
    image[roofs] = settlement[roofs]
    # The footprint: the rectangle the settlement's roofs fill.
    ys, xs = np.nonzero(roofs)
    footprint = np.zeros((SIZE, SIZE), bool)
    footprint[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1] = True
    image = image + rng.normal(0.0, noise, size=image.shape)
    return np.clip(image, 0.0, 1.0).astype(np.float32), footprint
