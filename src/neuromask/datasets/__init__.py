"""Procedural datasets with known answers: images, labels and pixel-accurate evidence.

::

    from neuromask import datasets
    data = datasets.generate("triangles_squares", 1000, seed=0, variant="oriented")
    data.images    # (N, 1, H, W) float32 in [0, 1]
    data.labels    # (N,) long
    data.evidence  # (N, H, W) bool, exactly the pixels of the class-defining object(s)
    for chunk in datasets.stream("counting", 100_000, seed=0, batch_size=256): ...

Registered datasets (``DATASETS.names()``): ``triangles_squares`` (variants ``oriented``,
``scaled``), ``counting`` and ``shapes_on_texture``; and two domain scenarios for
``neuromask evaluate``: ``cells`` (grey, a microscopy-like field, labelled by how many cells
carry a parasite) and ``settlements`` (RGB aerial-like tiles, a planned or an informal
settlement). :func:`write_folder` writes any of them as PNG images and masks.

For real ImageNet classifiers, :func:`composite_scenes` pastes real objects cut from photos
onto flat and textured backgrounds, with exact object masks and a development / test
split (see :mod:`neuromask.datasets.composites`).
"""

from . import cells as _cells  # noqa: F401  (registers the generator)
from . import counting as _counting  # noqa: F401
from . import settlements as _settlements  # noqa: F401
from . import shapes_on_texture as _shapes_on_texture  # noqa: F401
from . import triangles_squares as _triangles_squares  # noqa: F401
from ._base import DATASETS, Dataset, class_names, concat, dataset_options, generate, load, save, stream
from .composites import Composites, composite_scenes
from .export import write_folder

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
    "write_folder",
]
