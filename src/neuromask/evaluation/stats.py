"""Statistics of a score table: means with 95 % intervals, paired differences, ranks, the winner.

A score table is, per metric, a matrix of values (methods x images) with NaN where an
image has no score for a method (a failure, or an undefined score). Every interval comes
from one set of bootstrap resamples of the images, drawn once per table from a fixed seed
(so a report rebuilt from the same rows is the same), and shared by every method and
metric: the differences between two methods, and the ranks across metrics, are then read
from the same resampled image sets (paired).

- Means: the percentile bootstrap interval of the mean; for proportions (scores of 0 or 1,
  e.g. the pointing game) the Wilson score interval instead, which stays inside [0, 1] and
  is not degenerate at 0 % or 100 %.
- Clusters: images that are not independent (e.g. the two explanations of one two-object
  scene) are resampled together, by cluster; a proportion's Wilson interval then counts
  clusters, not images (conservative: as if the images of a cluster agreed).
- Paired differences: method a minus method b over the images both scored, resampled.
- Ranks: a method's rank is 1 + the number of methods whose paired difference with it
  lies entirely on the better side of 0: methods whose intervals overlap 0 share a rank,
  however their point estimates fall.
- The winner: in each resample every method is ranked on every metric by its mean; the
  method with the best mean rank wins that resample. The share of resamples each method
  wins says how sure a recommendation is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm, rankdata

CONFIDENCE = 0.95
RESAMPLES = 2000


@dataclass(frozen=True)
class Estimate:
    """A mean with its 95 % interval over ``n`` scored images (NaN bounds when n < 2)."""

    mean: float
    low: float
    high: float
    n: int


@dataclass(frozen=True)
class Difference:
    """Method a minus method b over ``n`` images both scored: mean and 95 % interval."""

    mean: float
    low: float
    high: float
    n: int

    def excludes(self, value: float = 0.0) -> bool:
        """Whether the interval lies entirely on one side of ``value``."""
        return bool(self.low > value or self.high < value)


def wilson(successes: float, n: float, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``successes / n`` (NaN, NaN for n = 0)."""
    if n <= 0:
        return math.nan, math.nan
    z = float(norm.ppf(0.5 + confidence / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # At p = 0 (p = 1) the lower (upper) end is 0 (1) exactly; centre - half rounds to
    # about 1e-17 there, which would put the interval beside its own estimate.
    low = 0.0 if successes <= 0 else max(0.0, centre - half)
    high = 1.0 if successes >= n else min(1.0, centre + half)
    return low, high


class Resamples:
    """One set of bootstrap resamples of ``images`` (by cluster when clusters are given).

    Attributes:
        weights: (R, n) how often each image is drawn in each resample.
        clusters: (n,) the cluster index of each image.
    """

    def __init__(
        self,
        images: Sequence[str],
        clusters: dict[str, str] | None = None,
        *,
        resamples: int = RESAMPLES,
        seed: int = 0,
    ) -> None:
        self.images = list(images)
        self.index = {image: i for i, image in enumerate(self.images)}
        names = [clusters.get(i, i) if clusters else i for i in self.images]
        unique = sorted(set(names))
        position = {c: k for k, c in enumerate(unique)}
        self.clusters = np.array([position[c] for c in names], dtype=np.int64)
        rng = np.random.default_rng(seed)
        k = len(unique)
        draws = rng.integers(0, k, size=(resamples, k)) if k else np.zeros((resamples, 0), dtype=np.int64)
        cluster_counts = np.zeros((resamples, k))
        np.add.at(cluster_counts, (np.arange(resamples)[:, None], draws), 1.0)
        self.weights = cluster_counts[:, self.clusters]

    def _means(self, values: np.ndarray) -> np.ndarray:
        """(R,) resampled means of ``values`` (n,) over its finite entries (NaN where none is drawn)."""
        valid = np.isfinite(values)
        total = self.weights @ np.where(valid, values, 0.0)
        count = self.weights @ valid.astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.where(count > 0, count, 1.0), np.nan)

    def _interval(self, means: np.ndarray) -> tuple[float, float]:
        means = means[np.isfinite(means)]
        if means.size == 0:
            return math.nan, math.nan
        tail = (1 - CONFIDENCE) / 2 * 100
        low, high = np.percentile(means, [tail, 100 - tail])
        return float(low), float(high)

    def mean(self, values: np.ndarray, *, proportion: bool = False) -> Estimate:
        """The mean of ``values`` (n,) (NaN = not scored) with its 95 % interval."""
        valid = np.isfinite(values)
        n = int(valid.sum())
        if n == 0:
            return Estimate(math.nan, math.nan, math.nan, 0)
        mean = float(values[valid].mean())
        if proportion:
            units = len(set(self.clusters[valid].tolist()))
            low, high = wilson(mean * units, units)
        elif len(set(self.clusters[valid].tolist())) < 2:
            low, high = math.nan, math.nan
        else:
            low, high = self._interval(self._means(values))
        return Estimate(mean, low, high, n)

    def difference(self, a: np.ndarray, b: np.ndarray) -> Difference:
        """Mean of a - b (n,) over the images both scored, with its paired bootstrap interval."""
        both = np.isfinite(a) & np.isfinite(b)
        n = int(both.sum())
        if n == 0:
            return Difference(math.nan, math.nan, math.nan, 0)
        diff = np.where(both, a - b, np.nan)
        mean = float(diff[both].mean())
        if len(set(self.clusters[both].tolist())) < 2:
            return Difference(mean, math.nan, math.nan, n)
        low, high = self._interval(self._means(diff))
        return Difference(mean, low, high, n)

    def resampled_means(self, values: np.ndarray) -> np.ndarray:
        """(R,) the mean of ``values`` (n,) in every resample."""
        return self._means(values)


def ranks(values: dict[str, np.ndarray], resamples: Resamples, *, higher_is_better: bool) -> dict[str, int]:
    """Per method, 1 + the number of methods significantly better on the paired bootstrap interval.

    A method with no score at all gets no rank (it is left out).
    """
    scored = [m for m, v in values.items() if np.isfinite(v).any()]
    out = {}
    for m in scored:
        better = 0
        for other in scored:
            if other == m:
                continue
            d = resamples.difference(values[other], values[m])
            if d.n and (d.low > 0 if higher_is_better else d.high < 0):
                better += 1
        out[m] = 1 + better
    return out


def win_shares(
    tables: dict[str, dict[str, np.ndarray]], directions: dict[str, bool], resamples: Resamples
) -> dict[str, float]:
    """Per method, the share of resamples in which it has the best mean rank across the metrics.

    ``tables``: per metric, per method, values (n,); ``directions``: per metric, whether
    higher is better. Within a resample, methods are ranked on each metric by their mean
    (ties share the average rank; a method without a mean that metric ranks last); the
    lowest mean rank wins, a tie splitting the win.
    """
    methods = sorted({m for table in tables.values() for m in table})
    if not methods or not tables:
        return {}
    rank_sum = np.zeros((resamples.weights.shape[0], len(methods)))
    for metric, table in tables.items():
        means = np.stack(
            [
                resamples.resampled_means(table[m]) if m in table else np.full(resamples.weights.shape[0], np.nan)
                for m in methods
            ],
            axis=1,
        )
        score = means if directions[metric] else -means
        score = np.where(np.isfinite(score), score, -np.inf)
        rank_sum += rankdata(-score, axis=1, method="average")
    best = rank_sum == rank_sum.min(axis=1, keepdims=True)
    wins = (best / best.sum(axis=1, keepdims=True)).sum(axis=0) / rank_sum.shape[0]
    return {m: float(w) for m, w in zip(methods, wins)}
