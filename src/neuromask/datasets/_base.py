"""The dataset container, the registry and the machinery shared by every generator.

A generator is a function ``render(rng, label, **options) -> (image, evidence)`` that
draws one sample of the given class: ``image`` (H, W) float32 in [0, 1] and ``evidence``
(H, W) bool, the pixels that make the sample belong to its class. It is registered in
:data:`DATASETS` with ``classes`` (the class names, at least two) and, optionally,
``variants`` (the values its ``variant`` option takes, each shown in the docs' figure) as
metadata; its keyword-only parameters are the dataset's options, with their defaults. The
registry checks all of this when the dataset registers. A dataset is one module of
:mod:`neuromask.datasets`, found and imported by the package: adding one is adding its file.

Sample ``i`` of a data set is drawn from its own generator seeded with ``(seed, i)``,
and its label is ``i mod L``: so a sample never depends on how many samples are drawn
with it or in which chunks, and any ``n`` consecutive samples are balanced to within one.
"""

from __future__ import annotations

import inspect
import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._core import save_npz
from ..errors import InputError, UnknownNameError
from ..registry import Registry

Render = Callable[..., tuple[np.ndarray, np.ndarray]]


class DatasetRegistry(Registry[Render]):
    """The dataset registry: checks each registration against the contract above when it is made."""

    def check(self, name: str, obj: Render, meta: dict[str, Any]) -> None:
        def refuse(problem: str) -> None:
            raise RuntimeError(f"dataset '{name}' {problem}")

        if set(meta) - {"classes", "variants"}:
            refuse(
                f"registers unknown keys {sorted(set(meta) - {'classes', 'variants'})}; it may register classes, variants"
            )
        classes = meta.get("classes")
        if not isinstance(classes, tuple) or len(classes) < 2 or not all(isinstance(c, str) for c in classes):
            refuse(f"must register classes as a tuple of at least two names; got {classes!r}")
        params = list(inspect.signature(obj).parameters.values())
        if [p.name for p in params[:2]] != ["rng", "label"]:
            refuse(f"must take (rng, label) first; got ({', '.join(p.name for p in params[:2])})")
        options = params[2:]
        if any(p.kind is not p.KEYWORD_ONLY or p.default is p.empty for p in options):
            refuse("must take its options as keyword-only parameters with defaults")
        if "variants" in meta and "variant" not in {p.name for p in options}:
            refuse("registers variants but has no variant option")
        if not inspect.getdoc(obj):
            refuse("has no docstring")


DATASETS: DatasetRegistry = DatasetRegistry("dataset")


@dataclass
class Dataset:
    """Images with their labels and ground-truth evidence.

    Attributes:
        images: (N, C, H, W) float32 in [0, 1]; C = 1 (grey).
        labels: (N,) long, class indices into ``class_names``.
        evidence: (N, H, W) bool, exactly the pixels of the object(s) that define the label.
        name: the registered dataset name.
        class_names: the class names, index = class id.
        options: the generator options used (defaults filled in), e.g. ``{"variant": "oriented"}``.
    """

    images: torch.Tensor
    labels: torch.Tensor
    evidence: torch.Tensor
    name: str
    class_names: list[str]
    options: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def dataset_options(name: str) -> dict[str, Any]:
    """The options of dataset ``name`` with their defaults, read from its generator's signature."""
    sig = inspect.signature(DATASETS.get(name))
    return {p.name: p.default for p in sig.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY}


def class_names(name: str) -> list[str]:
    """The class names of dataset ``name``."""
    return list(DATASETS.entry(name).meta["classes"])


def _resolve(name: str, options: dict[str, Any]) -> dict[str, Any]:
    resolved = dataset_options(name)
    unknown = sorted(set(options) - set(resolved))
    if unknown:
        raise UnknownNameError(
            f"dataset '{name}' has no option {', '.join(repr(u) for u in unknown)}; "
            f"its options are: {', '.join(sorted(resolved)) or 'none'}"
        )
    resolved.update(options)
    return resolved


def _check_count(what: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"{what} must be an integer >= {minimum}; got {value!r}")


