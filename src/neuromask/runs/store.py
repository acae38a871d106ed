"""A run's outputs: the maps in a Zarr store, the table in Parquet, and a reader for both.

``DIR/maps.zarr`` is a Zarr group with one array per finished item, named by the item's
digest (:attr:`WorkItem.map_name`), holding its map (H0, W0) float32 at the original
image's size in a single chunk, with the item's image, method, model and options hash as
attributes. Zarr rather than HDF5: an HDF5 file has one writer at a time and a crash in
the middle of a write can corrupt the whole file, while a Zarr array is a folder of
small files. Each array is written complete into ``DIR/tmp/`` and then renamed into the
group (a rename is atomic), so the group never holds half an array.

``DIR/results.parquet`` has one row per (image, method) of the run, with the columns of
:data:`SCHEMA`; it is rewritten (atomically) from the manifest at the end of each run.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .._core import atomic_path
from ..errors import InputError

MAPS = "maps.zarr"
RESULTS = "results.parquet"
MANIFEST = "manifest.jsonl"
TMP = "tmp"

SCHEMA = pa.schema(
    [
        pa.field("image", pa.string(), nullable=False),  # the image's ID: its path relative to SOURCE
        pa.field("method", pa.string(), nullable=False),
        pa.field("model", pa.string(), nullable=False),
        pa.field("options_hash", pa.string(), nullable=False),
        pa.field("options", pa.string(), nullable=False),  # the complete options and target mode, JSON
        pa.field("status", pa.string(), nullable=False),  # "ok" or "failed"
        pa.field("target", pa.int64()),  # the class explained
        pa.field("label", pa.string()),  # its name
        pa.field("class_name", pa.string()),  # the class the source gives the image (ImageFolder, .cls)
        pa.field("probability", pa.float64()),  # softmax probability of the target on the image
        pa.field("masked_probability", pa.float64()),  # on the masked image, for mask methods
        pa.field("seconds", pa.float64()),  # the method's time for this image (its batch's share)
        pa.field("error", pa.string()),  # the one-line reason of a failure
        pa.field("map", pa.string()),  # the array's name in maps.zarr
    ]
)


def _fsync_tree(root: Path) -> None:
    """fsync every file below ``root`` and the folders themselves, so a rename publishes durable data."""
    for folder, _, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(folder))


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class MapStore:
    """``DIR/maps.zarr``: write one item's map atomically, read it back by name."""

    def __init__(self, out: Path) -> None:
        import zarr

        self.root = out / MAPS
        self.tmp = out / TMP
        zarr.open_group(store=str(self.root), mode="a", zarr_format=3)
        # Leftovers of a killed run: arrays written but never renamed into the group.
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True, exist_ok=True)

    def write(self, name: str, values: np.ndarray, attributes: dict[str, Any]) -> None:
        """Store ``values`` (H, W) as array ``name``, replacing what a killed run left under that name."""
        import zarr

        staging = self.tmp / f"{name}.{uuid.uuid4().hex}"
        try:
            # Chunk keys "0.0" beside zarr.json (not "c/0/0"): one folder to fsync, not three.
            array = zarr.create_array(
                store=str(staging),
                shape=values.shape,
                chunks=values.shape,
                dtype="float32",
                attributes=attributes,
                zarr_format=3,
                chunk_key_encoding={"name": "v2", "separator": "."},
            )
            array[...] = values.astype(np.float32, copy=False)
            _fsync_tree(staging)
            final = self.root / name
            if final.exists():
                # Written by a run killed before it recorded the item: not in the manifest, so garbage.
                shutil.rmtree(final)
            os.rename(staging, final)
            _fsync_dir(self.root)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def read_map(root: Path, name: str) -> np.ndarray:
    """The map stored as array ``name`` of the group ``root`` (``DIR/maps.zarr``)."""
    import zarr

    return np.asarray(zarr.open_array(store=str(root / name), mode="r")[...])


def write_table(out: Path, records: Iterable[dict[str, Any]]) -> Path:
    """Write ``DIR/results.parquet`` (schema :data:`SCHEMA`) from manifest records, atomically."""
    rows = [{field.name: record.get(field.name) for field in SCHEMA} for record in records]
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    path = out / RESULTS
    with atomic_path(path, durable=True) as tmp:
        pq.write_table(table, tmp)
    return path


class RunResults:
    """Read a finished (or partly finished) run: the table, and each map by (image, method).

    ::

        results = RunResults("out/run")
        results.table                      # pyarrow.Table, one row per (image, method)
        results.map("cats/01.png", "saliency")   # (H0, W0) float32
    """

    def __init__(self, out: str | os.PathLike[str]) -> None:
        self.out = Path(out)
        path = self.out / RESULTS
        if not path.exists():
            raise InputError(f"'{self.out}' holds no {RESULTS}; run `neuromask explain-dataset ... --out {self.out}`")
        self.table: pa.Table = pq.read_table(path)

    def rows(self) -> list[dict[str, Any]]:
        """The rows as dicts, ``options`` decoded from JSON."""
        rows: list[dict[str, Any]] = self.table.to_pylist()
        for row in rows:
            row["options"] = json.loads(row["options"])
        return rows

    def map(self, image: str, method: str) -> np.ndarray:
        """The map (H0, W0) float32 of ``image`` by ``method``.

        Raises:
            InputError: no successful result for that image and method.
        """
        names = [
            row["map"]
            for row in self.table.select(["image", "method", "status", "map"]).to_pylist()
            if row["image"] == image and row["method"] == method and row["status"] == "ok"
        ]
        if not names:
            raise InputError(f"no successful result for image '{image}' and method '{method}' in '{self.out}'")
        return read_map(self.out / MAPS, names[0])
