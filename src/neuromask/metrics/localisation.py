"""Localisation: does the map point at the evidence a known-answer dataset marks?

Each function takes attribution (N, H, W) and evidence (N, H, W) bool (every image
with some, but not all, pixels marked) and returns a score (N,) on the CPU; higher is
better for all three.

- :func:`pointing_game` (Zhang et al., 2016/2018): a hit when the map's maximum lies
  within ``tolerance`` pixels of the evidence.
- :func:`energy_pointing_game` (Wang et al., 2020, "Score-CAM"): the share of the
  map's positive mass that falls on the evidence.
- :func:`auroc`: the area under the ROC curve of the map's values as a per-pixel
  classifier of evidence versus background (scikit-learn's ``roc_auc_score``; ties
  count one half, so a uniform map scores 0.5).
- :func:`equal_area_iou`: the intersection over union of the map's top-|evidence|
  pixels with the evidence.
- :func:`mass_margin`: for scenes of two objects, the share of the map's positive
  mass on the explained object minus the share on the other object.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score

from ..errors import InputError
from ._common import check_attribution, check_evidence
from ._registry import METRICS

# Zhang et al. count a hit within 15 pixels of the object at 224 x 224; other sizes
# scale the tolerance with the shorter image side.
REFERENCE_TOLERANCE = 15
REFERENCE_SIZE = 224


def _dilate(mask: torch.Tensor, radius: float) -> torch.Tensor:
    """Grow a bool mask (N, H, W) by a disk of ``radius`` pixels (Euclidean)."""
    r = int(math.floor(radius))
    if r < 1:
        return mask
    coords = torch.arange(-r, r + 1, dtype=torch.float32)
    disk = ((coords[:, None] ** 2 + coords[None, :] ** 2) <= radius**2).float()
    grown = F.conv2d(mask.float()[:, None], disk[None, None], padding=r)[:, 0]
    return grown > 0


@METRICS.register(
    "pointing_game", higher_is_better=True, category="localisation", needs=("evidence",), applies_to="any"
)
def pointing_game(attribution: torch.Tensor, evidence: torch.Tensor, *, tolerance: float | None = None) -> torch.Tensor:
    """Pointing game (N,) in [0, 1]: 1 when the map's maximum is within ``tolerance`` of the evidence.

    Args:
        attribution: (N, H, W), higher = more relevant.
        evidence: (N, H, W) bool, the pixels that carry the class.
        tolerance: radius in pixels by which the evidence is grown before testing;
            ``None``: 15 at 224 x 224 (Zhang et al.'s), scaled with the shorter side.

    Returns:
        (N,): 1 for a hit, 0 for a miss. When several pixels share the maximum, the share
        of them that hit: the expected score of breaking the tie at random (a uniform map
        scores the grown evidence's share of the image, i.e. chance).
    """
    attribution = check_attribution(attribution)
    evidence = check_evidence(evidence, attribution)
    h, w = attribution.shape[1:]
    if tolerance is None:
        tolerance = REFERENCE_TOLERANCE * min(h, w) / REFERENCE_SIZE
    if tolerance < 0:
        raise InputError(f"tolerance must be >= 0; got {tolerance}")
    target = _dilate(evidence, tolerance)
    peaks = attribution == attribution.amax(dim=(1, 2), keepdim=True)
    return (peaks & target).flatten(1).sum(1).float() / peaks.flatten(1).sum(1).float()


@METRICS.register(
    "energy_pointing_game", higher_is_better=True, category="localisation", needs=("evidence",), applies_to="any"
)
def energy_pointing_game(attribution: torch.Tensor, evidence: torch.Tensor) -> torch.Tensor:
    """Energy-based pointing game (N,) in [0, 1]: sum of the positive map on the evidence / its total.

    Args:
        attribution: (N, H, W); negative values count as 0 (evidence against the class
            is not attention to it).
        evidence: (N, H, W) bool.

    Returns:
        (N,); NaN for an image whose map has no positive value.
    """
    attribution = check_attribution(attribution)
    evidence = check_evidence(evidence, attribution)
    positive = attribution.clamp(min=0)
    total = positive.flatten(1).sum(1)
    inside = (positive * evidence).flatten(1).sum(1)
    return torch.where(total > 0, inside / total.clamp(min=torch.finfo(total.dtype).tiny), torch.nan)


@METRICS.register("auroc", higher_is_better=True, category="localisation", needs=("evidence",), applies_to="any")
def auroc(attribution: torch.Tensor, evidence: torch.Tensor) -> torch.Tensor:
    """AUROC (N,) in [0, 1] of the map's values as scores for the evidence pixels.

    The probability that a random evidence pixel scores higher than a random background
    pixel (ties count 1/2): 1 for a map that is higher everywhere on the evidence, 0.5
    for a uniform map, 0 for a map higher everywhere off it.

    Args:
        attribution: (N, H, W), signed values used as they are.
        evidence: (N, H, W) bool.
    """
    attribution = check_attribution(attribution)
    evidence = check_evidence(evidence, attribution)
    scores = attribution.flatten(1).double().numpy()
    positive = evidence.flatten(1).numpy()
    return torch.tensor([roc_auc_score(y, s) for y, s in zip(positive, scores)], dtype=torch.float32)


@METRICS.register(
    "equal_area_iou", higher_is_better=True, category="localisation", needs=("evidence",), applies_to="any"
)
def equal_area_iou(attribution: torch.Tensor, evidence: torch.Tensor) -> torch.Tensor:
    """IoU (N,) in [0, 1] of the map's top-k pixels with the evidence, k = the evidence's pixel count.

    The map is thresholded at the evidence's own area, so the score does not depend on a
    threshold or on the map's scale: 1 when the k highest pixels are exactly the
    evidence. Pixels tied with the k-th value enter in proportion: of the t pixels tied
    at the cut, of which the top-k needs r, each counts r / t (the expected IoU of
    breaking the tie at random), so a uniform map scores chance, k / (2 HW - k).

    Args:
        attribution: (N, H, W), signed values used as they are.
        evidence: (N, H, W) bool.
    """
    attribution = check_attribution(attribution)
    evidence = check_evidence(evidence, attribution)
    scores = attribution.flatten(1).double()
    positive = evidence.flatten(1)
    out = []
    for s, y in zip(scores, positive):
        k = int(y.sum())
        cut = torch.sort(s, descending=True).values[k - 1]
        above, tied = s > cut, s == cut
        # Weight of each pixel in the top-k: 1 above the cut, r / t at it.
        weight = above.double() + tied.double() * (k - int(above.sum())) / int(tied.sum())
        hit = float((weight * y).sum())
        out.append(hit / (2 * k - hit))  # |A and B| / |A or B| with |A| = |B| = k
    return torch.tensor(out, dtype=torch.float32)


@METRICS.register(
    "mass_margin",
    higher_is_better=True,
    category="localisation",
    needs=("evidence", "other_evidence"),
    applies_to="any",
)
def mass_margin(attribution: torch.Tensor, evidence: torch.Tensor, other_evidence: torch.Tensor) -> torch.Tensor:
    """Own-minus-other mass (N,) in [-1, 1] in a scene of two objects.

    The energy pointing game on the explained object minus the same share on the other
    object: positive when the map puts more of its positive mass on the class it explains
    than on the other class's object (class-discriminative), 1 at best.

    Args:
        attribution: (N, H, W) for the class whose object is ``evidence``.
        evidence: (N, H, W) bool, the explained object.
        other_evidence: (N, H, W) bool, the other object.

    Returns:
        (N,); NaN for an image whose map has no positive value.
    """
    margin: torch.Tensor = energy_pointing_game(attribution, evidence) - energy_pointing_game(
        attribution, other_evidence
    )
    return margin
