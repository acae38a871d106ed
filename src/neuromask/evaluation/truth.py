"""Ground truth for ``evaluate``: where each image's object is, from masks or boxes.

- :class:`MaskFolder` (``--masks DIR``): a folder that mirrors SOURCE, one PNG per image at
  ``<image ID without its extension>.png``, the image's size, non-zero = object (any
  colour channel; a palette image's index; the alpha channel is ignored).
- :class:`Boxes` (``--boxes FILE``): a COCO JSON file (``images[].file_name`` = image ID,
  ``annotations[].bbox`` = x, y, w, h in pixels) or a CSV file with the header
  ``image,x0,y0,x1,y1`` (one row per box, several rows per image allowed). A pixel is
  inside a box when its centre is; a box narrower than a pixel still marks the pixel
  that holds its centre.

Both turn an image into an (H0, W0) bool mask at the image's own size, or a one-line
reason naming the image (:class:`TruthError`): a missing, unreadable or wrongly sized
mask, a box outside the image, no object pixel at all. A file that cannot be read as
boxes at all is a bad request (:class:`~neuromask.errors.InputError`).

:meth:`digest` fingerprints an image's ground truth, so that a score computed against
one mask is never reused after the mask changed.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import InputError

# How far (pixels) a box may reach past the image's border before it counts as outside:
# COCO boxes are floats and are often rounded outwards.
BORDER_TOLERANCE = 1.0
CSV_HEADER = ("image", "x0", "y0", "x1", "y1")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


class TruthError(Exception):
    """An image's ground truth cannot be used; the message is the one-line reason."""


def _size_text(shape: tuple[int, int]) -> str:
    return f"{shape[1]}x{shape[0]}"


def check_mask(mask: np.ndarray, where: str) -> np.ndarray:
    """``mask`` (H, W) bool, refused when it marks no pixel or every pixel (no score is defined)."""
    if not mask.any():
        raise TruthError(f"{where} marks no object pixel (all zero)")
    if mask.all():
        raise TruthError(f"{where} marks every pixel as object; a score needs some background")
    return mask


class MaskFolder:
    """Masks as PNG files under ``root``, mirroring SOURCE's image IDs."""

    kind = "masks"

    def describe(self) -> str:
        """The ground truth's file or folder, as a message names it."""
        return str(self.root)

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError(f"--masks '{root}' is not a folder; give the folder that holds one PNG mask per image")

    def path(self, image: str) -> Path:
        """``<root>/<image ID without its extension>.png``."""
        rel = PurePosixPath(image)
        if rel.suffix.lower() in IMAGE_SUFFIXES:
            rel = rel.with_suffix("")
        return self.root / f"{rel}.png"

    def digest(self, image: str) -> str:
        path = self.path(image)
        try:
            return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        except OSError:
            return "missing"

    def extra_images(self, images: Iterable[str]) -> list[str]:
        """Masks name no image: a mask folder may hold masks of images not run; nothing is refused."""
        return []

    def mask(self, image: str, shape: tuple[int, int]) -> np.ndarray:
        """The object mask (H0, W0) bool of ``image``, whose size is ``shape``.

        Raises:
            TruthError: the mask is missing, unreadable, of another size, or marks no pixel.
        """
        path = self.path(image)
        if not path.is_file():
            raise TruthError(f"no mask: {path} does not exist")
        try:
            with Image.open(path) as img:
                img.load()
                mode = img.mode
                values = np.asarray(img)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
            reason = " ".join(str(exc).split())
            raise TruthError(f"mask {path} cannot be read as an image ({reason})") from exc
        if mode in ("RGBA", "RGBa", "LA", "La"):
            values = values[..., :-1]  # the alpha channel says nothing about the object
        if values.ndim == 3:
            values = (values != 0).any(axis=2)
        mask = values != 0
        if mask.shape != tuple(shape):
            raise TruthError(
                f"mask {path} is {_size_text(mask.shape)} pixels but the image is {_size_text(shape)}; "
                "a mask must have its image's size"
            )
        return check_mask(mask, f"mask {path}")


