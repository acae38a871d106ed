"""Checkpoints of the small classifiers: the architectures by name, and saving and loading
weights with their record. Loading a model (a shipped one, a study's cached seed) imports
this module only, never the training code.

A checkpoint is two files: ``NAME.pt``, the state dict (float tensors as fp16, to keep the
files small), and ``NAME.json``, the record of how it was made. The record holds at least
``arch`` (a key of :data:`ARCHS`), ``class_names``, ``input_size`` (H, W) and ``width``
(and ``in_channels``, default 1); :func:`neuromask.models.train.train` also records the
dataset, its options, the seed, the recipe and the test accuracy.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._core import atomic_path, write_text
from ..errors import ModelLoadError, UnknownNameError
from .binary import BinaryCNN
from .small import CarliniWagnerCNN, SmallCNN
from .vit import SmallViT

# Architectures by the name the CLI and the records use: (num_classes, in_channels, width) -> module.
ARCHS: dict[str, Callable[[int, int, int], nn.Module]] = {
    "cnn": SmallCNN,
    "bnn": BinaryCNN,
    "vit": SmallViT,
    # No width: the architecture is fixed. Listed so that a checkpoint of train_cifar10()
    # loads.
    "carlini_wagner": lambda num_classes, in_channels, width: CarliniWagnerCNN(num_classes, in_channels),
}


def build(arch: str, num_classes: int, *, in_channels: int = 1, width: int = 16, seed: int = 0) -> nn.Module:
    """A fresh ``cnn`` (SmallCNN), ``bnn`` (BinaryCNN) or ``vit`` (SmallViT), or another
    architecture of :data:`ARCHS`, with initial weights drawn from ``seed``.

    The global RNG is left as it was (``torch.random.fork_rng``).
    """
    if arch not in ARCHS:
        raise UnknownNameError(f"unknown architecture '{arch}'; choose one of: {', '.join(ARCHS)}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ARCHS[arch](num_classes, in_channels, width)


def save_checkpoint(model: nn.Module, record: dict[str, Any], path: str | Path) -> tuple[Path, Path]:
    """Write the weights (float tensors as fp16) to ``path`` and ``record`` to ``path`` with
    suffix ``.json``, each atomically. Returns both paths."""
    path = Path(path)
    weights = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save(weights, tmp)
    record_path = write_text(path.with_suffix(".json"), json.dumps(record, indent=2) + "\n")
    return path, record_path


def read_record(path: str | Path) -> dict[str, Any]:
    """The record (``.json`` beside the weights ``path``) of a checkpoint.

    Raises:
        ModelLoadError: the record is missing or not JSON.
    """
    record_path = Path(path).with_suffix(".json")
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"cannot read the record {record_path} of a checkpoint: {exc}") from exc
    if not isinstance(record, dict):
        raise ModelLoadError(f"the record {record_path} of a checkpoint must be a JSON object")
    return record


def load_checkpoint(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a model saved by :func:`save_checkpoint` (``path`` and its ``.json`` record), in eval mode.

    Returns:
        The model (float32, on the CPU, in eval mode) and its record.

    Raises:
        ModelLoadError: a file is missing or does not match its record.
    """
    path = Path(path)
    record = read_record(path)
    try:
        model = build(
            record["arch"], len(record["class_names"]), in_channels=record.get("in_channels", 1), width=record["width"]
        )
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict({k: (v.float() if v.is_floating_point() else v) for k, v in state.items()})
    except (OSError, KeyError, RuntimeError, UnknownNameError) as exc:
        raise ModelLoadError(f"cannot load trained model {path}: {exc}") from exc
    return model.eval(), record
