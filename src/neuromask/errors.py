"""The documented exception types.

Every error caused by what a user passed in is a :class:`ValueError` subclass whose
message names the problem, what was expected and what was got, on one line.

==========================  ===============================================================
``InputError``              inputs of the wrong rank, channel count, dtype, NaN or inf
``TargetError``             a target index out of range or a class name that does not exist
``ModelOutputError``        the model does not return logits of shape (N, L)
``UnknownNameError``        an unknown method, model, dataset, metric or option name
``ModelLoadError``          a model spec or file that cannot be loaded
``ImageLoadError``          an image file that is missing, empty, corrupt or too small
``UnsupportedModelError``   a method that cannot explain this model (e.g. no conv layer)
``MissingDependencyError``  an optional extra is not installed (an ``ImportError``)
==========================  ===============================================================
"""

from __future__ import annotations


class NeuromaskError(Exception):
    """Base class of every error neuromask raises on purpose."""


class InputError(NeuromaskError, ValueError):
    """The inputs (or an option) are not what the method needs."""


class TargetError(InputError):
    """The target class is out of range or unknown."""


class ModelOutputError(InputError):
    """The model does not map (N, C, H, W) to finite logits (N, L)."""


class UnknownNameError(InputError):
    """A name (method, model, dataset, metric, option) that is not registered."""


class ModelLoadError(InputError):
    """A model spec or file that cannot be loaded."""


class ImageLoadError(InputError):
    """An image file that cannot be read as an image."""


class UnsupportedModelError(InputError):
    """The method cannot explain this kind of model."""


class MissingDependencyError(NeuromaskError, ImportError):
    """An optional dependency is missing; the message says which extra installs it."""


def require(module: str, extra: str, purpose: str):  # noqa: ANN201 - returns a module
    """Import an optional dependency or raise :class:`MissingDependencyError`."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{purpose} needs the '{module}' package; install it with "
            f"`pip install 'neuromask[{extra}]'` ({exc})"
        ) from exc
