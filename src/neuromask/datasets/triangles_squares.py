"""Triangles & Squares (Rangelova et al., eScience 2018): one grey triangle or square on a
uniform background.

Two variants, as in the proposal:

* ``oriented``: 32 x 32, a shape of fixed area at a random rotation;
* ``scaled``: 64 x 64, an upright shape (triangle pointing up, square axis-aligned) of
  random area.

In both the position and the two grey levels (object, background, at least
``contrast`` apart, either the brighter) are random, and triangle and square of a sample
have the same area, so that neither size nor brightness tells the classes apart; the
evidence is the whole shape.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ._base import DATASETS
from ._draw import circumradius, grey_levels, place, shape_mask

CLASSES = ("triangle", "square")
VARIANTS = {
    # size, (smallest, largest area in square pixels), random rotation
    "oriented": (32, (144.0, 144.0), True),
    "scaled": (64, (64.0, 1024.0), False),
}


@DATASETS.register("triangles_squares", classes=CLASSES, variants=tuple(VARIANTS))
def triangles_squares(
    rng: np.random.Generator, label: int, *, variant: str = "oriented", contrast: float = 0.25
) -> tuple[np.ndarray, np.ndarray]:
    """One sample of class ``label``: image (H, W) float32 in [0, 1], evidence (H, W) bool."""
    if variant not in VARIANTS:
        raise InputError(f"triangles_squares variant must be one of {', '.join(VARIANTS)}; got {variant!r}")
    if not 0.0 < contrast <= 1.0:
        raise InputError(f"contrast must be in (0, 1]; got {contrast!r}")
    size, (low, high), rotate = VARIANTS[variant]
    shape = CLASSES[label]
    while True:
        radius = circumradius(shape, float(rng.uniform(low, high)))
        # margin 1 keeps the image's border background, which the tests rely on.
        centers = place(rng, [radius], size, margin=1.0, gap=0.0)
        if centers is not None:
            break
    angle = float(rng.uniform(0.0, 2.0 * np.pi)) if rotate else 0.0
    mask = shape_mask(shape, centers[0], radius, angle, (size, size))
    background, foreground = grey_levels(rng, contrast)
    image = np.where(mask, foreground, background).astype(np.float32)
    return image, mask
