"""Model loading: built-in names, ``torchvision:NAME``, ``timm:NAME``, TorchScript,
state dicts with a ``module:Class`` spec, and ONNX files; plus the small classifiers
of the known-answer datasets.

``load_model(spec)`` returns a :class:`~neuromask.types.LoadedModel`: the module in
eval mode together with its input size, normalisation and class labels.
"""

from __future__ import annotations

from collections.abc import Callable

from ..registry import Registry
from ..types import LoadedModel

# Built-in models by name: each entry is a zero-argument builder returning a LoadedModel.
# meta: ``description`` (one line, shown by `neuromask models`).
MODELS: Registry[Callable[[], LoadedModel]] = Registry("model")

# The modules that register built-in models into MODELS, imported by load_model() and
# list_models() on first use. A module that registers models adds its name here.
BUILTIN_MODULES: tuple[str, ...] = ("imagenet", "shipped")

# Imported last: the loader reads MODELS and BUILTIN_MODULES from this module.
from .loader import FILE_DEFAULTS, list_models, load_model  # noqa: E402

__all__ = ["MODELS", "BUILTIN_MODULES", "FILE_DEFAULTS", "list_models", "load_model"]
