"""The built-in models' registry: its own module, so that the package's ``__init__``, the
loader and the modules that register models all import it and none imports another back."""

from __future__ import annotations

from collections.abc import Callable

from ..registry import Registry
from ..types import LoadedModel

# Built-in models by name: each entry is a zero-argument builder returning a LoadedModel.
# meta: ``description`` (one line, shown by `neuromask models`); the shipped checkpoints
# add ``dataset`` and ``arch``.
MODELS: Registry[Callable[[], LoadedModel]] = Registry("model")

# The modules that register built-in models into MODELS, imported by load_model() and
# list_models() on first use. A module that registers models adds its name here.
BUILTIN_MODULES: tuple[str, ...] = ("imagenet", "shipped")
