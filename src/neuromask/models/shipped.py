"""The small classifiers shipped with neuromask, trained on the known-answer datasets.

Every checkpoint in ``neuromask/data/weights/`` (``NAME.pt`` with its record ``NAME.json``,
:mod:`neuromask.models.checkpoint`) is registered into :data:`~neuromask.models.MODELS` as
``NAME``: shipping a model is adding its two files, nothing else. Today they are, per
dataset, a full-precision ``cnn`` (:class:`~neuromask.models.small.SmallCNN`), its
binarized twin ``bnn`` (:class:`~neuromask.models.binary.BinaryCNN`) and a vision
transformer ``vit`` (:class:`~neuromask.models.vit.SmallViT`), named
``<dataset>-<arch>``; ``docs/datasets.md`` gives their test accuracies and the
``neuromask train`` commands that reproduce them. They take [0, 1] pixels as they are (no
normalisation), at the size their record gives, resized by stretching.

Loading one imports :mod:`neuromask.models.checkpoint`, never the training code.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

from ..types import LoadedModel
from ._registry import MODELS

WEIGHTS = "data/weights"
# How `neuromask models` describes an architecture; another one is described by its name.
_ARCH_WORDS = {"cnn": "full-precision CNN", "bnn": "binarized CNN", "vit": "vision transformer"}


@cache
def shipped_records() -> dict[str, dict[str, Any]]:
    """Each shipped checkpoint's name and record, read from ``neuromask/data/weights/``."""
    from .checkpoint import read_record

    folder = resources.files("neuromask").joinpath(WEIGHTS)
    records = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".pt") and folder.joinpath(entry.name[:-3] + ".json").is_file():
            with resources.as_file(entry) as path:
                records[entry.name[:-3]] = read_record(path)
    return records


def shipped_models(arch: str | None = None) -> list[str]:
    """The names of the shipped models (of architecture ``arch`` only, e.g. ``"cnn"``), sorted."""
    return [name for name, record in shipped_records().items() if arch is None or record.get("arch") == arch]


def _builder(name: str, record: dict[str, Any]) -> Callable[[], LoadedModel]:
    def build() -> LoadedModel:
        from .checkpoint import load_checkpoint

        with resources.as_file(resources.files("neuromask").joinpath(f"{WEIGHTS}/{name}.pt")) as path:
            module, loaded = load_checkpoint(path)
        return LoadedModel(
            module=module,
            name=name,
            input_size=(int(loaded["input_size"][0]), int(loaded["input_size"][1])),
            mean=None,
            std=None,
            labels=list(loaded["class_names"]),
            channels=int(loaded.get("in_channels", 1)),
            resize="stretch",
            extra={"record": loaded},
        )

    words = _ARCH_WORDS.get(str(record.get("arch")), str(record.get("arch")))
    build.__doc__ = f"The shipped {words} trained on the {record.get('dataset')} dataset, in eval mode."
    return build


for _name, _record in shipped_records().items():
    _words = _ARCH_WORDS.get(str(_record.get("arch")), str(_record.get("arch")))
    MODELS.register(
        _name,
        description=f"{_words} for the known-answer dataset {_record.get('dataset')} (shipped weights)",
        dataset=_record.get("dataset"),
        arch=_record.get("arch"),
    )(_builder(_name, _record))
