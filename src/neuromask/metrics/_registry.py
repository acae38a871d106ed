"""The metric registry and the contract it checks (stated in :mod:`neuromask.metrics`).

Its own module: the metric families import :data:`METRICS` from here and the package's
``__init__`` imports them, so that nothing imports a module that imports it back.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from ..errors import InputError
from ..registry import Registry
from ..types import LoadedModel

# The families, in the order reports show them.
CATEGORIES: dict[str, str] = {
    "localisation": "does the map point at the object that makes the class (against a ground-truth mask)",
    "faithfulness": "does the model's score follow the map when pixels are removed or added",
    "sanity": "does the map depend on the model (it must change when the weights are randomised)",
    "complexity": "how concentrated or smooth the map is, or what a mask keeps",
    "cost": "what the explanation cost to compute",
}

# What a metric may need beyond the map, and what each gives it.
NEEDS: dict[str, str] = {
    "model": "the classifier: model, its inputs (N, C, H, W) and the target (N,)",
    "inputs": "the images the map explains, without the model: inputs (N, C, H, W)",
    "evidence": "a ground-truth mask of the explained object: evidence (N, H, W) bool",
    "other_evidence": "a second object's mask (scenes of two objects): other_evidence (N, H, W) bool",
    "explain": "the method explained again (e.g. on a randomised model): model, inputs, target, method, params",
    "cost": "what the explanation cost, measured around it (a Cost), instead of the map",
}

# Every positional argument a metric can take, in the order its signature takes them.
ARGUMENTS = ("model", "inputs", "target", "attribution", "evidence", "other_evidence", "cost")
# The fields of ScoringData each need takes (the map, ``attribution``, too unless it is ``cost``).
_TAKES: dict[str, tuple[str, ...]] = {
    "model": ("model", "inputs", "target"),
    "inputs": ("inputs",),
    "evidence": ("evidence",),
    "other_evidence": ("other_evidence",),
    "explain": ("model", "inputs", "target", "method"),
    "cost": ("cost",),
}
APPLIES_TO = ("any", "mask")


def arguments(needs: tuple[str, ...]) -> tuple[str, ...]:
    """The positional parameters, in order, of a metric that needs ``needs`` (see :data:`NEEDS`)."""
    if "cost" in needs:
        return ("cost",)
    given = {"attribution"}.union(*(_TAKES[n] for n in needs))
    return tuple(a for a in ARGUMENTS if a in given)


@dataclass(frozen=True)
class ScoringData:
    """What a caller has to score a map with; each metric takes what its ``needs`` name.

    Attributes:
        attribution: (N, H, W) the maps.
        model: the classifier, an ``nn.Module`` or a :class:`~neuromask.LoadedModel`.
        inputs: (N, C, H, W) the images, preprocessed for the model.
        target: (N,) the classes the maps explain.
        evidence: (N, H, W) bool, the explained object's ground-truth mask.
        other_evidence: (N, H, W) bool, a second object's mask.
        method, params: the method that made the maps and every option it ran with
            (``Explanation.params``), for a metric that explains again.
        cost: a :class:`~neuromask.metrics.cost.Cost`, for the cost metrics.
    """

    attribution: torch.Tensor | None = None
    model: Any = None
    inputs: torch.Tensor | None = None
    target: torch.Tensor | None = None
    evidence: torch.Tensor | None = None
    other_evidence: torch.Tensor | None = None
    method: str | None = None
    params: dict[str, Any] | None = field(default=None)
    cost: Any = None


@dataclass(frozen=True)
class MetricInfo:
    """What a registered metric is, read from its registration and its signature.

    Attributes:
        name: the registered name.
        category: one of :data:`CATEGORIES`.
        higher_is_better: the direction.
        needs: what it needs beyond the map (keys of :data:`NEEDS`).
        applies_to: ``"any"`` or ``"mask"``.
        options: its keyword options with their defaults.
        summary: the first line of its docstring.
    """

    name: str
    category: str
    higher_is_better: bool
    needs: tuple[str, ...]
    applies_to: str
    options: dict[str, Any]
    summary: str

    @property
    def direction(self) -> str:
        """``"higher"`` or ``"lower"``: which way is better."""
        return "higher" if self.higher_is_better else "lower"

    @property
    def arguments(self) -> tuple[str, ...]:
        """Its positional parameters, in order (:func:`arguments`)."""
        return arguments(self.needs)

    def applies(self, kind: str) -> bool:
        """Whether it scores maps of a method of this kind (``neuromask.method_info(m).kind``)."""
        return self.applies_to == "any" or self.applies_to == kind

    def missing(self, data: ScoringData) -> list[str]:
        """The needs of this metric that ``data`` cannot meet (empty: it can be scored)."""
        out = [n for n in self.needs if any(getattr(data, a) is None for a in _TAKES[n])]
        if "cost" not in self.needs and data.attribution is None:
            out.append("attribution")
        return out


class MetricRegistry(Registry[Callable[..., Any]]):
    """The metric registry: checks each registration against the contract above when it is made."""

    def check(self, name: str, obj: Callable[..., Any], meta: dict[str, Any]) -> None:
        def refuse(problem: str) -> None:
            raise RuntimeError(f"metric '{name}' {problem}")

        known = {"higher_is_better", "category", "needs", "applies_to"}
        if set(meta) - known:
            refuse(f"registers unknown keys {sorted(set(meta) - known)}; it may register {sorted(known)}")
        if not isinstance(meta.get("higher_is_better"), bool):
            refuse(f"must register higher_is_better=True or False; got {meta.get('higher_is_better')!r}")
        if meta.get("category") not in CATEGORIES:
            refuse(f"must register a category in {list(CATEGORIES)}; got {meta.get('category')!r}")
        needs = meta.get("needs", ())
        if not isinstance(needs, tuple) or any(n not in NEEDS for n in needs) or len(set(needs)) != len(needs):
            refuse(f"must register needs as a tuple of distinct names from {list(NEEDS)}; got {needs!r}")
        if "cost" in needs and len(needs) > 1:
            refuse(f"needs 'cost' alone (a cost metric reads no map); got {needs!r}")
        if "other_evidence" in needs and "evidence" not in needs:
            refuse("needs 'other_evidence' without 'evidence'")
        if meta.get("applies_to", "any") not in APPLIES_TO:
            refuse(f"must register applies_to in {list(APPLIES_TO)}; got {meta.get('applies_to')!r}")
        if not inspect.getdoc(obj):
            refuse("has no docstring (its first line is its summary)")
        params = list(inspect.signature(obj).parameters.values())
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        expected = arguments(needs)
        if [p.name for p in positional] != list(expected):
            refuse(
                f"needs {needs!r}, so it must take ({', '.join(expected)}) first; got ({', '.join(p.name for p in positional)})"
            )
        required_keywords = {"method"} if "explain" in needs else set()
        for p in params[len(positional) :]:
            if p.kind is not p.KEYWORD_ONLY:
                refuse(f"takes {p.name!r} neither positionally nor as a keyword-only option")
            if p.default is p.empty and p.name not in required_keywords:
                refuse(f"option {p.name!r} must have a default")
        if "explain" in needs and not {"method", "params"} <= {p.name for p in params}:
            refuse("needs 'explain', so it must take the keywords method and params")

    def register(  # type: ignore[override]
        self,
        name: str,
        *,
        higher_is_better: bool,
        category: str,
        needs: tuple[str, ...] = (),
        applies_to: str = "any",
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: ``@METRICS.register(name, higher_is_better=..., category=..., needs=(...))``."""
        meta = {"higher_is_better": higher_is_better, "category": category, "needs": needs, "applies_to": applies_to}
        return super().register(name, **meta)


