"""What the benchmark runs: the ``quick`` and ``full`` suites.

A suite names the shipped known-answer models (each explained on held-out images of
its own dataset, against the evidence masks), the real photos (scikit-image's, on
EfficientNet-Lite0), how many images of each, which metric families each part gets,
and the options that make the metrics affordable. Every method runs at its default
options, except where ``method_params`` says otherwise (and the report prints those).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# scikit-image's bundled colour photos of ImageNet-like subjects (no download needed).
PHOTOS: tuple[str, ...] = ("chelsea", "coffee", "rocket", "astronaut", "stereo_motorcycle", "immunohistochemistry")


@dataclass(frozen=True)
class Suite:
    """A benchmark configuration.

    Attributes:
        name: ``quick`` or ``full``.
        datasets: shipped model names ``<dataset>-<arch>`` explained on their datasets.
        dataset_images: held-out images per dataset model.
        dataset_categories: metric categories computed on the datasets.
        photos: names of ``skimage.data`` photos.
        photo_model: the model that classifies the photos.
        photo_categories: metric categories computed on the photos.
        metric_params: options per metric name, per part (``"datasets"`` / ``"photos"``).
        method_params: options per method name, per part, overriding its defaults (and
            the pixel-sized options the runner scales for image sizes other than 224, read from
            :func:`neuromask.method_info`).
        methods: the methods to run; empty means every registered method.
    """

    name: str
    datasets: tuple[str, ...]
    dataset_images: int
    photos: tuple[str, ...]
    photo_model: str = "efficientnet_lite0"
    dataset_categories: tuple[str, ...] = ("localisation", "faithfulness", "complexity", "cost")
    photo_categories: tuple[str, ...] = ("faithfulness", "sanity", "cost")
    metric_params: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    method_params: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    methods: tuple[str, ...] = ()


SHIPPED_CNNS = ("triangles_squares-cnn", "counting-cnn", "shapes_on_texture-cnn")

# Coarser curves on the 224 x 224 photos: 8 x 224 pixels per step (28 steps instead of
# Petsiuk et al.'s 224) and 30 MoRF regions. On the datasets' small images the metrics
# keep their protocol defaults.
PHOTO_METRICS: dict[str, dict[str, Any]] = {
    "deletion": {"pixels_per_step": 224 * 8},
    "insertion": {"pixels_per_step": 224 * 8},
    "region_perturbation": {"regions": 30},
}

# quick only: fewer optimisation steps and samples, so that a smoke run takes minutes.
# Its numbers are not the methods' at their defaults; the full suite's are.
QUICK_METHODS: dict[str, dict[str, Any]] = {
    "neuromask": {"steps": 30},
    "extremal_perturbation": {"steps": 30},
    "meaningful_perturbation": {"steps": 30},
    "rise": {"masks": 100},
    "lime": {"samples": 60},
    "smoothgrad": {"samples": 8},
    "integrated_gradients": {"steps": 8},
}

SUITES: dict[str, Suite] = {
    "quick": Suite(
        name="quick",
        datasets=("triangles_squares-cnn",),
        dataset_images=2,
        photos=("chelsea",),
        metric_params={
            "photos": {
                "deletion": {"pixels_per_step": 224 * 28},
                "insertion": {"pixels_per_step": 224 * 28},
                "region_perturbation": {"regions": 10},
            }
        },
        method_params={"datasets": QUICK_METHODS, "photos": QUICK_METHODS},
    ),
    # What the README shows; every method at its defaults.
    "full": Suite(
        name="full",
        datasets=SHIPPED_CNNS,
        dataset_images=4,
        photos=PHOTOS[:2],
        metric_params={"photos": PHOTO_METRICS},
    ),
}
