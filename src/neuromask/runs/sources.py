"""Where a dataset's images come from: a folder, an ImageFolder layout, or WebDataset tar shards.

Every source lists its samples in a stable, sorted order; a sample's ``id`` is what the
results are keyed by, so the same files give the same IDs on every run:

- a folder: every image file below it (recursive), ID = its path relative to the folder;
- an ImageFolder layout (``root/<class>/.../<file>``): the same IDs, and the first folder
  of the path is the sample's class (``--target class`` explains that class);
- WebDataset shards (a ``.tar`` file, or a folder of them): files that share a key (the
  member's name up to its first dot, WebDataset's convention) form a sample; its image is
  the first member with an image extension, its class the ``.cls`` member if there is one.
  ID = ``<shard name>/<key>``.

Samples hand out their raw bytes (:meth:`Sample.read`): the driver reads, the workers
decode (:func:`decode_image`), so a worker on another machine needs no access to SOURCE.
"""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import ImageLoadError, InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
SOURCE_KINDS = ("auto", "folder", "imagefolder", "webdataset")


@dataclass(frozen=True)
class Sample:
    """One image of a source.

    Attributes:
        id: the image's ID in the results (a relative path, or ``shard/key``).
        read: returns the image file's bytes.
        class_name: the class the layout gives it (ImageFolder folder, WebDataset ``.cls``), or None.
    """

    id: str
    read: Callable[[], bytes]
    class_name: str | None = None


def open_source(source: str | Path, kind: str = "auto") -> list[Sample]:
    """The samples of ``source``, sorted by ID.

    Args:
        source: a folder, a ``.tar`` shard, or a folder of ``.tar`` shards.
        kind: one of :data:`SOURCE_KINDS`; ``auto`` picks ``webdataset`` for a ``.tar``
            file or a folder holding ``.tar`` files and no images, else ``folder``.

    Raises:
        InputError: the source does not exist, holds no images, or ``kind`` is unknown.
    """
    path = Path(source)
    if kind not in SOURCE_KINDS:
        raise InputError(f"source kind must be one of {', '.join(SOURCE_KINDS)}; got '{kind}'")
    if not path.exists():
        raise InputError(f"source '{source}' does not exist; give a folder of images or WebDataset .tar shards")
    if kind == "auto":
        kind = "webdataset" if _shards(path) and not (path.is_dir() and _image_files(path)) else "folder"
    if kind == "webdataset":
        samples = _webdataset(path)
    else:
        if not path.is_dir():
            raise InputError(f"source '{source}' is not a folder; a {kind} source is a folder of images")
        samples = _folder(path, with_class=kind == "imagefolder")
    if not samples:
        raise InputError(f"source '{source}' holds no images ({', '.join(IMAGE_SUFFIXES)})")
    ids = [s.id for s in samples]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise InputError(f"source '{source}' has two samples with the ID '{dup}'; IDs must be unique")
    return samples


def kind_for_target(source: str | os.PathLike[str], kind: str, target: str) -> str:
    """The source kind to read: ``auto`` with ``target="class"`` reads a folder of images as an
    ImageFolder layout (the class is the folder), the only folder layout that gives classes."""
    path = Path(source)
    if kind == "auto" and target == "class" and path.is_dir() and _image_files(path):
        return "imagefolder"
    return kind


def decode_image(data: bytes, image_id: str) -> Image.Image:
    """Image file bytes -> a ``PIL.Image`` the right way up (EXIF orientation applied).

    The mode is left as it is: :func:`neuromask.preprocess_image` converts any mode.

    Raises:
        ImageLoadError: the bytes are empty, not an image, or corrupt / truncated.
    """
    if not data:
        raise ImageLoadError(f"image '{image_id}' is empty (0 bytes)")
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            return ImageOps.exif_transpose(img)
    except UnidentifiedImageError as exc:
        raise ImageLoadError(f"image '{image_id}' is not an image file Pillow can read") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # Pillow reports truncated and corrupt data through all four.
        raise ImageLoadError(f"image '{image_id}' is corrupt or truncated: {' '.join(str(exc).split())}") from exc


def _image_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _shards(path: Path) -> list[Path]:
    if path.is_file():
        return [path] if path.suffix == ".tar" else []
    return sorted(path.glob("*.tar"))


def _folder(root: Path, *, with_class: bool) -> list[Sample]:
    samples = []
    for file in _image_files(root):
        rel = file.relative_to(root)
        if with_class and len(rel.parts) < 2:
            raise InputError(
                f"'{rel}' lies directly in the ImageFolder root '{root}'; each image must be in a class folder"
            )
        samples.append(Sample(rel.as_posix(), file.read_bytes, rel.parts[0] if with_class else None))
    return samples


def _webdataset(path: Path) -> list[Sample]:
    """Samples of WebDataset shards, read with the standard library's ``tarfile``.

    Not the ``webdataset`` package: its pipeline streams (and usually shuffles) samples
    into a DataLoader, while a resumable run needs the sorted list of keys up front and
    each sample's bytes by ID; a shard is a plain tar file, so ``tarfile`` reads it.
    """
    shards = _shards(path)
    if not shards:
        raise InputError(f"source '{path}' is not a .tar shard and holds none")
    samples = []
    for shard in shards:
        try:
            with tarfile.open(shard) as tar:
                members = [m for m in tar.getmembers() if m.isfile()]
        except (tarfile.TarError, OSError) as exc:
            raise InputError(f"shard '{shard}' is not a readable tar file: {exc}") from exc
        groups: dict[str, dict[str, tarfile.TarInfo]] = {}
        for m in members:
            folder, _, name = m.name.rpartition("/")
            key, dot, ext = name.partition(".")
            if dot:
                groups.setdefault(f"{folder}/{key}" if folder else key, {})[ext.lower()] = m
        for key in sorted(groups):
            files = groups[key]
            image = next((files[e] for e in sorted(files) if f".{e.rsplit('.', 1)[-1]}" in IMAGE_SUFFIXES), None)
            if image is None:
                continue
            cls = _read_member(shard, files["cls"]).decode().strip() if "cls" in files else None
            samples.append(Sample(f"{shard.name}/{key}", _member_reader(shard, image), cls))
    return samples


def _member_reader(shard: Path, member: tarfile.TarInfo) -> Callable[[], bytes]:
    return lambda: _read_member(shard, member)


def _read_member(shard: Path, member: tarfile.TarInfo) -> bytes:
    with tarfile.open(shard) as tar:
        fh = tar.extractfile(member)
        if fh is None:
            raise ImageLoadError(f"'{member.name}' in shard '{shard}' is not a file")
        return fh.read()
