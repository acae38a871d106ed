"""The study's statistics: map similarity, map noise, and the hierarchical bootstrap.

Maps are numpy arrays (N, H, W). Similarities are per image (N,); the bootstrap turns
per-(seed, image) or per-(seed pair, image) values into a mean with a 95 % interval.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from skimage.metrics import structural_similarity

from ..metrics.sanity import rank_correlation

# Resamples of every bootstrap (the percentile interval's 2.5 % and 97.5 % points).
BOOTSTRAP = 1000


def _unit(maps: np.ndarray) -> np.ndarray:
    """Each map (N, H, W) min-max scaled to [0, 1]; a constant map becomes all zeros."""
    lo = maps.min(axis=(1, 2), keepdims=True)
    span = maps.max(axis=(1, 2), keepdims=True) - lo
    return np.where(span > 0, (maps - lo) / np.where(span > 0, span, 1.0), 0.0)


def spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman correlation (N,) of maps a, b (N, H, W); 0 where either map is constant.

    A constant map (e.g. an all-zero Grad-CAM) ranks nothing, so it shares no ranking
    with any map: 0, not NaN, so that such maps pull the mean down instead of dropping out.
    """
    rho = rank_correlation(torch.from_numpy(np.ascontiguousarray(a)), torch.from_numpy(np.ascontiguousarray(b)))
    return np.nan_to_num(rho.numpy().astype(np.float64), nan=0.0)


