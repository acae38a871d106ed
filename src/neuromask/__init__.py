"""neuromask: explain image classifiers with NeuroMask and the other well-known explainers.

The public surface::

    import neuromask
    model = neuromask.load_model("efficientnet_lite0")
    explanation = neuromask.explain(model, inputs, target=None, method="neuromask")
    neuromask.methods()          # registered method names, in display order
    neuromask.method_info("gradcam")   # what a method is: kind, options, extra it needs
    neuromask.resolve_options("occlusion", {}, size=(32, 32))   # every option explain() would use
"""

from .api import MethodInfo, explain, method_info, method_options, method_presets, methods, resolve_options
from .errors import (
    ImageLoadError,
    InputError,
    MissingDependencyError,
    ModelLoadError,
    ModelOutputError,
    NeuromaskError,
    TargetError,
    UnknownNameError,
    UnsupportedModelError,
)
from .images import ImageGeometry, load_image, preprocess_image, to_original_size
from .models import list_models, load_model
from .types import Explanation, LoadedModel, MethodOutput

__version__ = "0.1.0"

__all__ = [
    "explain",
    "methods",
    "method_options",
    "method_presets",
    "method_info",
    "resolve_options",
    "MethodInfo",
    "MethodOutput",
    "load_model",
    "list_models",
    "load_image",
    "preprocess_image",
    "to_original_size",
    "ImageGeometry",
    "Explanation",
    "LoadedModel",
    "NeuromaskError",
    "InputError",
    "TargetError",
    "ModelOutputError",
    "UnknownNameError",
    "ModelLoadError",
    "ImageLoadError",
    "UnsupportedModelError",
    "MissingDependencyError",
]
