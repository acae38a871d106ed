"""One small generic registry for methods, metrics, datasets and models.

A registry maps a name to an object (usually a function) plus optional metadata.
It is the single source for ``neuromask.methods()``, the CLI's choices, the benchmark
grid and the tests' parametrisation.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Generic, TypeVar

from .errors import UnknownNameError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered object with its name and free-form metadata."""

    name: str
    obj: T
    meta: dict[str, Any] = field(default_factory=dict)


class Registry(Generic[T]):
    """A plain name -> object mapping filled by a decorator."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, **meta: Any) -> Callable[[T], T]:
        """Decorator: ``@REGISTRY.register("name", key=value)``."""

        def decorate(obj: T) -> T:
            if name in self._entries:
                raise RuntimeError(f"{self.kind} '{name}' is registered twice")
            self.check(name, obj, meta)
            self._entries[name] = Entry(name, obj, dict(meta))
            return obj

        return decorate

    def check(self, name: str, obj: T, meta: dict[str, Any]) -> None:
        """Refuse a registration that breaks this registry's contract: raise ``RuntimeError``
        naming what is wrong. A registry with a contract overrides it; it runs at import,
        so a bad entry never gets as far as a run."""

    def entry(self, name: str) -> Entry[T]:
        try:
            return self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self._entries), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise UnknownNameError(
                f"unknown {self.kind} '{name}'{hint}; choose one of: {', '.join(self.names())}"
            ) from None

    def get(self, name: str) -> T:
        return self.entry(name).obj

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self._entries[n] for n in self.names())


def import_submodules(package: str, path: Iterable[str], *, skip: Iterable[str] = ()) -> list[ModuleType]:
    """Import every public module of ``package`` (its ``__name__`` and ``__path__``), in name
    order, but those in ``skip``: a registry's discovery, each module registering itself when
    imported, so that a new method, metric, dataset or command is a new file and nothing else.
    """
    names = sorted(i.name for i in pkgutil.iter_modules(path) if not i.name.startswith("_") and i.name not in set(skip))
    return [importlib.import_module(f"{package}.{name}") for name in names]