def _render_range(name: str, seed: int, start: int, n: int, options: dict[str, Any]) -> Dataset:
    """Samples ``start .. start + n - 1`` of dataset ``name`` (options already resolved)."""
    render = DATASETS.get(name)
    classes = class_names(name)
    images, evidence = [], []
    labels = np.arange(start, start + n, dtype=np.int64) % len(classes)
    for index, label in zip(range(start, start + n), labels):
        image, mask = render(np.random.default_rng([seed, index]), int(label), **options)
        images.append(image)
        evidence.append(mask)
    if n == 0:
        # Render one throwaway sample only to learn the image size of an empty data set.
        probe, _ = render(np.random.default_rng([seed, 0]), 0, **options)
        shape = probe.shape
        images_np = np.zeros((0, 1, *shape), np.float32)
        evidence_np = np.zeros((0, *shape), bool)
    else:
        images_np = np.stack(images)[:, None].astype(np.float32)
        evidence_np = np.stack(evidence).astype(bool)
    return Dataset(
        images=torch.from_numpy(images_np),
        labels=torch.from_numpy(labels),
        evidence=torch.from_numpy(evidence_np),
        name=name,
        class_names=classes,
        options=dict(options),
    )


def generate(name: str, n: int, *, seed: int = 0, start: int = 0, **options: Any) -> Dataset:
    """Draw ``n`` samples of dataset ``name``.

    Args:
        name: a registered dataset (``neuromask.datasets.DATASETS.names()``).
        n: number of samples.
        seed: non-negative integer; sample ``i`` depends only on ``(seed, i)`` and the options.
        start: index of the first sample, so that ``generate(name, n, start=k)`` equals
            samples ``k .. k + n - 1`` of ``generate(name, k + n)``.
        **options: the dataset's options (see :func:`dataset_options`).

    Returns:
        A :class:`Dataset` with images (n, 1, H, W), labels (n,) and evidence (n, H, W).
    """
    resolved = _resolve(name, options)
    _check_count("n", n, 0)
    _check_count("seed", seed, 0)
    _check_count("start", start, 0)
    return _render_range(name, int(seed), int(start), int(n), resolved)


def stream(
    name: str, n: int, *, seed: int = 0, start: int = 0, batch_size: int = 256, **options: Any
) -> Iterator[Dataset]:
    """Yield ``n`` samples of dataset ``name`` in chunks of ``batch_size`` (the last may be shorter).

    The concatenated chunks equal ``generate(name, n, seed=seed, start=start, **options)``
    whatever the batch size; only one chunk is in memory at a time.
    """
    resolved = _resolve(name, options)
    _check_count("n", n, 0)
    _check_count("seed", seed, 0)
    _check_count("start", start, 0)
    _check_count("batch_size", batch_size, 1)
    for first in range(start, start + n, batch_size):
        yield _render_range(name, int(seed), first, min(batch_size, start + n - first), resolved)


def concat(chunks: list[Dataset]) -> Dataset:
    """Join datasets of the same name and options, in order (e.g. the chunks of :func:`stream`)."""
    if not chunks:
        raise InputError("concat needs at least one dataset; got none")
    first = chunks[0]
    for other in chunks[1:]:
        if other.name != first.name or other.options != first.options:
            raise InputError(
                f"cannot concatenate dataset '{other.name}' {other.options} to '{first.name}' {first.options}"
            )
    return Dataset(
        images=torch.cat([c.images for c in chunks]),
        labels=torch.cat([c.labels for c in chunks]),
        evidence=torch.cat([c.evidence for c in chunks]),
        name=first.name,
        class_names=list(first.class_names),
        options=dict(first.options),
    )


def save(dataset: Dataset, path: str | Path) -> Path:
    """Write ``dataset`` to a compressed ``.npz`` file (the suffix is added when missing)."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    save_npz(
        path,
        images=dataset.images.numpy(),
        labels=dataset.labels.numpy(),
        evidence=dataset.evidence.numpy(),
        meta=np.array(
            json.dumps({"name": dataset.name, "class_names": dataset.class_names, "options": dataset.options})
        ),
    )
    return path


def load(path: str | Path) -> Dataset:
    """Read a dataset written by :func:`save`."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            return Dataset(
                images=torch.from_numpy(data["images"].astype(np.float32)),
                labels=torch.from_numpy(data["labels"].astype(np.int64)),
                evidence=torch.from_numpy(data["evidence"].astype(bool)),
                name=meta["name"],
                class_names=list(meta["class_names"]),
                options=dict(meta["options"]),
            )
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise InputError(f"cannot read {path} as a dataset written by neuromask.datasets.save ({exc})") from exc
