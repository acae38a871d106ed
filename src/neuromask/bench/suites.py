"""What the benchmark runs, and what it counts as good: the ``quick`` and ``full`` suites.

A suite names

- the shipped known-answer models, each explained on held-out images of its own dataset
  against the evidence masks (``datasets``);
- the composites (:func:`neuromask.datasets.composite_scenes`) for real ImageNet models,
  one split: scenes of one object on flat and on textured backgrounds, and scenes of two
  objects where each object's class is explained in turn (``composites``);
- scikit-image's photos on EfficientNet-Lite0 (``photos``);

how many images of each, which metric families each part gets, the options that make
the metrics affordable, and the *goals*: the thresholds the report checks and the
method it highlights. Every method runs at its registered defaults (pixel-sized options
scaled with the image by :func:`neuromask.method_info`), except where ``method_params``
says otherwise; the runner's resume key holds the resolved options, so a changed
option or default is a new cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..models.shipped import shipped_models

# scikit-image's bundled colour photos of ImageNet-like subjects (no download needed).
PHOTOS: tuple[str, ...] = ("chelsea", "coffee", "rocket", "astronaut", "stereo_motorcycle", "immunohistochemistry")


@dataclass(frozen=True)
class Goals:
    """What the report checks, with the numbers it states (the issue's closing note).

    Attributes:
        highlight: the method the goals are about (drawn in red, bold in tables).
        within_best: localisation goal: at most this far below the best method.
        localisation: the metrics the localisation goal covers.
        max_randomisation: rank correlation under full randomisation must be below this.
        min_margin: two-object scenes: the mean own-minus-other mass margin must reach this.
        min_correct: two-object scenes: the share with a positive margin must reach this.
        gradient_kinds: method kinds whose insertion - deletion the highlight must match.
    """

    highlight: str = "neuromask"
    within_best: float = 0.02
    localisation: tuple[str, ...] = ("energy_pointing_game", "auroc", "equal_area_iou")
    max_randomisation: float = 0.3
    min_margin: float = 0.5
    min_correct: float = 1.0
    gradient_kinds: tuple[str, ...] = ("gradient", "cam")


@dataclass(frozen=True)
class Suite:
    """A benchmark configuration.

    Attributes:
        name: ``quick`` or ``full``.
        datasets: shipped model names ``<dataset>-<arch>`` explained on their datasets.
        dataset_images: held-out images per dataset model.
        photos: names of ``skimage.data`` photos.
        photo_model: the model that classifies the photos.
        composite_models: real models explained on composites.
        composite_split: ``"test"`` (report) or ``"dev"`` (tuning).
        composite_images: scenes of one object per background (flat, texture) and model.
        composite_pairs: scenes of two objects per model (each explained twice).
        sanity_images: the first this many images of each group get the ``sanity``
            category (it explains each image again on a randomised model); ``None``: all.
        categories: metric categories per part (``datasets``, ``composites``, ``photos``).
        metric_params: options per metric name, per part.
        method_params: options per method name, per part, overriding its defaults.
        methods: the methods to run; empty means every registered method available here.
        goals: what the report checks.
        bootstrap: resamples for the 95 % confidence intervals (seeded).
    """

    name: str
    datasets: tuple[str, ...]
    dataset_images: int
    photos: tuple[str, ...]
    photo_model: str = "efficientnet_lite0"
    composite_models: tuple[str, ...] = ()
    composite_split: str = "test"
    composite_images: int = 0
    composite_pairs: int = 0
    sanity_images: int | None = None
    categories: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            "datasets": ("localisation", "faithfulness", "sanity", "complexity", "cost"),
            "composites": ("localisation", "sanity", "cost"),
            "photos": ("faithfulness", "sanity", "cost"),
        }
    )
    metric_params: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    method_params: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    methods: tuple[str, ...] = ()
    goals: Goals = Goals()
    bootstrap: int = 2000


# Every shipped full-precision model, read from the shipped weight files: a dataset whose
# CNN is shipped is in the full suite.
SHIPPED_CNNS = tuple(shipped_models("cnn"))
# The transformer twins (SmallViT) of the CNNs, on the same datasets: which methods
# localise on a transformer, and whether NeuroMask's lead holds there.
SHIPPED_VITS = tuple(shipped_models("vit"))

# Coarser curves on 224 px images: 8 x 224 pixels per step (28 steps instead of
# Petsiuk et al.'s 224) and 30 MoRF regions. On the datasets' small images the metrics
# keep their protocol defaults.
REAL_METRICS: dict[str, dict[str, Any]] = {
    "deletion": {"pixels_per_step": 224 * 8},
    "insertion": {"pixels_per_step": 224 * 8},
    "region_perturbation": {"regions": 30},
}


def _quick_methods() -> dict[str, dict[str, Any]]:
    """quick only: each method's ``fast`` preset (every slow method registers one). Its
    numbers are not the methods' at their defaults; the full suite's are."""
    from ..api import method_info, methods

    return {name: {"preset": "fast"} for name in sorted(methods()) if "fast" in method_info(name).presets}


def _suites() -> dict[str, Suite]:
    quick_methods = _quick_methods()
    return {
        "quick": Suite(
            name="quick",
            datasets=("triangles_squares-cnn",),
            dataset_images=2,
            photos=("chelsea",),
            composite_models=("efficientnet_lite0",),
            composite_images=1,
            composite_pairs=1,
            sanity_images=1,
            metric_params={
                part: {
                    "deletion": {"pixels_per_step": 224 * 28},
                    "insertion": {"pixels_per_step": 224 * 28},
                    "region_perturbation": {"regions": 10},
                }
                for part in ("photos", "composites")
            },
            method_params={"datasets": quick_methods, "photos": quick_methods, "composites": quick_methods},
            bootstrap=200,
        ),
        # What the README and SUMMARY report; every method at its defaults. Sized for
        # 90 minutes on an idle 2-core machine: see benchmarks/results/benchmark/SUMMARY.md.
        "full": Suite(
            name="full",
            datasets=SHIPPED_CNNS + SHIPPED_VITS,
            dataset_images=50,
            photos=PHOTOS[:2],
            composite_models=("efficientnet_lite0",),
            composite_images=15,
            composite_pairs=8,
            sanity_images=3,
            metric_params={"photos": REAL_METRICS, "composites": REAL_METRICS},
        ),
    }


SUITES: dict[str, Suite] = _suites()
