"""Every registered method as a Captum ``Attribution``.

::

    from captum.attr import NoiseTunnel
    from neuromask.integrations.captum import NeuroMask, attribution

    attr = NeuroMask(model).attribute(inputs, target=3, steps=100)      # (N, C, H, W)
    GradCAM = attribution("gradcam")                                     # any registered method
    smooth = NoiseTunnel(NeuroMask(model)).attribute(inputs, nt_samples=8, stdevs=0.1, target=3)

``attribute(inputs, target=None, **options)`` calls :func:`neuromask.explain` with the
class's method: the same validation, the same option resolution (defaults, ``preset=``,
pixel-sized options scaled to the inputs' size, unknown names refused), the same map. The
map (N, H, W) is returned as Captum returns attributions, shaped like the inputs: repeated
over the C channels, with the inputs' dtype and device.

Where Captum's conventions differ from the library's:

- ``forward_func`` is what Captum takes: a module, a :class:`~neuromask.LoadedModel`
  (its normalisation and labels then apply, as in :func:`neuromask.explain`), or any
  function mapping (N, C, H, W) to logits (N, L). A module, or a module's bound method
  (``model.forward``), is put in eval mode with frozen parameters for the call and
  restored afterwards, as :func:`neuromask.explain` does; the modules inside a plain
  function are not known here, so they are used as they are.
- ``target`` takes Captum's forms for (N, L) outputs: ``None`` (top-1), an int, a
  one-element tuple, N ints (a list or a tensor). Tuples of more than one index address
  outputs of more than two dimensions, which no method here explains.
- ``additional_forward_args`` is refused: the methods run the model on batches of their
  own making (masks, perturbations, noisy copies), with which per-example arguments
  cannot be kept aligned; bind them into ``forward_func`` (``functools.partial``).
- Under :class:`captum.attr.NoiseTunnel`, which calls ``attribute`` inside
  ``torch.no_grad()``, gradients are switched back on for the method. NoiseTunnel passes
  all noisy copies of a batch in one call (``nt_samples_batch_size`` splits them), and
  its ``target`` is repeated for them; options given to ``NoiseTunnel.attribute`` reach
  the method.
- No method here has a convergence delta (:meth:`~MethodAttribution.has_convergence_delta`
  is ``False``), and none multiplies by the inputs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ClassVar, ParamSpec, TypeVar

import torch
from captum.attr import Attribution
from torch import nn

from ..api import explain, method_info
from ..errors import InputError, TargetError
from ..types import LoadedModel, TargetLike

__all__ = ["MethodAttribution", "NeuroMask", "attribution"]

ForwardFunc = nn.Module | LoadedModel | Callable[[torch.Tensor], torch.Tensor]
"""What ``forward_func`` may be: a module, a loaded model, or a function (N, C, H, W) -> (N, L)."""

CaptumTarget = int | tuple[int, ...] | torch.Tensor | list[int] | list[tuple[int, ...]] | None
"""Captum's ``target`` forms that address (N, L) outputs."""

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _unwrappable(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Wrap ``fn`` so that it has a ``__wrapped__``.

    Captum's own ``attribute`` methods are wrapped by its usage logger, and NoiseTunnel
    calls the inner one, ``attribute.__wrapped__(attribution, inputs, **kwargs)``.
    """

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        return fn(*args, **kwargs)

    return wrapper


class _Function(nn.Module):
    """A forward function as the module :func:`neuromask.explain` takes.

    The module behind a bound method (``model.forward``) becomes a submodule, so that
    explain() freezes and restores it and runs on its device; a plain function gets an
    empty buffer on the inputs' device, so that the inputs stay where they are.
    """

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor], device: torch.device) -> None:
        super().__init__()
        self.fn = fn
        owner = getattr(fn, "__self__", None)
        if isinstance(owner, nn.Module):
            self.owner = owner
        else:
            self.register_buffer("anchor", torch.empty(0, device=device), persistent=False)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.fn(inputs)


def _one_index(target: tuple[int, ...]) -> int:
    if len(target) != 1:
        raise TargetError(
            f"a tuple target addresses outputs of more than two dimensions; got {target!r}: "
            "neuromask explains logits (N, L), give the class as an int"
        )
    return int(target[0])


def _target(target: CaptumTarget) -> TargetLike:
    """Captum's ``target`` as :func:`neuromask.explain` takes it."""
    if isinstance(target, tuple):
        return _one_index(target)
    if isinstance(target, list):
        return [_one_index(t) if isinstance(t, tuple) else t for t in target]
    return target


class MethodAttribution(Attribution):
    """A registered explanation method as a Captum ``Attribution``.

    One subclass per method, its name in :attr:`method`: :class:`NeuroMask` and, for any
    registered method, :func:`attribution`.

    Args:
        forward_func: a module, a :class:`~neuromask.LoadedModel`, or a function
            mapping inputs (N, C, H, W) to logits (N, L).
    """

    method: ClassVar[str]
    """The registered method this class runs."""

    def __init__(self, forward_func: ForwardFunc) -> None:
        if not callable(forward_func) and not isinstance(forward_func, LoadedModel):
            raise InputError(
                f"forward_func must be a module, a LoadedModel or a function; got {type(forward_func).__name__}"
            )
        super().__init__(forward_func)

    @_unwrappable
    def attribute(
        self,
        inputs: torch.Tensor | tuple[torch.Tensor],
        target: CaptumTarget = None,
        additional_forward_args: Any = None,
        **options: Any,
    ) -> torch.Tensor | tuple[torch.Tensor]:
        """The method's map for ``inputs``, repeated over their channels.

        Args:
            inputs: (N, C, H, W) or (C, H, W), preprocessed for the model; or a tuple of
                one such tensor (Captum's form for several inputs: a tuple in, a tuple out).
            target: ``None`` (each image's top-1 class), an int, a one-element tuple, or
                N class indices (a list or a tensor).
            additional_forward_args: not supported (see the module's notes); must be ``None``.
            **options: the method's options, as :func:`neuromask.explain` takes them
                (``neuromask.method_options(method)``; ``preset=NAME``).

        Returns:
            A tensor shaped like ``inputs`` ((N, C, H, W) or (C, H, W)), with their dtype
            and device: the map (N, H, W) repeated over the C channels. A tuple of it when
            ``inputs`` was a tuple.

        Raises:
            InputError, TargetError, UnknownNameError (all ValueError), as
            :func:`neuromask.explain`; MissingDependencyError when the method's extra is
            not installed.
        """
        if additional_forward_args is not None:
            raise InputError(
                "additional_forward_args is not supported: the methods run the model on batches of "
                "their own making; bind the arguments into forward_func (functools.partial)"
            )
        as_tuple = isinstance(inputs, tuple)
        if isinstance(inputs, tuple):
            if len(inputs) != 1:
                raise InputError(f"inputs must be one tensor (N, C, H, W); got a tuple of {len(inputs)}")
            inputs = inputs[0]
        if not isinstance(inputs, torch.Tensor):
            raise InputError(f"inputs must be a torch.Tensor (N, C, H, W); got {type(inputs).__name__}")
        model = self.forward_func
        if not isinstance(model, (nn.Module, LoadedModel)):
            model = _Function(model, inputs.device)
        with torch.enable_grad():
            explanation = explain(model, inputs, target=_target(target), method=self.method, **options)
        maps = explanation.attribution.to(device=inputs.device, dtype=inputs.dtype)
        batched = maps.unsqueeze(1).expand(-1, inputs.shape[-3], -1, -1)
        out = (batched if inputs.ndim == 4 else batched[0]).contiguous()
        return (out,) if as_tuple else out

    def has_convergence_delta(self) -> bool:
        """``False``: no method here computes a convergence delta."""
        return False


class NeuroMask(MethodAttribution):
    """NeuroMask (Alzantot et al., 2019) as a Captum ``Attribution``: the mask in [0, 1],
    repeated over the channels.

    ``NeuroMask(model).attribute(inputs, target=t, steps=100, seed=0)``; the options are
    :func:`neuromask.method_options` ``("neuromask")``.
    """

    method: ClassVar[str] = "neuromask"


_CLASSES: dict[str, type[MethodAttribution]] = {"neuromask": NeuroMask}


def _class_name(method: str) -> str:
    return "".join(part.capitalize() for part in method.split("_"))


def attribution(method: str) -> type[MethodAttribution]:
    """The Captum ``Attribution`` class of the registered method ``method``.

    The same class every time (``attribution("neuromask") is NeuroMask``). A method whose
    extra is not installed still has its class; ``attribute`` then raises
    :class:`~neuromask.MissingDependencyError`.

    Raises:
        UnknownNameError: no method of that name is registered.
    """
    info = method_info(method)
    cls = _CLASSES.get(method)
    if cls is None:
        cls = type(
            _class_name(method),
            (MethodAttribution,),
            {
                "method": method,
                "__module__": __name__,
                "__doc__": f"The registered method ``{method}`` as a Captum ``Attribution``: {info.summary}",
            },
        )
        _CLASSES[method] = cls
    return cls
