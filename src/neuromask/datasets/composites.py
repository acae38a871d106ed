"""Composites: real objects from photos, pasted onto backgrounds, with exact object masks.

The known-answer dataset for real ImageNet classifiers. An *object* is a rectangular
cut-out of a photo that ships offline inside a registry package (scikit-image's,
scikit-learn's and matplotlib's sample photos), chosen tightly around one object.
A *scene* pastes one or two objects, resized by a seeded random scale and placed at a
seeded random position, onto a background of size ``model.input_size``:

- ``"flat"``: one uniform colour;
- ``"texture"``: a crop of one of scikit-image's texture photos, tinted with a random
  colour and turned by a multiple of 90 degrees.

The evidence of an object is its footprint in the scene, exact to the pixel: the pasted
pixels are the cut-out and nothing else (no blending at the edge). A rectangular cut
includes some of the photo's own surroundings of the object (the cut boxes are tight;
see :data:`OBJECTS`); the mask counts them as the object, for every method alike.

A scene is *kept* only where the model agrees that it shows the object:

- one object: the model's top-1 on the scene is the object's class;
- two objects: both objects' classes are in the model's top-5.

An object's class, per model, is the model's top-1 on the cut-out alone (resized to the
model's input and centred on grey); an object is left out for a model whose top-1 on the
cut-out is not one of the object's ``expected`` ImageNet classes (e.g. Lite1 calls the
``flower`` cut-out a honeycomb).

**Splits.** Development and test share no photo, no texture and no random stream:
:data:`SPLITS` names each side's photos and textures and its seed. Tune on ``"dev"``,
report on ``"test"``.

The scenes depend on the model (the "kept" filter), so :func:`composite_scenes` takes the model
and caches its result per (model name, split, objects, background, n) in
``$NEUROMASK_CACHE`` (default ``~/.cache/neuromask``)/composites.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._core import forward_logits, frozen, model_device, save_npz
from ..errors import InputError
from ..types import LoadedModel

# Bumped whenever the scenes a given (model, split, ...) produces change, so that stale
# cache files are never read.
VERSION = 1


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        image = getattr(skimage.data, name)()
        return np.asarray(image[0] if isinstance(image, tuple) else image)  # stereo_motorcycle: the left view

    return load


def _sklearn(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return np.asarray(load_sample_image(name))

    return load


def _matplotlib(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import matplotlib.cbook
        import matplotlib.image

        return np.asarray(matplotlib.image.imread(matplotlib.cbook.get_sample_data(name, asfileobj=False)))

    return load


@dataclass(frozen=True)
class ObjectSource:
    """One object: a photo, the box cut from it, and the ImageNet classes it may be.

    Attributes:
        name: the object's name.
        photo: the photo's name, ``package:file`` (a split never shares a photo).
        load: returns the photo (H0, W0) or (H0, W0, 3) uint8.
        box: (top, bottom, left, right) in the photo's pixels, tight around the object.
        expected: ImageNet class ids the object may be taken for.
    """

    name: str
    photo: str
    load: Callable[[], np.ndarray]
    box: tuple[int, int, int, int]
    expected: tuple[int, ...]


# The boxes were drawn by hand on a grid over each photo; the expected classes are the
# ImageNet synonyms of what the photo shows (the cat: tabby, tiger cat, Egyptian cat).
OBJECTS: dict[str, ObjectSource] = {
    o.name: o
    for o in (
        ObjectSource("cat", "skimage:chelsea", _skimage("chelsea"), (0, 300, 40, 420), (281, 282, 285)),
        ObjectSource("espresso", "skimage:coffee", _skimage("coffee"), (0, 390, 30, 570), (967, 968, 504)),
        ObjectSource(
            "moped", "skimage:stereo_motorcycle", _skimage("stereo_motorcycle"), (150, 500, 20, 580), (665, 670)
        ),
        ObjectSource(
            "uniform", "matplotlib:grace_hopper.jpg", _matplotlib("grace_hopper.jpg"), (0, 600, 0, 512), (652,)
        ),
        ObjectSource("missile", "skimage:rocket", _skimage("rocket"), (80, 427, 250, 380), (657, 744, 812)),
        ObjectSource("helmet", "skimage:astronaut", _skimage("astronaut"), (330, 512, 290, 512), (518, 560)),
        ObjectSource("tripod", "skimage:camera", _skimage("camera"), (20, 512, 100, 430), (872,)),
        ObjectSource("palace", "sklearn:china.jpg", _sklearn("china.jpg"), (40, 427, 30, 390), (698, 663, 442)),
        ObjectSource("flower", "sklearn:flower.jpg", _sklearn("flower.jpg"), (60, 380, 180, 520), (985,)),
    )
}

TEXTURES: dict[str, Callable[[], np.ndarray]] = {
    name: _skimage(name) for name in ("brick", "grass", "gravel", "immunohistochemistry")
}


@dataclass(frozen=True)
class Split:
    """One side of the split: its objects, its textures and its seed."""

    objects: tuple[str, ...]
    textures: tuple[str, ...]
    seed: int


SPLITS: dict[str, Split] = {
    "dev": Split(
        objects=("missile", "helmet", "tripod", "palace", "flower"), textures=("brick", "immunohistochemistry"), seed=0
    ),
    "test": Split(objects=("cat", "espresso", "moped", "uniform"), textures=("gravel", "grass"), seed=1),
}
BACKGROUNDS = ("flat", "texture")


@dataclass
class Composites:
    """Scenes of one or two real objects with their exact masks.

    Attributes:
        images: (N, 3, H, W) float32 in [0, 1] (``model.normalize`` turns them into inputs).
        labels: (N, K) long, the ImageNet class of each object (K = 1 or 2).
        evidence: (N, K, H, W) bool, each object's footprint.
        objects: per scene, the names of its K objects.
        names: per scene, a name unique within its split, e.g. ``test-flat-1x-17``.
        split, background, model: what was asked for.
        tried: how many scenes were drawn to keep N.
    """

    images: torch.Tensor
    labels: torch.Tensor
    evidence: torch.Tensor
    objects: list[tuple[str, ...]]
    names: list[str]
    split: str
    background: str
    model: str
    tried: int
    info: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@cache
def _cutout(name: str) -> np.ndarray:
    """The object's cut-out (h, w, 3) float32 in [0, 1]."""
    source = OBJECTS[name]
    top, bottom, left, right = source.box
    photo = np.asarray(source.load())
    if photo.ndim == 2:
        photo = np.stack([photo] * 3, axis=-1)
    cut = photo[top:bottom, left:right, :3]
    return (cut.astype(np.float32) / 255.0) if cut.dtype == np.uint8 else cut.astype(np.float32)


