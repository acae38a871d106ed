"""Write a known-answer dataset as image files, for any tool that reads folders (``neuromask evaluate``).

``write_folder("cells", 120, "data/cells", start=2_000_000_000)`` writes
``data/cells/images/<class>/<index>.png`` (an ImageFolder layout: the class is the folder)
and the evidence masks at the same relative paths under ``data/cells/masks/`` (255 =
evidence), which is what ``neuromask evaluate --masks`` reads. 8-bit PNG: the pixels are
the generator's, rounded to 1/255.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .._core import atomic_path
from ._base import stream


def write_folder(
    name: str, n: int, out: str | os.PathLike[str], *, seed: int = 0, start: int = 0, **options: Any
) -> list[str]:
    """Write samples ``start .. start + n - 1`` of dataset ``name`` into ``out/images`` and ``out/masks``.

    Args:
        name: a registered dataset; ``options`` are its options.
        n, seed, start: which samples (as :func:`neuromask.datasets.generate` draws them);
            a ``start`` beyond the samples a model was trained and tested on gives held-out images.
        out: the folder to write into.

    Returns:
        The images' IDs (``<class>/<index>.png``), in order.
    """
    out = Path(out)
    ids: list[str] = []
    for chunk in stream(name, n, seed=seed, start=start, batch_size=64, **options):
        for i in range(len(chunk)):
            index = start + len(ids)
            rel = f"{chunk.class_names[int(chunk.labels[i])]}/{index}.png"
            pixels = (chunk.images[i].numpy() * 255).round().astype(np.uint8)
            image = pixels[0] if pixels.shape[0] == 1 else pixels.transpose(1, 2, 0)
            mask = chunk.evidence[i].numpy().astype(np.uint8) * 255
            for folder, array in (("images", image), ("masks", mask)):
                path = out / folder / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                with atomic_path(path) as tmp:
                    Image.fromarray(array).save(tmp)
            ids.append(rel)
    return ids
