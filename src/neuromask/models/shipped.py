"""The small classifiers shipped with neuromask, trained on the known-answer datasets.

Registered into :data:`~neuromask.models.MODELS` as ``<dataset>-<arch>``: one full-precision
``cnn`` (:class:`~neuromask.models.small.SmallCNN`), one binarized ``bnn``
(:class:`~neuromask.models.binary.BinaryCNN`) and one vision transformer ``vit``
(:class:`~neuromask.models.vit.SmallViT`) per dataset. Their weights (fp16) and
training records live in ``neuromask/data/weights/``; ``docs/datasets.md`` gives their test
accuracies and the ``neuromask train`` commands that reproduce them. They take grey
[0, 1] pixels as they are (no normalisation), at the dataset's size.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path

from ..types import LoadedModel
from . import MODELS

# (dataset, arch) pairs with weights under data/weights/<dataset>-<arch>.pt (+ .json record).
SHIPPED: tuple[tuple[str, str], ...] = tuple(
    (dataset, arch)
    for dataset in ("triangles_squares", "counting", "shapes_on_texture")
    for arch in ("cnn", "bnn", "vit")
)
_ARCH_WORDS = {"cnn": "full-precision CNN", "bnn": "binarized CNN", "vit": "vision transformer"}


def trained_model(path: str | Path, name: str) -> LoadedModel:
    """A model written by ``neuromask train`` (weights ``path`` and its ``.json`` record beside it).

    It takes the dataset's [0, 1] pixels as they are (no normalisation), grey or RGB as it
    was trained, stretched to the dataset's size; its labels are the dataset's classes.
    """
    from .train import load_trained

    result = load_trained(path)
    record = result.record
    return LoadedModel(
        module=result.model,
        name=name,
        input_size=(int(record["input_size"][0]), int(record["input_size"][1])),
        mean=None,
        std=None,
        labels=list(record["class_names"]),
        channels=int(record.get("in_channels", 1)),
        resize="stretch",
        extra={"record": record},
    )


def _builder(dataset: str, arch: str) -> Callable[[], LoadedModel]:
    name = f"{dataset}-{arch}"

    def build() -> LoadedModel:
        weights = resources.files("neuromask").joinpath(f"data/weights/{name}.pt")
        with resources.as_file(weights) as path:
            return trained_model(path, name)

    build.__doc__ = f"The shipped {_ARCH_WORDS[arch]} trained on the {dataset} dataset, in eval mode."
    return build


for _dataset, _arch in SHIPPED:
    MODELS.register(
        f"{_dataset}-{_arch}",
        description=f"{_ARCH_WORDS[_arch]} for the known-answer dataset {_dataset} (grey, shipped weights)",
    )(_builder(_dataset, _arch))