@cache
def _texture(name: str) -> np.ndarray:
    """A texture photo as grey (H, W) float32 in [0, 1]."""
    image = np.asarray(TEXTURES[name]()).astype(np.float32)
    if image.ndim == 3:
        image = image[..., :3].mean(-1)
    return image / 255.0


def _resize(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    from skimage.transform import resize

    return np.asarray(resize(image, shape, order=1, anti_aliasing=True, preserve_range=True), dtype=np.float32)


def background(rng: np.random.Generator, kind: str, size: tuple[int, int], textures: tuple[str, ...]) -> np.ndarray:
    """A background (H, W, 3) float32 in [0, 1]: a uniform colour, or a tinted, turned texture crop."""
    colour = rng.uniform(0.1, 0.9, size=3).astype(np.float32)
    if kind == "flat":
        return np.broadcast_to(colour, (*size, 3)).copy()
    if kind != "texture":
        raise InputError(f"background must be one of {', '.join(BACKGROUNDS)}; got {kind!r}")
    grey = _texture(textures[int(rng.integers(len(textures)))])
    h, w = size
    # A crop of 1 to 2 times the scene's side, resized to it: the texture's grain varies.
    side = int(rng.integers(min(h, w), min(2 * min(h, w), *grey.shape) + 1))
    top = int(rng.integers(0, grey.shape[0] - side + 1))
    left = int(rng.integers(0, grey.shape[1] - side + 1))
    crop = np.rot90(grey[top : top + side, left : left + side], k=int(rng.integers(4)))
    crop = _resize(np.ascontiguousarray(crop), size)
    # Tint: the texture's grey modulates the random colour around its own mean.
    return np.clip(colour * (0.5 + crop[..., None]), 0.0, 1.0).astype(np.float32)


def _regions(rng: np.random.Generator, k: int, h: int, w: int) -> list[tuple[int, int, int, int]]:
    """Boxes (top, bottom, left, right) of the canvas, one per object: the whole canvas for
    one; for two, its halves (left/right or top/bottom, at random) with a 2 % gap between."""
    if k == 1:
        return [(0, h, 0, w)]
    gap = max(1, round(0.01 * min(h, w)))
    if rng.integers(2):
        halves = [(0, h, 0, w // 2 - gap), (0, h, w // 2 + gap, w)]
    else:
        halves = [(0, h // 2 - gap, 0, w), (h // 2 + gap, h, 0, w)]
    return halves if rng.integers(2) else halves[::-1]


def render(
    rng: np.random.Generator, objects: tuple[str, ...], canvas: np.ndarray, *, scale: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Paste ``objects`` (one or two) onto ``canvas`` (H, W, 3); return the scene and masks (K, H, W) bool.

    Each object is resized, keeping its aspect ratio, so that its longer side is
    ``scale`` (a range, drawn uniformly) times the canvas's shorter side, shrunk further
    where it must fit its region (the canvas, or for two objects one half of it each),
    and put at a uniform random position inside its region.
    """
    h, w = canvas.shape[:2]
    scene = canvas.copy()
    masks = np.zeros((len(objects), h, w), bool)
    for k, (name, (r0, r1, c0, c1)) in enumerate(zip(objects, _regions(rng, len(objects), h, w))):
        cut = _cutout(name)
        factor = rng.uniform(*scale) * min(h, w) / max(cut.shape[:2])
        factor = min(factor, (r1 - r0) / cut.shape[0], (c1 - c0) / cut.shape[1])
        oh, ow = max(1, int(cut.shape[0] * factor)), max(1, int(cut.shape[1] * factor))
        top, left = int(rng.integers(r0, r1 - oh + 1)), int(rng.integers(c0, c1 - ow + 1))
        scene[top : top + oh, left : left + ow] = _resize(cut, (oh, ow))
        masks[k, top : top + oh, left : left + ow] = True
    return scene, masks


def _predict(model: LoadedModel, images: np.ndarray) -> torch.Tensor:
    """Logits (N, L) of the model on scenes (N, H, W, 3) in [0, 1]."""
    pixels = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    with frozen(model.module):
        return forward_logits(model.module, model.normalize(pixels).to(model_device(model.module))).cpu()


def object_classes(model: LoadedModel, names: tuple[str, ...]) -> dict[str, int]:
    """{object: class} for the objects the model takes for one of their expected classes.

    The class is the model's top-1 on the cut-out alone, resized (aspect kept) into the
    model's input and centred on mid-grey.
    """
    h, w = model.input_size
    canvases = []
    for name in names:
        cut = _cutout(name)
        factor = min(h / cut.shape[0], w / cut.shape[1])
        oh, ow = round(cut.shape[0] * factor), round(cut.shape[1] * factor)
        canvas = np.full((h, w, 3), 0.5, np.float32)
        top, left = (h - oh) // 2, (w - ow) // 2
        canvas[top : top + oh, left : left + ow] = _resize(cut, (oh, ow))
        canvases.append(canvas)
    top1 = _predict(model, np.stack(canvases)).argmax(1).tolist()
    return {n: c for n, c in zip(names, top1) if c in OBJECTS[n].expected}


def _cache_path(root: Path, model: LoadedModel, key: dict[str, Any]) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    return root / "composites" / f"{model.name}-{key['split']}-{key['objects']}x-{key['background']}-{digest}.npz"


def default_cache() -> Path:
    """``$NEUROMASK_CACHE``, else ``~/.cache/neuromask``."""
    return Path(os.environ.get("NEUROMASK_CACHE") or Path.home() / ".cache" / "neuromask")


def composite_scenes(
    model: LoadedModel,
    n: int,
    *,
    split: str = "dev",
    objects: int = 1,
    background: str = "flat",
    max_tries: int | None = None,
    batch_size: int = 16,
    cache: str | Path | None = "default",
) -> Composites:
    """``n`` scenes of real objects that ``model`` classifies as their objects.

    Args:
        model: a :class:`~neuromask.types.LoadedModel` with 3 channels (an ImageNet
            classifier); scenes are drawn at its ``input_size``.
        n: how many kept scenes.
        split: ``"dev"`` or ``"test"`` (see :data:`SPLITS`).
        objects: 1 (top-1 must be the object's class) or 2 (both classes in the top-5).
        background: ``"flat"`` or ``"texture"``.
        max_tries: stop after drawing this many scenes (default ``40 * n``); the result
            may then hold fewer than ``n`` scenes.
        batch_size: scenes classified per forward pass.
        cache: a folder for the cache, ``"default"`` for :func:`default_cache`, or
            ``None`` for none.

    Returns:
        :class:`Composites` with images (N, 3, H, W), labels (N, K), evidence (N, K, H, W).

    Scene ``i`` of a split depends only on (the split's seed, objects, background, i), so
    the kept scenes of a smaller ``n`` are the first of a larger one.
    """
    if split not in SPLITS:
        raise InputError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    if objects not in (1, 2):
        raise InputError(f"objects must be 1 or 2; got {objects!r}")
    if background not in BACKGROUNDS:
        raise InputError(f"background must be one of {', '.join(BACKGROUNDS)}; got {background!r}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise InputError(f"n must be an integer >= 0; got {n!r}")
    if not isinstance(model, LoadedModel) or model.channels != 3:
        raise InputError("composites need a LoadedModel with 3 input channels (neuromask.load_model(...))")
    tries = 40 * n if max_tries is None else max_tries
    key = {
        "version": VERSION,
        "split": split,
        "objects": objects,
        "background": background,
        "n": n,
        "tries": tries,
        "size": list(model.input_size),
    }
    path = _cache_path(default_cache() if cache == "default" else Path(cache), model, key) if cache else None
    if path is not None and path.exists():
        return _load(path)
    result = _draw(model, n, split, objects, background, tries, batch_size)
    if path is not None:
        _save(result, path)
    return result


def _draw(
    model: LoadedModel, n: int, split: str, objects: int, background_kind: str, tries: int, batch_size: int
) -> Composites:
    side = SPLITS[split]
    classes = object_classes(model, side.objects)
    names = tuple(classes)
    if len(names) < objects:
        raise InputError(f"model '{model.name}' recognises {len(names)} of the {split} split's objects; need {objects}")
    size = (int(model.input_size[0]), int(model.input_size[1]))
    # Two objects each fill most of their half: smaller, they are rarely both in the top-5.
    scale = (0.4, 0.7) if objects == 1 else (0.6, 1.0)
    stream = {"flat": 0, "texture": 1}[background_kind]
    kept_images: list[np.ndarray] = []
    kept_labels: list[list[int]] = []
    kept_masks: list[np.ndarray] = []
    kept_objects: list[tuple[str, ...]] = []
    kept_names: list[str] = []
    index = 0
    while len(kept_images) < n and index < tries:
        batch = []
        for i in range(index, min(index + batch_size, tries)):
            rng = np.random.default_rng([side.seed, objects, stream, i])
            if objects == 1:
                chosen: tuple[str, ...] = (names[i % len(names)],)
            else:
                first = i % len(names)
                second = (first + 1 + int(rng.integers(len(names) - 1))) % len(names)
                chosen = (names[first], names[second])
            canvas = background(rng, background_kind, size, side.textures)
            scene, masks = render(rng, chosen, canvas, scale=scale)
            batch.append((i, chosen, scene, masks))
        index += len(batch)
        logits = _predict(model, np.stack([b[2] for b in batch]))
        top5 = logits.topk(5, dim=1).indices
        for (i, chosen, scene, masks), best in zip(batch, top5.tolist()):
            labels = [classes[o] for o in chosen]
            keep = best[0] == labels[0] if objects == 1 else all(c in best for c in labels)
            if keep and len(kept_images) < n:
                kept_images.append(scene)
                kept_labels.append(labels)
                kept_masks.append(masks)
                kept_objects.append(chosen)
                kept_names.append(f"{split}-{background_kind}-{objects}x-{i}")
    h, w = size
    return Composites(
        images=torch.from_numpy(np.stack(kept_images)).permute(0, 3, 1, 2).contiguous()
        if kept_images
        else torch.zeros((0, 3, h, w)),
        labels=torch.tensor(kept_labels, dtype=torch.long).reshape(-1, objects),
        evidence=torch.from_numpy(np.stack(kept_masks))
        if kept_masks
        else torch.zeros((0, objects, h, w), dtype=torch.bool),
        objects=kept_objects,
        names=kept_names,
        split=split,
        background=background_kind,
        model=model.name,
        tried=index,
        info={"classes": classes},
    )


def _save(data: Composites, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "objects": [list(o) for o in data.objects],
        "names": data.names,
        "split": data.split,
        "background": data.background,
        "model": data.model,
        "tried": data.tried,
        "info": data.info,
    }
    save_npz(  # atomically: never a half-written cache file
        path,
        images=data.images.numpy(),
        labels=data.labels.numpy(),
        evidence=data.evidence.numpy(),
        meta=np.array(json.dumps(meta)),
    )


def _load(path: Path) -> Composites:
    with np.load(path, allow_pickle=False) as f:
        meta = json.loads(str(f["meta"]))
        return Composites(
            images=torch.from_numpy(f["images"]),
            labels=torch.from_numpy(f["labels"]),
            evidence=torch.from_numpy(f["evidence"]),
            objects=[tuple(o) for o in meta["objects"]],
            names=list(meta["names"]),
            split=meta["split"],
            background=meta["background"],
            model=meta["model"],
            tried=int(meta["tried"]),
            info=dict(meta["info"]),
        )


__all__ = [
    "OBJECTS",
    "TEXTURES",
    "SPLITS",
    "BACKGROUNDS",
    "Composites",
    "composite_scenes",
    "object_classes",
    "render",
    "background",
    "default_cache",
]
