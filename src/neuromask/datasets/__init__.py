"""Procedural datasets with known answers: images, labels and pixel-accurate evidence.

::

    from neuromask import datasets
    data = datasets.generate("triangles_squares", 1000, seed=0, variant="oriented")
    data.images    # (N, 1, H, W) float32 in [0, 1]
    data.labels    # (N,) long
    data.evidence  # (N, H, W) bool, exactly the pixels of the class-defining object(s)
    for chunk in datasets.stream("counting", 100_000, seed=0, batch_size=256): ...

Registered datasets (``DATASETS.names()``): ``triangles_squares`` (variants ``oriented``,
``scaled``), ``counting`` and ``shapes_on_texture``. Each is one module of this package,
found and imported below: a new dataset is a new file here and nothing else (the docs'
figure and ``neuromask train`` read the registry; a model trained on it is shipped by
adding its checkpoint to ``neuromask/data/weights/``, and the full benchmark and the BNN
study take the shipped models' datasets).

For real ImageNet classifiers, :func:`composite_scenes` pastes real objects cut from photos
onto flat and textured backgrounds, with exact object masks and a development / test
split (see :mod:`neuromask.datasets.composites`).
"""

from ..registry import import_submodules
from ._base import DATASETS, Dataset, class_names, concat, dataset_options, generate, load, save, stream
from .composites import Composites, composite_scenes

# Import every module of this package so that its @DATASETS.register runs: a new one is a new file.
import_submodules(__name__, __path__)

__all__ = [
    "DATASETS",
    "Dataset",
    "Composites",
    "composite_scenes",
    "class_names",
    "concat",
    "dataset_options",
    "generate",
    "load",
    "save",
    "stream",
]
