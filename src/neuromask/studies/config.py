"""The BNN study's configuration: what a run covers, and the quick and full runs.

Its own module, below :mod:`.bnn` (which runs it) and :mod:`.findings` (which reads it),
so that neither imports the other's configuration back.

The study runs on every dataset whose binarized twin ships with neuromask (a ``bnn``
checkpoint in ``neuromask/data/weights/``, :func:`neuromask.models.shipped.shipped_models`):
shipping a dataset's BNN puts the dataset in the study, with :data:`DEFAULT_RECIPE` unless
:data:`RECIPES` names its own. (The study trains its own seeds; the shipped twin says that a
BNN of the dataset is worth studying.)
"""

from __future__ import annotations

from dataclasses import dataclass

from ..models.shipped import shipped_records
from . import stats
from .models import Recipe

ARCHS = ("cnn", "bnn")
# The methods the paper compared (registered names); the study adds every other method.
PAPER_METHODS = ("saliency", "smoothgrad", "gradcam")
# One training recipe per dataset for every seed of both runs (so the quick run reuses the
# full run's seeds 0-2 from the cache). Smaller than the shipped models' recipes
# (docs/datasets.md): 30 models at those sizes took over 2 hours of one shared core.
DEFAULT_RECIPE = Recipe(3000, 5)
# Datasets whose models need more: counting's four classes of 1 to 4 objects.
RECIPES: dict[str, Recipe] = {"counting": Recipe(5000, 8)}


def recipes(datasets: tuple[str, ...]) -> dict[str, Recipe]:
    """Each dataset's recipe: its own in :data:`RECIPES`, else :data:`DEFAULT_RECIPE`."""
    return {name: RECIPES.get(name, DEFAULT_RECIPE) for name in datasets}


@dataclass(frozen=True)
class StudyConfig:
    """What one run covers.

    Attributes:
        name: ``quick`` or ``full``.
        datasets: registered dataset names.
        seeds: models per architecture and dataset (seeds 0 .. seeds - 1).
        images: held-out images per dataset.
        methods: method names; empty = every available method except the ``baseline``
            kind (they ignore the model, so their FP-vs-BNN similarity is trivially 1).
        recipes: how each dataset's models are trained.
        smoothgrad_noise: SmoothGrad noise levels (fraction of the image's range).
        smoothgrad_samples: SmoothGrad sample counts for the convergence curve.
        occupancy_noise: noise levels at which the estimator window's occupancy is read.
        forward_samples: antithetic pairs of the forward-only SmoothGrad.
        sanity_methods: methods checked by model randomisation; empty = all.
        resamples: bootstrap resamples.
    """

    name: str
    datasets: tuple[str, ...]
    seeds: int
    images: int
    methods: tuple[str, ...]
    recipes: dict[str, Recipe]
    smoothgrad_noise: tuple[float, ...] = (0.05, 0.15, 0.3)
    smoothgrad_samples: tuple[int, ...] = (5, 10, 25, 50, 100)
    occupancy_noise: tuple[float, ...] = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3)
    forward_samples: int = 1000
    sanity_methods: tuple[str, ...] = ()
    resamples: int = stats.BOOTSTRAP


_DATASETS = tuple(sorted({str(r["dataset"]) for r in shipped_records().values() if r.get("arch") == "bnn"}))

QUICK = StudyConfig(
    name="quick",
    datasets=_DATASETS,
    seeds=3,
    images=6,
    methods=PAPER_METHODS + ("neuromask", "integrated_gradients", "occlusion", "rise", "lime"),
    recipes=recipes(_DATASETS),
    smoothgrad_samples=(5, 20, 50),
    forward_samples=500,
    sanity_methods=PAPER_METHODS + ("neuromask",),
)
# Every method of the library but the baselines (methods=()): the perturbation methods too.
FULL = StudyConfig(
    name="full",
    datasets=_DATASETS,
    seeds=5,
    images=8,
    recipes=recipes(_DATASETS),
    methods=(),
    smoothgrad_samples=(5, 10, 25, 50),
    forward_samples=1000,
    sanity_methods=PAPER_METHODS + ("neuromask", "integrated_gradients", "occlusion"),
)
