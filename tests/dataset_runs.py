"""What the dataset-run tests and benchmarks share: PNG folders and WebDataset shards drawn from a
known-answer dataset (import as `from dataset_runs import ...`)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

from neuromask import datasets

MODEL = "triangles_squares-cnn"


def write_image_folder(root: Path, n: int, *, start: int = 1_000_000, masks: Path | None = None) -> list[str]:
    """``n`` held-out triangles_squares images as ``root/<class>/<i>.png`` (and, with ``masks``,
    their evidence masks at the same relative paths there); returns their IDs, sorted."""
    data = datasets.generate("triangles_squares", n, seed=0, start=start)
    ids = []
    for i in range(n):
        rel = f"{data.class_names[int(data.labels[i])]}/{start + i}.png"
        pictures = [(root, data.images[i, 0].numpy())]
        if masks is not None:
            pictures.append((masks, data.evidence[i].numpy().astype(np.float32)))
        for folder, values in pictures:
            path = folder / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray((values * 255).round().astype(np.uint8)).save(path)
        ids.append(rel)
    return sorted(ids)


def write_shards(folder: Path, image_folder: Path, per_shard: int) -> list[tuple[str, str, bytes]]:
    """WebDataset shards of the folder's images: ``<key>.png`` and ``<key>.cls`` per sample.

    Returns (shard name, key, png bytes) per sample, in the order written.
    """
    files = sorted(p for p in image_folder.rglob("*.png"))
    written = []
    for s in range(0, len(files), per_shard):
        name = f"shard-{s // per_shard:06d}.tar"
        with tarfile.open(folder / name, "w") as tar:
            for path in files[s : s + per_shard]:
                key = f"{path.parent.name}_{path.stem}"
                for ext, data in (("png", path.read_bytes()), ("cls", path.parent.name.encode())):
                    info = tarfile.TarInfo(f"{key}.{ext}")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
                written.append((name, key, path.read_bytes()))
    return written
