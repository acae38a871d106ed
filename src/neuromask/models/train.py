"""Training the small classifiers on the known-answer datasets (and the C&W CNN on CIFAR-10).

::

    from neuromask.models import train
    result = train.train("counting", "cnn", samples=20_000, epochs=8, seed=0)
    result.record["accuracy"]          # on a fresh test set of the same seed
    train.save_trained(result, "counting-cnn.pt")   # weights (fp16) + counting-cnn.json

The test set is drawn from the same generator and seed but from sample index
``TEST_START`` on, so it never overlaps the training samples ``0 .. samples - 1``.
Randomness (initial weights, shuffling, dropout) comes from ``seed`` only; the global
RNG state is restored afterwards.
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .. import datasets
from ..errors import InputError, require
from .checkpoint import ARCHS, build, load_checkpoint, save_checkpoint
from .small import CarliniWagnerCNN

__all__ = [
    "ARCHS",
    "DEFAULT_WIDTHS",
    "TEST_START",
    "TrainResult",
    "build",
    "cifar10_record",
    "evaluate",
    "fit",
    "load_trained",
    "save_trained",
    "train",
    "train_cifar10",
]
# The width each architecture is trained at unless told: channels of the CNNs' first
# block, the ViT's token dimension.
DEFAULT_WIDTHS: dict[str, int] = {"cnn": 16, "bnn": 16, "vit": 64}
# Index of the first test sample: far beyond any training set, so the two never overlap.
TEST_START = 10**9


@dataclass
class TrainResult:
    """A trained model and the record of how it was trained.

    ``record`` holds: dataset, options (e.g. variant), arch, width, seed, samples,
    test_samples, epochs, batch_size, lr, accuracy (on the test set, in [0, 1]),
    seconds, input_size (H, W), class_names, torch, python.
    """

    model: nn.Module
    record: dict[str, Any]


def fit(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    epochs: int = 8,
    batch_size: int = 128,
    lr: float = 3e-3,
    weight_decay: float = 0.0,
    seed: int = 0,
    progress: bool = True,
) -> list[float]:
    """Train ``model`` in place with Adam and a one-cycle learning-rate schedule.

    Args:
        model: maps images (N, C, H, W) to logits (N, L).
        images: (N, C, H, W) float training inputs.
        labels: (N,) long class indices.
        epochs, batch_size, lr, weight_decay: the optimiser's settings; ``lr`` is the peak.
        seed: shuffling order and dropout.
        progress: show a tqdm bar.

    Returns:
        The mean training loss of every epoch. The model is left in eval mode.
    """
    if images.ndim != 4 or labels.ndim != 1 or images.shape[0] != labels.shape[0] or images.shape[0] == 0:
        raise InputError(
            f"fit needs images (N, C, H, W) and labels (N,) with the same N > 0; got "
            f"{tuple(images.shape)} and {tuple(labels.shape)}"
        )
    for what, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{what} must be a positive integer; got {value!r}")
    steps = epochs * -(-images.shape[0] // batch_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    # One cycle: a short warm-up then annealing to ~0, a good default for few epochs.
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.15)
    shuffle = torch.Generator().manual_seed(seed)
    losses = []
    bar = tqdm(total=steps, desc="train", unit="batch", disable=not progress, leave=False)
    # Dropout draws from the global generator: seed it inside a fork so the caller's state survives.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model.train()
        try:
            for epoch in range(epochs):
                order = torch.randperm(images.shape[0], generator=shuffle)
                total = 0.0
                for first in range(0, images.shape[0], batch_size):
                    idx = order[first : first + batch_size]
                    loss = F.cross_entropy(model(images[idx]), labels[idx])
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    schedule.step()
                    total += float(loss.detach()) * idx.numel()
                    bar.update()
                    bar.set_postfix(epoch=epoch + 1, loss=f"{float(loss.detach()):.3f}")
                losses.append(total / images.shape[0])
        finally:
            model.eval()
            bar.close()
    return losses


@torch.no_grad()
def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, batch_size: int = 512) -> float:
    """Accuracy in [0, 1] of ``model`` on images (N, C, H, W) with labels (N,), in eval mode."""
    was_training = model.training
    model.eval()
    try:
        correct = sum(
            int((model(images[i : i + batch_size]).argmax(1) == labels[i : i + batch_size]).sum())
            for i in range(0, images.shape[0], batch_size)
        )
    finally:
        model.train(was_training)
    return correct / max(1, images.shape[0])


def train(
    dataset: str,
    arch: str,
    *,
    samples: int = 20_000,
    test_samples: int = 2_000,
    epochs: int = 8,
    batch_size: int = 128,
    lr: float = 3e-3,
    width: int | None = None,
    seed: int = 0,
    progress: bool = True,
    **options: Any,
) -> TrainResult:
    """Draw ``samples`` training samples of ``dataset``, train ``arch`` on them, test it.

    Args:
        dataset: a registered dataset name; ``options`` are its options (e.g. ``variant``).
        arch: ``"cnn"``, ``"bnn"`` or ``"vit"``.
        samples, test_samples: sizes of the training and the test set.
        epochs, batch_size, lr: passed to :func:`fit`.
        width: channels of the first conv block (the ViT's token dimension); default
            :data:`DEFAULT_WIDTHS` of the architecture.
        seed: data, initial weights and shuffling.
        progress: show tqdm bars.

    Returns:
        The trained model (eval mode) and its record (accuracy on the test set).
    """
    started = time.perf_counter()
    width = DEFAULT_WIDTHS.get(arch, 16) if width is None else width
    data = datasets.generate(dataset, samples, seed=seed, **options)
    test = datasets.generate(dataset, test_samples, seed=seed, start=TEST_START, **options)
    model = build(arch, len(data.class_names), in_channels=data.images.shape[1], width=width, seed=seed)
    fit(model, data.images, data.labels, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, progress=progress)
    accuracy = evaluate(model, test.images, test.labels)
    record = {
        "dataset": dataset,
        "options": data.options,
        "arch": arch,
        "width": width,
        "seed": seed,
        "samples": samples,
        "test_samples": test_samples,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "accuracy": accuracy,
        "seconds": round(time.perf_counter() - started, 1),
        "input_size": list(data.images.shape[-2:]),
        "class_names": data.class_names,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    return TrainResult(model, record)


def save_trained(result: TrainResult, path: str | Path) -> tuple[Path, Path]:
    """Write the weights (fp16) to ``path`` and the record to ``path`` with suffix ``.json``
    (:func:`neuromask.models.checkpoint.save_checkpoint`). Returns both paths."""
    return save_checkpoint(result.model, result.record, path)


def load_trained(path: str | Path) -> TrainResult:
    """Rebuild a model written by :func:`save_trained`, in eval mode
    (:func:`neuromask.models.checkpoint.load_checkpoint`)."""
    return TrainResult(*load_checkpoint(path))


def train_cifar10(
    root: str | Path,
    *,
    epochs: int = 50,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    download: bool = False,
    progress: bool = True,
) -> TrainResult:
    """Train :class:`CarliniWagnerCNN` on CIFAR-10 from ``torchvision.datasets.CIFAR10``.

    Needs torchvision (``pip install 'neuromask[vision]'``) and the data set under
    ``root`` (or ``download=True``). Inputs are pixels in [-0.5, 0.5] as in Carlini &
    Wagner: wrap the result with ``mean=(0.5,) * 3, std=(1.0,) * 3``.
    """
    tv = require("torchvision", "vision", "training on CIFAR-10")
    started = time.perf_counter()

    def tensors(train_split: bool) -> tuple[torch.Tensor, torch.Tensor]:
        data = tv.datasets.CIFAR10(str(Path(root).expanduser()), train=train_split, download=download)
        images = torch.from_numpy(data.data).permute(0, 3, 1, 2).float() / 255.0 - 0.5
        return images, torch.tensor(data.targets, dtype=torch.long)

    images, labels = tensors(True)
    test_images, test_labels = tensors(False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CarliniWagnerCNN()
    fit(model, images, labels, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, progress=progress)
    record = cifar10_record(
        seed=seed,
        epochs=epochs,
        accuracy=evaluate(model, test_images, test_labels),
        seconds=round(time.perf_counter() - started, 1),
    )
    return TrainResult(model, record)


# CIFAR-10's classes in label order (batches.meta of the data set, as torchvision reads it).
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def cifar10_record(*, seed: int, epochs: int, accuracy: float, seconds: float) -> dict[str, Any]:
    """What :func:`train_cifar10` records: everything :func:`load_trained` needs to rebuild it."""
    return {
        "dataset": "cifar10",
        "arch": "carlini_wagner",
        "width": 0,  # unused: the architecture is fixed
        "in_channels": 3,
        "class_names": list(CIFAR10_CLASSES),
        "input_size": [32, 32],
        "seed": seed,
        "epochs": epochs,
        "accuracy": accuracy,
        "seconds": seconds,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