METRICS: MetricRegistry = MetricRegistry("metric")


def metric_info(name: str) -> MetricInfo:
    """The :class:`MetricInfo` of the registered metric ``name``.

    Raises:
        UnknownNameError: no metric of that name is registered.
    """
    entry = METRICS.entry(name)
    params = inspect.signature(entry.obj).parameters.values()
    data = ("method", "params") if "explain" in entry.meta["needs"] else ()
    doc = inspect.getdoc(entry.obj) or ""
    return MetricInfo(
        name=name,
        category=entry.meta["category"],
        higher_is_better=entry.meta["higher_is_better"],
        needs=tuple(entry.meta["needs"]),
        applies_to=entry.meta["applies_to"],
        options={p.name: p.default for p in params if p.kind is p.KEYWORD_ONLY and p.name not in data},
        summary=doc.splitlines()[0],
    )


def metrics(category: str | None = None) -> list[str]:
    """The names of the registered metrics, optionally of one ``category`` only."""
    return [e.name for e in METRICS if category is None or e.meta["category"] == category]


def score(name: str, data: ScoringData, **options: Any) -> torch.Tensor:
    """Score with the metric ``name``, giving it what its ``needs`` name from ``data``.

    A model-based metric gets the ``nn.Module`` of a :class:`~neuromask.LoadedModel`; a
    metric that explains again gets the model as given (a LoadedModel brings its
    normalisation and labels to ``explain()``).

    Returns:
        (N,) one value per image, on the CPU.

    Raises:
        UnknownNameError: no metric of that name.
        InputError: ``data`` lacks something the metric needs.
    """
    info = metric_info(name)
    missing = info.missing(data)
    if missing:
        raise InputError(f"metric '{name}' needs {'; '.join(NEEDS.get(m, m) for m in missing)}; it was not given")
    kwargs = {a: getattr(data, a) for a in info.arguments}
    if "model" in kwargs and "explain" not in info.needs and isinstance(kwargs["model"], LoadedModel):
        kwargs["model"] = kwargs["model"].module
    if "explain" in info.needs:
        kwargs |= {"method": data.method, "params": data.params}
    values: torch.Tensor = METRICS.get(name)(**kwargs, **options)
    return values
