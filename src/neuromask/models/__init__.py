"""Model loading: built-in names, ``torchvision:NAME``, ``timm:NAME``, TorchScript,
state dicts with a ``module:Class`` spec, and ONNX files; plus the small classifiers
of the known-answer datasets.

``load_model(spec)`` returns a :class:`~neuromask.types.LoadedModel`: the module in
eval mode together with its input size, normalisation and class labels.
"""

from __future__ import annotations

from ._registry import BUILTIN_MODULES, MODELS
from .loader import FILE_DEFAULTS, list_models, load_model

__all__ = ["MODELS", "BUILTIN_MODULES", "FILE_DEFAULTS", "list_models", "load_model"]