def ssim(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Structural similarity (N,) of the min-max scaled maps (scikit-image, 7 x 7 window)."""
    ua, ub = _unit(a), _unit(b)
    return np.array([structural_similarity(x, y, data_range=1.0) for x, y in zip(ua, ub)])


def top_iou(a: np.ndarray, b: np.ndarray, fraction: float = 0.1) -> np.ndarray:
    """IoU (N,) of the top ``fraction`` pixels of a and of b (ties broken by position)."""
    n = a.shape[0]
    k = max(1, round(fraction * a[0].size))
    ta = np.argsort(-a.reshape(n, -1), axis=1, kind="stable")[:, :k]
    tb = np.argsort(-b.reshape(n, -1), axis=1, kind="stable")[:, :k]
    return np.array([len(np.intersect1d(x, y)) / len(np.union1d(x, y)) for x, y in zip(ta, tb)])


SIMILARITIES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "spearman": spearman,
    "ssim": ssim,
    "top10_iou": top_iou,
}


def high_frequency_share(maps: np.ndarray, cutoff: float = 0.25) -> np.ndarray:
    """Share (N,) of each map's spectral power (mean removed) above ``cutoff`` cycles per pixel.

    0.25 cycles/pixel is half the Nyquist frequency: a smooth blob has almost no power
    there, pixel-to-pixel speckle has most of it. NaN for a constant map.
    """
    centred = maps - maps.mean(axis=(1, 2), keepdims=True)
    power = np.abs(np.fft.fft2(centred)) ** 2
    fy = np.fft.fftfreq(maps.shape[1])[:, None]
    fx = np.fft.fftfreq(maps.shape[2])[None, :]
    high = np.sqrt(fx**2 + fy**2) > cutoff
    total = power.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (power * high).sum(axis=(1, 2)) / total, np.nan)


def pair_matrix(
    maps_a: np.ndarray, maps_b: np.ndarray, similarity: Callable[[np.ndarray, np.ndarray], np.ndarray], same: bool
) -> np.ndarray:
    """Similarity of every pair of seeds, per image: (S_a, S_b, N).

    Args:
        maps_a, maps_b: (S, N, H, W), the maps of S seed models on the same N images.
        same: a and b are the same architecture: only pairs of different seeds count
            (the diagonal is NaN, the matrix symmetric).

    Pairs of equal seed index across architectures are NaN too: seed k of both
    architectures saw the same training data, and every pair compared should be two
    independent training runs, as in the cross-seed bands.
    """
    sa, sb = maps_a.shape[0], maps_b.shape[0]
    out = np.full((sa, sb, maps_a.shape[1]), np.nan)
    for i in range(sa):
        for j in range(sb):
            if i == j or (same and j < i):
                continue
            out[i, j] = similarity(maps_a[i], maps_b[j])
            if same:
                out[j, i] = out[i, j]
    return out


def _estimate(value: float, samples: np.ndarray) -> dict[str, Any]:
    """An estimate: its value, its 95 % interval, and (under ``_samples``, dropped by
    :func:`public`) the bootstrap replicates that :func:`pooled` averages."""
    return {"value": value, "ci95": _interval(samples), "_samples": samples}


def public(estimate: dict[str, Any]) -> dict[str, Any]:
    """The estimate without its bootstrap replicates (what the report and JSON keep)."""
    return {k: v for k, v in estimate.items() if not k.startswith("_")}


def _interval(samples: np.ndarray) -> list[float]:
    samples = samples[np.isfinite(samples)]
    if samples.size == 0:
        return [float("nan"), float("nan")]
    return [float(np.percentile(samples, 2.5)), float(np.percentile(samples, 97.5))]


def _draws(rng: np.random.Generator, seeds_a: int, seeds_b: int, images: int) -> tuple[np.ndarray, ...]:
    return rng.integers(seeds_a, size=seeds_a), rng.integers(seeds_b, size=seeds_b), rng.integers(images, size=images)


def _nanmean(values: np.ndarray) -> float:
    """The mean of the finite values; NaN (without numpy's warning) when there are none."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def _pair_mean(matrix: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
    return _nanmean(matrix[np.ix_(a, b, c)])


def bootstrap_pairs(
    ff: np.ndarray, bb: np.ndarray, fb: np.ndarray, *, resamples: int = BOOTSTRAP, seed: int = 0
) -> dict[str, dict[str, Any]]:
    """Hierarchical bootstrap of the three similarity bands of one dataset and method.

    Args:
        ff, bb: (S, S, N) same-architecture pair matrices (FP-FP, BNN-BNN).
        fb: (S_f, S_b, N) the FP-vs-BNN pair matrix.

    Each resample draws the FP seeds, then the BNN seeds, with replacement, then the
    images with replacement (one draw for every model: all models see the same images);
    each band is the mean over the drawn pairs of distinct seeds and the drawn images.
    The same draw serves the three bands, so ``gap`` = FP-vs-BNN minus FP-vs-FP (how much
    less a BNN's map resembles an FP model's than another FP model's does) is a paired
    difference.

    Returns:
        ``{band: estimate}`` (see :func:`_estimate`) for ``fp_fp``, ``bnn_bnn``,
        ``fp_bnn`` and ``gap``.
    """
    rng = np.random.default_rng(seed)
    sf, sb, n = fb.shape
    values = {"fp_fp": _nanmean(ff), "bnn_bnn": _nanmean(bb), "fp_bnn": _nanmean(fb)}
    values["gap"] = values["fp_bnn"] - values["fp_fp"]
    samples = np.full((resamples, 4), np.nan)
    for r in range(resamples):
        a, b, c = _draws(rng, sf, sb, n)
        f, bn, x = _pair_mean(ff, a, a, c), _pair_mean(bb, b, b, c), _pair_mean(fb, a, b, c)
        samples[r] = (f, bn, x, x - f)
    return {k: _estimate(values[k], samples[:, i]) for i, k in enumerate(values)}


def bootstrap_mean(values: np.ndarray, *, resamples: int = BOOTSTRAP, seed: int = 0) -> dict[str, Any]:
    """Mean of per-(seed, image) values (S, N) with its hierarchical bootstrap interval
    (seeds with replacement, then images with replacement); NaN values are left out."""
    rng = np.random.default_rng(seed)
    s, n = values.shape
    samples = np.array(
        [_nanmean(values[np.ix_(rng.integers(s, size=s), rng.integers(n, size=n))]) for _ in range(resamples)]
    )
    return _estimate(_nanmean(values), samples)


def bootstrap_ratio(num: np.ndarray, den: np.ndarray, *, resamples: int = BOOTSTRAP, seed: int = 0) -> dict[str, Any]:
    """Ratio of the means of num (S_n, N) and den (S_d, N) over the same N images, with
    its hierarchical bootstrap interval (seeds of each side drawn independently, one
    image draw for both)."""
    rng = np.random.default_rng(seed)
    (sn, n), sd = num.shape, den.shape[0]
    if not (np.isfinite(num).any() and np.isfinite(den).any()):
        return _estimate(float("nan"), np.full(resamples, np.nan))
    samples = np.empty(resamples)
    for r in range(resamples):
        a, b, c = _draws(rng, sn, sd, n)
        samples[r] = _nanmean(num[np.ix_(a, c)]) / _nanmean(den[np.ix_(b, c)])
    return _estimate(_nanmean(num) / _nanmean(den), samples)


def pooled(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The mean of several datasets' estimates. The datasets' models and images are
    drawn independently, so the pooled replicates are the means of their replicates."""
    value = float(np.mean([float(p["value"]) for p in parts]))
    return _estimate(value, np.mean(np.stack([p["_samples"] for p in parts]), axis=0))
