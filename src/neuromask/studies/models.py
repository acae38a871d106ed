"""The study's models: several seeds of each architecture, trained once and cached.

A cross-seed band needs every model of an architecture trained the same way, so the study
never mixes the shipped weights (trained with a larger recipe) with its own seeds. A
model is cached as ``<cache>/<dataset>-<arch>-seed<k>-<samples>x<epochs>.pt`` with the
record :func:`neuromask.models.train.save_trained` writes beside it; a rerun loads it
instead of training again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from ..models.train import load_trained, save_trained, train


@dataclass(frozen=True)
class Recipe:
    """How one seed model is trained: ``samples`` training samples for ``epochs`` epochs."""

    samples: int
    epochs: int


@dataclass
class SeedModel:
    """One trained model of the study: its dataset, architecture, seed, module and record."""

    dataset: str
    arch: str
    seed: int
    model: nn.Module
    record: dict[str, Any]


def cache_path(cache: Path, dataset: str, arch: str, seed: int, recipe: Recipe) -> Path:
    """Where the model of (dataset, arch, seed) trained with ``recipe`` is cached."""
    return Path(cache) / f"{dataset}-{arch}-seed{seed}-{recipe.samples}x{recipe.epochs}.pt"


def seed_model(dataset: str, arch: str, seed: int, recipe: Recipe, cache: Path, *, progress: bool = False) -> SeedModel:
    """The model of (dataset, arch, seed): loaded from ``cache`` or trained and cached.

    ``seed`` drives the training data, the initial weights and the shuffling
    (:func:`neuromask.models.train.train`), so two seeds are two independent draws of the
    whole training run.
    """
    path = cache_path(cache, dataset, arch, seed, recipe)
    if path.exists() and path.with_suffix(".json").exists():
        result = load_trained(path)
    else:
        result = train(dataset, arch, samples=recipe.samples, epochs=recipe.epochs, seed=seed, progress=progress)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_trained(result, path)
        # Reload so a fresh run sees exactly what a cached rerun sees (fp16-rounded weights).
        result = load_trained(path)
    return SeedModel(dataset, arch, seed, result.model, result.record)