class Boxes:
    """Object boxes per image ID, read from a COCO JSON or a CSV file."""

    kind = "boxes"

    def describe(self) -> str:
        """The ground truth's file or folder, as a message names it."""
        return self.path.name

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"--boxes '{path}' is not a file; give a COCO JSON or a CSV file image,x0,y0,x1,y1")
        text = self.path.read_text(encoding="utf-8-sig", errors="replace")
        suffix = self.path.suffix.lower()
        is_json = suffix == ".json" or (suffix != ".csv" and text.lstrip().startswith("{"))
        self.boxes = _read_coco(text, self.path) if is_json else _read_csv(text, self.path)

    def digest(self, image: str) -> str:
        boxes = self.boxes.get(image)
        if boxes is None:
            return "missing"
        return hashlib.sha256(json.dumps(boxes).encode()).hexdigest()[:16]

    def extra_images(self, images: Iterable[str]) -> list[str]:
        """Image IDs the file names that SOURCE does not hold (each a failure)."""
        known = set(images)
        return sorted(i for i in self.boxes if i not in known)

    def mask(self, image: str, shape: tuple[int, int]) -> np.ndarray:
        """The union of the image's boxes as an (H0, W0) bool mask.

        Raises:
            TruthError: the file has no box for the image, a box lies outside the image or is empty.
        """
        boxes = self.boxes.get(image)
        if boxes is None:
            raise TruthError(f"no boxes: {self.path.name} has no entry for this image")
        if not boxes:
            raise TruthError(f"no boxes: {self.path.name} lists this image without any box")
        h, w = shape
        mask = np.zeros(shape, dtype=bool)
        centres_y = np.arange(h) + 0.5
        centres_x = np.arange(w) + 0.5
        for x0, y0, x1, y1 in boxes:
            text = f"box ({x0:g}, {y0:g}, {x1:g}, {y1:g})"
            if not (x1 > x0 and y1 > y0):
                raise TruthError(f"{text} in {self.path.name} is empty (x1 <= x0 or y1 <= y0)")
            tol = BORDER_TOLERANCE
            if x0 < -tol or y0 < -tol or x1 > w + tol or y1 > h + tol:
                raise TruthError(f"{text} in {self.path.name} reaches outside the {_size_text(shape)} image")
            rows = (centres_y >= y0) & (centres_y < y1)
            cols = (centres_x >= x0) & (centres_x < x1)
            if not rows.any() or not cols.any():
                # Narrower than a pixel: the pixel that holds the box's centre.
                rows = np.arange(h) == min(h - 1, max(0, math.floor((y0 + y1) / 2)))
                cols = np.arange(w) == min(w - 1, max(0, math.floor((x0 + x1) / 2)))
            mask |= rows[:, None] & cols[None, :]
        return check_mask(mask, f"the boxes in {self.path.name}")


def _number(value: object, where: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"{where}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise InputError(f"{where}: {value!r} is not a finite number")
    return number


def _read_csv(text: str, path: Path) -> dict[str, list[tuple[float, float, float, float]]]:
    reader = csv.reader(io.StringIO(text))
    header = tuple(h.strip().lower() for h in next(reader, ()))
    if header != CSV_HEADER:
        raise InputError(f"--boxes {path}: the CSV header must be {','.join(CSV_HEADER)}; got {','.join(header)!r}")
    boxes: dict[str, list[tuple[float, float, float, float]]] = {}
    for number, row in enumerate(reader, 2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(CSV_HEADER):
            raise InputError(f"--boxes {path}:{number}: expected 5 fields image,x0,y0,x1,y1; got {len(row)}")
        image = row[0].strip()
        coords = tuple(_number(v.strip(), f"--boxes {path}:{number}") for v in row[1:])
        boxes.setdefault(image, []).append(coords)  # type: ignore[arg-type]
    return boxes


def _read_coco(text: str, path: Path) -> dict[str, list[tuple[float, float, float, float]]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"--boxes {path} is not valid JSON ({exc}); give a COCO JSON or a CSV file") from exc
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise InputError(f"--boxes {path}: a COCO file needs an 'images' list (with file_name and id)")
    names: dict[object, str] = {}
    boxes: dict[str, list[tuple[float, float, float, float]]] = {}
    for k, entry in enumerate(data["images"]):
        if not isinstance(entry, dict) or "file_name" not in entry or "id" not in entry:
            raise InputError(f"--boxes {path}: images[{k}] needs 'file_name' and 'id'")
        names[entry["id"]] = str(entry["file_name"])
        boxes.setdefault(str(entry["file_name"]), [])
    for k, ann in enumerate(data.get("annotations", [])):
        where = f"--boxes {path}: annotations[{k}]"
        if not isinstance(ann, dict) or "image_id" not in ann or "bbox" not in ann:
            raise InputError(f"{where} needs 'image_id' and 'bbox'")
        if ann["image_id"] not in names:
            raise InputError(f"{where} refers to image_id {ann['image_id']!r}, which 'images' does not list")
        bbox = ann["bbox"]
        if not isinstance(bbox, list) or len(bbox) != 4:
            raise InputError(f"{where}: bbox must be [x, y, w, h]; got {bbox!r}")
        x, y, w, h = (_number(v, where) for v in bbox)
        boxes[names[ann["image_id"]]].append((x, y, x + w, y + h))
    return boxes


GroundTruth = MaskFolder | Boxes


def open_truth(masks: str | os.PathLike[str] | None, boxes: str | os.PathLike[str] | None) -> GroundTruth | None:
    """The ground truth the request names (at most one of ``masks`` and ``boxes``), or None."""
    if masks is not None and boxes is not None:
        raise InputError("give either --masks or --boxes, not both")
    if masks is not None:
        return MaskFolder(masks)
    if boxes is not None:
        return Boxes(boxes)
    return None
