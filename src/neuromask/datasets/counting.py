"""Counting: ``k`` non-overlapping grey discs on a uniform background, labelled by ``k``.

Classes ``"1" .. "max_count"`` (class index = k - 1). The disc radii are random, so that
the total area does not give the count away; discs keep at least one pixel of
background between them so that each stays a separate object; the evidence is every disc.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ._base import DATASETS
from ._draw import grey_levels, place, shape_mask

SIZE = 32
MAX_COUNT = 5
CLASSES = tuple(str(k) for k in range(1, MAX_COUNT + 1))


@DATASETS.register("counting", classes=CLASSES)
def counting(
    rng: np.random.Generator,
    label: int,
    *,
    min_radius: float = 2.0,
    max_radius: float = 4.0,
    contrast: float = 0.25,
) -> tuple[np.ndarray, np.ndarray]:
    """One image (32, 32) float32 with ``label + 1`` discs, and its evidence (32, 32) bool."""
    if not 1.0 <= min_radius <= max_radius <= 5.0:
        raise InputError(f"radii must satisfy 1 <= min_radius <= max_radius <= 5; got {min_radius!r}, {max_radius!r}")
    if not 0.0 < contrast <= 1.0:
        raise InputError(f"contrast must be in (0, 1]; got {contrast!r}")
    while True:
        radii = [float(r) for r in rng.uniform(min_radius, max_radius, size=label + 1)]
        centers = place(rng, radii, SIZE, margin=1.0, gap=2.0)
        if centers is not None:
            break
    mask = np.zeros((SIZE, SIZE), bool)
    for center, radius in zip(centers, radii):
        mask |= shape_mask("circle", center, radius, 0.0, (SIZE, SIZE))
    background, foreground = grey_levels(rng, contrast)
    image = np.where(mask, foreground, background).astype(np.float32)
    return image, mask
