"""The benchmark's groups as folders that ``evaluate`` reads: images, masks, a model, a target mode.

Each group of a suite is written once into ``DIR/data/<group>/`` as PNG files (an
ImageFolder layout, the class in the folder's name), with its masks mirroring the images,
and for two-object scenes the other object's masks and the scene of each image (both
explanations of a scene are resampled together). ``group.json`` records what was written;
a group whose record matches the request is not written again.

- ``datasets``: each shipped known-answer model on held-out images of its own dataset
  (drawn after the samples it was trained and tested on), explaining the true class;
- ``composites``: a real model on the composites of the suite's split, one group per
  background with one object, and one group of two-object scenes where each scene is
  explained twice (once per object's class); the model sees the scenes at its input size
  as drawn (``resize="stretch"`` at that size changes nothing);
- ``photos``: a real model on the offline photos, explaining its own top-1 class.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..types import LoadedModel
from .suites import Suite


@dataclass
class GroupData:
    """One group, written out.

    Attributes:
        name: the group's name (``triangles_squares-cnn``, ``composites-<model>-<split>-<kind>``,
            ``photos-<model>``).
        part: ``datasets``, ``composites`` or ``photos`` (selects the suite's options).
        model: the model spec, or the loaded model (composites: with a stretch resize).
        folder: ``DIR/data/<group>``, with ``images/`` and, where there is ground truth,
            ``masks/`` (and ``other_masks/`` for two-object scenes).
        target: ``class`` (the folder's class) or ``top1``.
        clusters: image ID -> scene, for two-object scenes.
    """

    name: str
    part: str
    model: str | LoadedModel
    folder: Path
    target: str
    clusters: dict[str, str] | None = None

    @property
    def images(self) -> Path:
        return self.folder / "images"

    def truth(self, kind: str) -> Path | None:
        path = self.folder / kind
        return path if path.is_dir() else None


def _png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _pixels(image: torch.Tensor) -> np.ndarray:
    """(C, H, W) float in [0, 1] -> (H, W) or (H, W, 3) uint8."""
    array = (image.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    return array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0)


def _written(folder: Path, key: dict[str, Any]) -> bool:
    record = folder / "group.json"
    return record.exists() and json.loads(record.read_text()).get("key") == key


def _publish(folder: Path, staging: Path, key: dict[str, Any], extra: dict[str, Any]) -> None:
    """Move a fully written ``staging`` folder into place as ``folder``, with its record."""
    (staging / "group.json").write_text(json.dumps({"key": key, **extra}, indent=1) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(folder)


def _staging(folder: Path) -> Path:
    path = folder.parent / f".{folder.name}.{uuid.uuid4().hex}"
    path.mkdir(parents=True)
    return path


def dataset_group(root: Path, model_name: str, n: int) -> GroupData:
    """A shipped model on ``n`` held-out images of the dataset it was trained on."""
    from ..datasets import write_folder
    from ..models import load_model

    record = load_model(model_name).extra["record"]
    start = int(record["samples"]) + int(record.get("test_samples", 0))
    folder = root / model_name
    key = {"model": model_name, "n": n, "start": start, "seed": int(record["seed"]), "options": record.get("options")}
    if not _written(folder, key):
        staging = _staging(folder)
        write_folder(record["dataset"], n, staging, seed=int(record["seed"]), start=start, **record.get("options", {}))
        _publish(folder, staging, key, {})
    return GroupData(model_name, "datasets", model_name, folder, "class")


def composite_groups(root: Path, model_name: str, suite: Suite, device: str = "cpu") -> list[GroupData]:
    """The composites of ``suite.composite_split`` for a real model: flat, texture, and two-object scenes."""
    from ..datasets import composite_scenes
    from ..models import load_model

    model = load_model(model_name, device=device)
    # The scenes are drawn at the model's input size: a stretch to that size leaves them as they are.
    seen = dataclasses.replace(model, resize="stretch")
    split = suite.composite_split
    groups = []
    for background in ("flat", "texture"):
        name = f"composites-{model_name}-{split}-{background}"
        folder = root / name
        key = {"model": model_name, "split": split, "background": background, "n": suite.composite_images}
        if not _written(folder, key):
            data = composite_scenes(model, suite.composite_images, split=split, objects=1, background=background)
            staging = _staging(folder)
            for i in range(len(data)):
                rel = f"{int(data.labels[i, 0])}/{data.names[i]}.png"
                _png(staging / "images" / rel, _pixels(data.images[i]))
                _png(staging / "masks" / rel, data.evidence[i, 0].numpy().astype(np.uint8) * 255)
            _publish(folder, staging, key, {"kept": len(data), "tried": data.tried})
        groups.append(GroupData(name, "composites", seen, folder, "class"))
    if suite.composite_pairs:
        name = f"composites-{model_name}-{split}-pairs"
        folder = root / name
        key = {"model": model_name, "split": split, "objects": 2, "n": suite.composite_pairs}
        if not _written(folder, key):
            data = composite_scenes(model, suite.composite_pairs, split=split, objects=2, background="texture")
            staging = _staging(folder)
            clusters = {}
            for j in range(len(data)):
                for own, other in ((0, 1), (1, 0)):
                    rel = f"{int(data.labels[j, own])}/{data.names[j]}-{data.objects[j][own]}.png"
                    _png(staging / "images" / rel, _pixels(data.images[j]))
                    _png(staging / "masks" / rel, data.evidence[j, own].numpy().astype(np.uint8) * 255)
                    _png(staging / "other_masks" / rel, data.evidence[j, other].numpy().astype(np.uint8) * 255)
                    clusters[rel] = data.names[j]
            _publish(folder, staging, key, {"kept": len(data), "tried": data.tried, "clusters": clusters})
        clusters = json.loads((folder / "group.json").read_text())["clusters"]
        groups.append(GroupData(name, "composites", seen, folder, "class", clusters))
    return groups


def photo_group(root: Path, model_name: str, photos: tuple[str, ...]) -> GroupData:
    """A real model on the offline photos (``package:name``), explaining its own top-1 class."""
    from ..datasets.composites import photo

    name = f"photos-{model_name}"
    folder = root / name
    key = {"photos": list(photos)}
    if not _written(folder, key):
        staging = _staging(folder)
        for spec in photos:
            _png(staging / "images" / f"{spec.partition(':')[2].split('.')[0]}.png", photo(spec))
        _publish(folder, staging, key, {})
    return GroupData(name, "photos", model_name, folder, "top1")


def group_names(suite: Suite) -> list[str]:
    """The names of ``suite``'s groups, without writing or loading anything."""
    names = list(suite.datasets)
    kinds = ("flat", "texture") + (("pairs",) if suite.composite_pairs else ())
    names += [f"composites-{m}-{suite.composite_split}-{kind}" for m in suite.composite_models for kind in kinds]
    if suite.photos:
        names.append(f"photos-{suite.photo_model}")
    return names


def family(suite: Suite, group: str) -> str:
    """The family that writes ``group``: a dataset model, ``composites-<model>`` or ``photos-<model>``."""
    if group in suite.datasets:
        return group
    if group.startswith("composites-"):
        return next(f"composites-{m}" for m in suite.composite_models if group.startswith(f"composites-{m}-"))
    return group


def build(root: Path, suite: Suite, family_name: str, device: str = "cpu") -> list[GroupData]:
    """Write (or reuse) the groups of one family of ``suite`` under ``root``."""
    if family_name in suite.datasets:
        return [dataset_group(root, family_name, suite.dataset_images)]
    if family_name.startswith("composites-"):
        return composite_groups(root, family_name.removeprefix("composites-"), suite, device)
    return [photo_group(root, suite.photo_model, suite.photos)]


def families(suite: Suite) -> list[str]:
    """Every family of ``suite``, in run order."""
    out = list(suite.datasets) + [f"composites-{m}" for m in suite.composite_models]
    return out + ([f"photos-{suite.photo_model}"] if suite.photos else [])


__all__ = ["GroupData", "build", "families", "family", "group_names"]
