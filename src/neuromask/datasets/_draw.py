"""Drawing helpers shared by the generators.

Every object is rasterised as a hard boolean mask first and the image is painted from
the masks, so that the evidence is exactly the set of pixels the object changed.
Coordinates are (row, col) in pixels, pixel centres at integer positions.
"""

from __future__ import annotations

import math

import numpy as np
from skimage.draw import polygon2mask

# Shapes a generator can draw, by class name: number of polygon corners (0 = a disc).
CORNERS = {"triangle": 3, "square": 4, "circle": 0}


def circumradius(shape: str, area: float) -> float:
    """Radius of the circle around ``shape`` when the shape covers ``area`` square pixels.

    Drawing every class at the same area keeps the size from telling the classes apart.
    """
    corners = CORNERS[shape]
    if corners == 0:
        return math.sqrt(area / math.pi)
    # A regular n-gon of circumradius R has area n/2 * R^2 * sin(2 pi / n).
    return math.sqrt(2.0 * area / (corners * math.sin(2.0 * math.pi / corners)))


def shape_mask(
    shape: str, center: tuple[float, float], radius: float, angle: float, size: tuple[int, int]
) -> np.ndarray:
    """The (H, W) bool mask of ``shape`` with the given centre, circumradius and rotation (radians)."""
    corners = CORNERS[shape]
    rows, cols = np.mgrid[: size[0], : size[1]]
    if corners == 0:
        disc: np.ndarray = (rows - center[0]) ** 2 + (cols - center[1]) ** 2 <= radius**2
        return disc
    # The first corner points up (towards row 0) at angle 0.
    theta = angle + np.arange(corners) * 2.0 * np.pi / corners
    vertices = np.stack([center[0] - radius * np.cos(theta), center[1] + radius * np.sin(theta)], axis=1)
    polygon: np.ndarray = polygon2mask(size, vertices)
    return polygon


def grey_levels(rng: np.random.Generator, contrast: float) -> tuple[float, float]:
    """A uniform background and object grey level in [0, 1] at least ``contrast`` apart.

    Either may be the brighter, so that brightness alone does not give the class away.
    """
    while True:
        background, foreground = rng.uniform(0.0, 1.0, size=2)
        if abs(foreground - background) >= contrast:
            return float(background), float(foreground)


def place(
    rng: np.random.Generator, radii: list[float], size: int, *, margin: float, gap: float, tries: int = 200
) -> list[tuple[float, float]] | None:
    """Random centres for discs of the given radii, inside the image and apart from each other.

    Each disc keeps ``margin`` pixels from the border and ``gap`` pixels from every other
    disc, so that objects drawn inside the discs never touch. Returns ``None`` when
    ``tries`` random draws per disc are not enough (the caller then draws new radii).
    """
    centers: list[tuple[float, float]] = []
    for radius in radii:
        low, high = radius + margin, size - 1 - radius - margin
        if low > high:
            return None
        for _ in range(tries):
            c = (float(rng.uniform(low, high)), float(rng.uniform(low, high)))
            if all(math.dist(c, o) >= radius + r + gap for o, r in zip(centers, radii)):
                centers.append(c)
                break
        else:
            return None
    return centers
