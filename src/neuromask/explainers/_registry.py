"""The method registry, what a method is (:class:`MethodInfo`), and the options machinery.

Its own module: the method modules import :data:`METHODS` from here and the package's
``__init__`` imports them, so that nothing imports a module that imports it back.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import MissingDependencyError
from ..registry import Entry, Registry

# What each kind of map is. ``mask`` maps are in [0, 1] and share one colour scale;
# the others are scores whose scale only orders pixels within one map.
KINDS: dict[str, str] = {
    "mask": "an optimised or averaged mask in [0, 1]: 1 keeps the pixel",
    "gradient": "built from gradients of the target score with respect to the input",
    "cam": "class activation map of a convolutional layer, upsampled",
    "relevance": "relevance propagated backwards layer by layer (LRP)",
    "perturbation": "the score change when parts of the image are hidden",
    "baseline": "a sanity baseline that ignores the model",
}

# Keyword-only parameters a method may declare to receive context from explain()
# instead of options from the user: the original logits (N, L), computed once.
CONTEXT_PARAMS = ("logits",)

# Options that count iterations: a method with one is slow, and registers a ``fast`` preset.
SLOW_OPTIONS = ("steps", "samples", "masks")

# Options a method may declare that a LoadedModel fills in when the user does not.
MODEL_PARAMS = ("mean", "std")

# The image side at which pixel-sized option defaults are given (ImageNet's 224 px).
REFERENCE_SIZE = 224


@dataclass(frozen=True)
class MethodInfo:
    """What a registered method is, read from its registration and its signature.

    Attributes:
        name: the registered name.
        kind: one of :data:`KINDS`.
        order: display position (the NeuroMask paper's order; lower first).
        summary: the first line of the method's docstring.
        options: every option with its default.
        presets: named sets of option values (``preset=NAME``).
        pixel_options: options measured in pixels, with defaults meant for
            :data:`REFERENCE_SIZE` px images; :meth:`scaled_options` scales them.
        progress: whether the method can show a progress bar (``progress=True``).
        requires: modules it imports beyond the core install.
        install: the one command that adds what it requires.
        available: whether every module in ``requires`` can be imported here.
    """

    name: str
    kind: str
    order: int
    summary: str
    options: dict[str, Any]
    presets: dict[str, dict[str, Any]]
    pixel_options: tuple[str, ...]
    progress: bool
    requires: tuple[str, ...]
    install: str | None
    available: bool

    @property
    def is_mask(self) -> bool:
        """Whether the map is a mask in [0, 1] (drawn on a fixed 0..1 colour scale)."""
        return self.kind == "mask"

    def scaled_options(self, size: tuple[int, int]) -> dict[str, Any]:
        """The pixel-sized options' defaults scaled from 224 px to ``size`` (H, W) by its shorter side.

        Integers stay integers (at least 1). Empty at 224 px or for a method without
        pixel-sized options.
        """
        return scale_pixel_options(self.options, self.pixel_options, size)

    def require(self) -> MethodInfo:
        """This info, or :class:`~neuromask.errors.MissingDependencyError` naming the one command
        that installs what the method needs."""
        if not self.available:
            raise MissingDependencyError(
                f"method '{self.name}' needs {', '.join(self.requires)}, which is not installed; "
                f"add it with `{self.install}`"
            )
        return self


def scale_pixel_options(values: Mapping[str, Any], names: Iterable[str], size: tuple[int, int]) -> dict[str, Any]:
    """``values[name]`` for each pixel-sized option ``name``, given for :data:`REFERENCE_SIZE` px,
    scaled to images of ``size`` (H, W) by the shorter side.

    Integers stay integers (at least 1); a value that is not a number (``None``: the method
    sizes it itself) is left out. Empty at 224 px.
    """
    scale = min(size) / REFERENCE_SIZE
    if scale == 1:
        return {}
    out: dict[str, Any] = {}
    for name in names:
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        out[name] = max(1, round(value * scale)) if isinstance(value, int) else value * scale
    return out


class MethodRegistry(Registry[Callable[..., Any]]):
    """The method registry: checks each registration's metadata when it is made."""

    def register(self, name: str, **meta: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        kind = meta.get("kind")
        if kind not in KINDS:
            raise RuntimeError(f"method '{name}' must register a kind in {sorted(KINDS)}; got {kind!r}")
        if not isinstance(meta.get("order"), int):
            raise RuntimeError(f"method '{name}' must register an integer display order")
        return super().register(name, **meta)

    def check(self, name: str, obj: Callable[..., Any], meta: dict[str, Any]) -> None:
        """A slow method (one with an iteration count, :data:`SLOW_OPTIONS`) registers a
        ``fast`` preset, for smoke runs, the quick benchmark and the tests."""
        params = inspect.signature(obj).parameters
        slow = [p for p in SLOW_OPTIONS if p in params]
        if slow and "fast" not in meta.get("presets", {}):
            raise RuntimeError(f"method '{name}' has {slow[0]!r}, so it must register a 'fast' preset (few {slow[0]})")


METHODS: MethodRegistry = MethodRegistry("method")


def option_defaults(entry: Entry[Callable[..., Any]]) -> dict[str, Any]:
    """A method's options with their defaults, read from its signature."""
    return {
        name: p.default
        for name, p in inspect.signature(entry.obj).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and name not in CONTEXT_PARAMS
    }


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def method_info(name: str) -> MethodInfo:
    """The :class:`MethodInfo` of the registered method ``name``.

    Raises:
        UnknownNameError: no method of that name is registered.
    """
    entry = METHODS.entry(name)
    meta = entry.meta
    options = option_defaults(entry)
    pixel = tuple(meta.get("pixel_options", ()))
    unknown = [o for o in pixel if o not in options]
    if unknown:
        raise RuntimeError(f"method '{name}' names pixel options it does not have: {unknown}")
    requires = tuple(meta.get("requires", ()))
    doc = inspect.getdoc(entry.obj) or ""
    return MethodInfo(
        name=name,
        kind=meta["kind"],
        order=meta["order"],
        summary=doc.splitlines()[0] if doc else "",
        options=options,
        presets={k: dict(v) for k, v in meta.get("presets", {}).items()},
        pixel_options=pixel,
        progress="progress" in options,
        requires=requires,
        install=meta.get("install"),
        available=all(_importable(m) for m in requires),
    )


def ordered(names: list[str] | None = None) -> list[str]:
    """``names`` (default: every registered method) in display order."""
    names = METHODS.names() if names is None else names
    return sorted(names, key=lambda n: (METHODS.entry(n).meta["order"], n))
