"""The documented exception types.

Every error caused by what a user passed in is a :class:`ValueError` subclass whose
message names the problem, what was expected and what was got, on one line.

==========================  ======================================================================
``InputError``              inputs of the wrong rank, channel count, dtype, NaN or inf
``TargetError``             a target index out of range or a class name that does not exist
``ModelOutputError``        the model does not return logits of shape (N, L)
``UnknownNameError``        an unknown method, model, dataset, metric or option name
``ModelLoadError``          a model spec or file that cannot be loaded
``ImageLoadError``          an image file that is missing, empty, corrupt or too small
``UnsupportedModelError``   a method that cannot explain this model (e.g. no conv layer)
``MissingDependencyError``  an optional extra is not installed (an ``ImportError``)
``ImageNote``               a warning (not an error): e.g. only an animation's first frame is used
==========================  ======================================================================

The command line's exit codes, one rule for every subcommand:

===  ==============================================================================
0    everything asked for was done
1    some images or methods failed: each is reported on its own line (file, method,
     reason) and everything else was still written
2    a bad request (unknown name, bad option, missing extra, unusable model, an
     output folder that cannot be written): one line says what to change; nothing ran
3    an unexpected exception, i.e. a bug in neuromask or in a library it calls: its
     traceback is shown (in a batch, after the other images were still written)
130  interrupted (Ctrl-C): every file already written is complete (written to a
     temporary name and renamed), nothing half-written is left
===  ==============================================================================
"""

from __future__ import annotations

from types import ModuleType

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_BUG = 3
EXIT_INTERRUPTED = 130


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


class ImageNote(UserWarning):
    """Something a user should know about an image that was still read, e.g. that only the
    first frame of an animated GIF is explained. The CLI prints each on one line."""


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import an optional dependency or raise :class:`MissingDependencyError`."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{purpose} needs the '{module}' package; install it with `pip install 'neuromask[{extra}]'` ({exc})"
        ) from exc
