"""Shapes on texture: one bright shape defines the class; grey distractor shapes of the
other classes and a textured background make up the clutter.

Classes: triangle, square, circle. The class-defining shape is the only one painted in
the bright range [0.85, 1]; the distractors (``distractors`` of them, of the other
classes, same size range) are mid grey [0.5, 0.7]; the background is a random mix of two
sine gratings plus pixel noise in [0.05, 0.45]. The evidence is the class-defining shape
only, so a method that highlights every object or every edge scores badly. Shapes never
touch, so the class shape is always whole.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ._base import DATASETS
from ._draw import circumradius, place, shape_mask

SIZE = 48
CLASSES = ("triangle", "square", "circle")
# Grey ranges: texture, distractors and the class shape never share a value, so the
# evidence is exactly the pixels brighter than TARGET_LEVELS[0].
TEXTURE_LEVELS = (0.05, 0.45)
DISTRACTOR_LEVELS = (0.5, 0.7)
TARGET_LEVELS = (0.85, 1.0)
AREA = (60.0, 140.0)


def _texture(rng: np.random.Generator) -> np.ndarray:
    """(SIZE, SIZE) float texture in TEXTURE_LEVELS: two random gratings plus noise."""
    rows, cols = np.mgrid[:SIZE, :SIZE].astype(np.float64)
    texture = np.zeros((SIZE, SIZE))
    for _ in range(2):
        angle = rng.uniform(0.0, np.pi)
        period = rng.uniform(3.0, 10.0)
        phase = rng.uniform(0.0, 2.0 * np.pi)
        texture += np.sin(2.0 * np.pi * (rows * np.cos(angle) + cols * np.sin(angle)) / period + phase)
    texture = texture / 4.0 + 0.5 + rng.normal(0.0, 0.08, size=texture.shape)
    low, high = TEXTURE_LEVELS
    return low + (high - low) * np.clip(texture, 0.0, 1.0)


@DATASETS.register("shapes_on_texture", classes=CLASSES)
def shapes_on_texture(rng: np.random.Generator, label: int, *, distractors: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """One image (48, 48) float32 whose bright shape is of class ``label``; evidence (48, 48) bool."""
    if isinstance(distractors, bool) or not isinstance(distractors, int) or not 0 <= distractors <= 6:
        raise InputError(f"distractors must be an integer in 0 .. 6; got {distractors!r}")
    others = [c for i, c in enumerate(CLASSES) if i != label]
    shapes = [CLASSES[label]] + [others[int(k)] for k in rng.integers(0, len(others), size=distractors)]
    while True:
        radii = [circumradius(s, float(rng.uniform(*AREA))) for s in shapes]
        centers = place(rng, radii, SIZE, margin=1.0, gap=2.0)
        if centers is not None:
            break
    image = _texture(rng)
    evidence = np.zeros((SIZE, SIZE), bool)
    for i, (shape, center, radius) in enumerate(zip(shapes, centers, radii)):
        mask = shape_mask(shape, center, radius, float(rng.uniform(0.0, 2.0 * np.pi)), (SIZE, SIZE))
        image[mask] = rng.uniform(*(TARGET_LEVELS if i == 0 else DISTRACTOR_LEVELS))
        if i == 0:
            evidence = mask
    return image.astype(np.float32), evidence
