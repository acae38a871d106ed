"""The metrics ``evaluate`` scores, by the names of its command line, read from the metric registry.

The names of the contract (``shared/design/api.md``) are short aliases of registered
metrics; every other registered metric keeps its own name:

=================  =============================  =====================================
``evaluate``       registered metric              needs
=================  =============================  =====================================
``energy``         ``energy_pointing_game``       ground truth
``auroc``          ``auroc``                      ground truth
``eq_iou``         ``equal_area_iou``             ground truth
``pointing``       ``pointing_game`` (15 px)      ground truth
``insertion``      ``insertion``                  the model
``deletion``       ``deletion``                   the model
``randomisation``  ``randomisation_correlation``  the model, explained again
=================  =============================  =====================================

What a metric needs, which way is better and its category come from its registry entry
(:data:`neuromask.metrics.METRICS`); a metric that needs neither the model nor a new
explanation is scored on the stored maps alone, without loading the model. Ground-truth
metrics are scored at the image's own size (the stored map against the mask); model
metrics on the model's input (the stored map brought back to it).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError, UnknownNameError
from ..metrics import MetricInfo, metric_info, metrics

# The contract's names for registered metrics.
ALIASES: dict[str, str] = {
    "energy": "energy_pointing_game",
    "auroc": "auroc",
    "eq_iou": "equal_area_iou",
    "pointing": "pointing_game",
    "insertion": "insertion",
    "deletion": "deletion",
    "randomisation": "randomisation_correlation",
}
# The default set, in report order: every contract metric the ground truth allows.
DEFAULT = tuple(ALIASES)
# Zhang et al.'s pointing game counts a hit within 15 pixels of the object, on the image
# as it is (the registered metric's default scales 15 px at 224 px with the image instead).
# Insertion and deletion in 28 steps rather than Petsiuk et al.'s 224: an eighth of the model
# calls, and on EfficientNet-Lite0's 224 px maps of saliency and NeuroMask the AUCs moved by
# at most 0.005 (benchmarks/results/evaluate_cost.md); ``--metric-option insertion.steps=224``
# restores the protocol's resolution.
DEFAULT_OPTIONS: dict[str, dict[str, Any]] = {
    "pointing": {"tolerance": 15.0},
    "insertion": {"steps": 28},
    "deletion": {"steps": 28},
}
# Scores that are a share of hits (0 or 1 per image): their intervals are Wilson's.
PROPORTIONS = frozenset({"pointing"})
# An option of every metric, evaluate's own: score only this many images, spread evenly
# over SOURCE's images in ID order (None: all), e.g. to run the costly randomisation on a sample.
IMAGES = "images"
# Registered metrics evaluate cannot score: nothing in a dataset run measures memory.
UNSUPPORTED = frozenset({"peak_memory_mb"})


@dataclass(frozen=True)
class MetricSpec:
    """One metric as ``evaluate`` runs it.

    Attributes:
        name: the name in ``--metrics``, the rows and the report.
        info: the registered metric it scores with (:func:`neuromask.metrics.metric_info`).
        options: its complete options (signature defaults, evaluate's, the user's).
        hash: a digest of ``options``: a changed option is a new score, never a reuse.
    """

    name: str
    info: MetricInfo
    options: dict[str, Any] = field(default_factory=dict)
    hash: str = ""

    @property
    def function_options(self) -> dict[str, Any]:
        """The options the registered function takes (evaluate's own ``images`` left out)."""
        return {k: v for k, v in self.options.items() if k != IMAGES}

    def chosen(self, count: int) -> list[int]:
        """The positions, among ``count`` images in ID order, that this metric scores."""
        limit = self.options.get(IMAGES)
        if limit is None or limit >= count:
            return list(range(count))
        return sorted({round(i * count / limit) for i in range(limit)})

    @property
    def needs(self) -> tuple[str, ...]:
        return self.info.needs

    @property
    def needs_truth(self) -> bool:
        return "evidence" in self.needs

    @property
    def needs_other_truth(self) -> bool:
        return "other_evidence" in self.needs

    @property
    def needs_model(self) -> bool:
        """Whether it needs the model, or the images as the model sees them (which need its preprocessing)."""
        return bool({"model", "explain", "inputs"} & set(self.needs))

    @property
    def explains(self) -> bool:
        return "explain" in self.needs

    @property
    def from_record(self) -> bool:
        """Read from the explanation's own record (its seconds), not computed."""
        return "cost" in self.needs

    @property
    def higher_is_better(self) -> bool:
        return self.info.higher_is_better

    @property
    def category(self) -> str:
        return self.info.category

    @property
    def proportion(self) -> bool:
        return self.name in PROPORTIONS

    def applies(self, kind: str) -> bool:
        """Whether the metric scores maps of a method of this kind (mask-only metrics need maps in [0, 1])."""
        return self.info.applies(kind)


def names() -> list[str]:
    """Every metric name ``evaluate`` takes: the contract's, then the other registered ones."""
    covered = set(ALIASES.values())
    return list(ALIASES) + [m for m in metrics() if m not in covered and m not in UNSUPPORTED]


def info(name: str) -> MetricInfo:
    """The registered metric behind an ``evaluate`` metric name."""
    if name not in names():
        hint = next((alias for alias, target in ALIASES.items() if target == name and alias != name), None)
        extra = f" (evaluate calls it '{hint}')" if hint else ""
        raise UnknownNameError(f"unknown metric '{name}'{extra}; metrics: {', '.join(names())}")
    return metric_info(ALIASES.get(name, name))


def _digest(name: str, options: dict[str, Any]) -> str:
    from ..runs.items import canonical_json

    return hashlib.sha256(canonical_json({"metric": name, "options": options}).encode()).hexdigest()[:16]


def resolve(name: str, options: dict[str, Any] | None = None) -> MetricSpec:
    """The metric ``name`` with its complete options.

    Raises:
        UnknownNameError: an unknown metric or option name.
    """
    found = info(name)
    complete = dict(found.options)
    complete.update(DEFAULT_OPTIONS.get(name, {}))
    complete[IMAGES] = None
    given = dict(options or {})
    unknown = sorted(set(given) - set(complete))
    if unknown:
        raise UnknownNameError(
            f"metric '{name}' has no option {', '.join(repr(u) for u in unknown)}; "
            f"its options are: {', '.join(sorted(complete)) or 'none'}"
        )
    complete.update(given)
    limit = complete[IMAGES]
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InputError(f"metric option {name}.{IMAGES} must be a positive integer or null; got {limit!r}")
    return MetricSpec(name, found, complete, _digest(name, complete))


def select(
    requested: list[str] | None, options: dict[str, dict[str, Any]] | None, *, truth: bool, other_truth: bool = False
) -> list[MetricSpec]:
    """The metrics of a request: ``requested`` (default: every contract metric the ground truth allows).

    Raises:
        UnknownNameError: an unknown metric or option.
        InputError: a metric that needs ground truth (or a second object) without it,
            options for a metric not requested, or a metric named twice.
    """
    options = options or {}
    if requested is None:
        chosen = [m for m in DEFAULT if truth or "evidence" not in info(m).needs]
    else:
        chosen = list(requested)
        if len(set(chosen)) != len(chosen):
            raise InputError(f"a metric is named twice in {','.join(chosen)}")
    specs = [resolve(m, options.get(m)) for m in chosen]
    stray = sorted(set(options) - set(chosen))
    if stray:
        raise InputError(f"options given for metric {', '.join(stray)}, which is not among {', '.join(chosen)}")
    for spec in specs:
        if spec.needs_truth and not truth:
            raise InputError(f"metric '{spec.name}' needs ground truth: give --masks DIR or --boxes FILE")
        if spec.needs_other_truth and not other_truth:
            raise InputError(f"metric '{spec.name}' needs the other object's masks: give --other-masks DIR")
    if not specs:
        raise InputError("no metric to score; name some with --metrics")
    return specs
