"""The paper's three findings, each turned into a statistic, an interval and a verdict.

Every similarity is read against the cross-seed bands: two FP models trained with
different seeds are not identical either, so "FP and BNN maps are similar" can only mean
"a BNN's map resembles an FP model's as much as another FP model's does". The ``gap`` is
FP-vs-BNN minus FP-vs-FP, bootstrapped as a paired difference; the BNN-vs-BNN band says
whether BNN maps are even consistent among themselves (a low one: the BNN's maps depend
on the seed more than on the image).

Verdicts (``reproduced``, ``not reproduced``, ``reproduced only as stated``), the rules:

1. *Gradient maps are very similar on both.* Spearman of saliency maps. Reproduced when
   the gap's interval reaches 0 or above (FP-vs-BNN is not measurably less similar than
   two seeds of the less consistent architecture); not reproduced otherwise.
2. *SmoothGrad is significantly noisier on BNNs.* Total variation of SmoothGrad maps,
   BNN / FP. Reproduced when the ratio's interval lies above 1; *reproduced only as
   stated* when it does not, but SmoothGrad raises the BNN's noise relative to its own
   gradient maps significantly more than the FP's (the ratio of the two TV(SmoothGrad) /
   TV(saliency) ratios lies above 1): noisier than it would be, not noisier than the FP
   map; not reproduced otherwise.
3. *Grad-CAM differs between the two, some BNN maps nonsensical.* Spearman of Grad-CAM
   maps at the last convolution. Reproduced when the gap's interval lies below 0; reproduced
   only as stated when it does not, but the gap at some inner layer does (they differ,
   but not at the layer Grad-CAM uses by default); not reproduced otherwise.

Where an interval cannot be computed (a run with one seed) the verdict is ``undetermined``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import stats
from .config import StudyConfig

# Reads one dataset's part out of its results.
Getter = Callable[..., Any]

VERDICTS = ("reproduced", "not reproduced", "reproduced only as stated")


def _finite(ci: list[float]) -> bool:
    return all(np.isfinite(ci))


def _band_summary(results: list[dict[str, Any]], get: Getter) -> dict[str, Any]:
    """Pool the bands (``fp_fp``, ``bnn_bnn``, ``fp_bnn``, ``gap``) of every dataset."""
    parts = [get(r) for r in results]
    return {k: stats.pooled([p[k] for p in parts]) for k in ("fp_fp", "bnn_bnn", "fp_bnn", "gap")}


def _public_bands(bands: dict[str, Any]) -> dict[str, Any]:
    return {k: stats.public(v) for k, v in bands.items()}


def _per_dataset(results: list[dict[str, Any]], get: Getter) -> dict[str, Any]:
    return {r["dataset"]: _public_bands(get(r)) for r in results}


def finding_gradient(results: list[dict[str, Any]]) -> dict[str, Any]:
    def get(r: dict[str, Any]) -> Any:
        return r["main"]["similarity"]["saliency"]["spearman"]

    bands = _band_summary(results, get)
    gap = bands["gap"]
    if not _finite(gap["ci95"]):
        verdict = "undetermined"
    else:
        verdict = "reproduced" if gap["ci95"][1] >= 0 else "not reproduced"
    also = {
        name: _public_bands(_band_summary(results, lambda r, n=name: r["main"]["similarity"]["saliency"][n]))
        for name in ("ssim", "top10_iou")
    }
    return {
        "finding": "Plain gradient (saliency) maps look very similar for BNNs and full-precision networks",
        "statistic": "Spearman correlation of saliency maps, FP vs BNN (different seeds), mean over pairs and images",
        "value": bands["fp_bnn"]["value"],
        "ci95": bands["fp_bnn"]["ci95"],
        "band": {"fp_fp": stats.public(bands["fp_fp"]), "bnn_bnn": stats.public(bands["bnn_bnn"])},
        "gap": stats.public(gap),
        "verdict": verdict,
        "also": also,
        "per_dataset": _per_dataset(results, get),
    }


def _tv(r: dict[str, Any], arch: str, method: str) -> np.ndarray:
    return np.asarray(r["main"]["_raw"][arch][method]["total_variation"])


def _per_image_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den per (seed, image); NaN where den is 0 (an all-zero saliency map has no noise to scale)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def finding_smoothgrad(results: list[dict[str, Any]], config: StudyConfig) -> dict[str, Any]:
    absolute = stats.pooled(
        [
            stats.bootstrap_ratio(_tv(r, "bnn", "smoothgrad"), _tv(r, "cnn", "smoothgrad"), resamples=config.resamples)
            for r in results
        ]
    )
    relative = stats.pooled(
        [
            stats.bootstrap_ratio(
                _per_image_ratio(_tv(r, "bnn", "smoothgrad"), _tv(r, "bnn", "saliency")),
                _per_image_ratio(_tv(r, "cnn", "smoothgrad"), _tv(r, "cnn", "saliency")),
                resamples=config.resamples,
            )
            for r in results
        ]
    )
    # The band: how far the TV of one FP seed's SmoothGrad maps is from another's
    # (min and max over seeds of the per-seed mean, per architecture, pooled over datasets).
    band = {
        arch: [
            float(np.mean([np.nanmean(_tv(r, arch, "smoothgrad"), axis=1).min() for r in results])),
            float(np.mean([np.nanmean(_tv(r, arch, "smoothgrad"), axis=1).max() for r in results])),
        ]
        for arch in ("cnn", "bnn")
    }
    if not (_finite(absolute["ci95"]) and _finite(relative["ci95"])):
        verdict = "undetermined"
    elif absolute["ci95"][0] > 1:
        verdict = "reproduced"
    elif relative["ci95"][0] > 1:
        verdict = "reproduced only as stated"
    else:
        verdict = "not reproduced"
    tv = {
        arch: {
            m: stats.public(stats.pooled([r["main"]["metrics"][arch][m]["total_variation"] for r in results]))
            for m in ("saliency", "smoothgrad")
        }
        for arch in ("cnn", "bnn")
    }
    hf = {
        arch: {
            m: stats.public(stats.pooled([r["main"]["metrics"][arch][m]["high_frequency"] for r in results]))
            for m in ("saliency", "smoothgrad")
        }
        for arch in ("cnn", "bnn")
    }
    return {
        "finding": "SmoothGrad produces significantly noisier maps for BNNs",
        "statistic": "total variation of SmoothGrad maps, BNN / FP (ratio of means; > 1: BNN noisier)",
        "value": absolute["value"],
        "ci95": absolute["ci95"],
        "band": {"per_seed_mean_tv_range": band},
        "relative": {
            "statistic": "[TV(SmoothGrad) / TV(saliency)] of the BNN over the same ratio of the FP",
            **stats.public(relative),
        },
        "total_variation": tv,
        "high_frequency_share": hf,
        "verdict": verdict,
    }


def finding_gradcam(results: list[dict[str, Any]]) -> dict[str, Any]:
    layers = results[0]["gradcam_layers"]["layers"]

    def at(depth: int) -> Getter:
        return lambda r: r["gradcam_layers"]["similarity"]["plain"][str(depth)]

    per_layer = {str(k): _band_summary(results, at(k)) for k in range(1, layers + 1)}
    last = per_layer[str(layers)]
    inner_below = [
        k
        for k in range(1, layers)
        if _finite(per_layer[str(k)]["gap"]["ci95"]) and per_layer[str(k)]["gap"]["ci95"][1] < 0
    ]
    if not _finite(last["gap"]["ci95"]):
        verdict = "undetermined"
    elif last["gap"]["ci95"][1] < 0:
        verdict = "reproduced"
    elif inner_below:
        verdict = "reproduced only as stated"
    else:
        verdict = "not reproduced"
    zero = {
        arch: {
            str(k): stats.public(
                stats.pooled([r["gradcam_layers"]["variants"][f"{arch}/plain"][str(k)]["all_zero"] for r in results])
            )
            for k in range(1, layers + 1)
        }
        for arch in ("cnn", "bnn")
    }
    return {
        "finding": "Grad-CAM maps differ between BNNs and full-precision networks, some BNN maps nonsensical",
        "statistic": f"Spearman correlation of Grad-CAM maps at the last convolution (layer {layers}), FP vs BNN",
        "value": last["fp_bnn"]["value"],
        "ci95": last["fp_bnn"]["ci95"],
        "band": {"fp_fp": stats.public(last["fp_fp"]), "bnn_bnn": stats.public(last["bnn_bnn"])},
        "gap": stats.public(last["gap"]),
        "per_layer": {k: _public_bands(v) for k, v in per_layer.items()},
        "all_zero_share": zero,
        "verdict": verdict,
    }


def finding_neuromask(results: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not all("neuromask" in r["main"]["similarity"] for r in results):
        return None
    bands = _band_summary(results, lambda r: r["main"]["similarity"]["neuromask"]["spearman"])
    epg = {
        arch: stats.public(stats.pooled([r["main"]["metrics"][arch]["neuromask"]["energy_pointing"] for r in results]))
        for arch in ("cnn", "bnn")
    }
    within = _finite(bands["gap"]["ci95"]) and bands["gap"]["ci95"][1] >= 0
    return {
        "id": "neuromask",
        "finding": "NeuroMask (not in the paper): its maps of FP and BNN against its cross-seed band; localisation on both",
        "statistic": "Spearman correlation of NeuroMask masks, FP vs BNN",
        "value": bands["fp_bnn"]["value"],
        "ci95": bands["fp_bnn"]["ci95"],
        "band": {"fp_fp": stats.public(bands["fp_fp"]), "bnn_bnn": stats.public(bands["bnn_bnn"])},
        "gap": stats.public(bands["gap"]),
        "energy_pointing_game": epg,
        "standing": "as similar as two FP seeds" if within else "less similar than two FP seeds",
    }


def build_findings(results: list[dict[str, Any]], config: StudyConfig) -> dict[str, Any]:
    """What findings.json holds: ``findings``, the paper's three findings (ids 1-3, each with
    ``statistic``, ``value``, ``ci95``, ``band``, ``verdict``), and ``neuromask``, NeuroMask's
    standing (``None`` when the run left NeuroMask out). NeuroMask is kept out of the list:
    it is not one of the paper's findings and has no reproduced / not reproduced verdict."""
    findings = [finding_gradient(results), finding_smoothgrad(results, config), finding_gradcam(results)]
    for i, f in enumerate(findings, 1):
        f["id"] = i
    return {"findings": findings, "neuromask": finding_neuromask(results)}
