"""The explanation function Quantus's metrics take, for every registered method.

::

    import quantus
    from neuromask.integrations.quantus import explain_func

    metric = quantus.RelevanceMassAccuracy()
    scores = metric(model=model, x_batch=x, y_batch=y, s_batch=s, explain_func=explain_func,
                    explain_func_kwargs={"method": "neuromask", "steps": 100})

Quantus (0.6) calls ``explain_func(model=..., inputs=..., targets=..., **explain_func_kwargs)``
with numpy arrays: the inputs channel-first (N, C, H, W), of the dtype the user gave
(often float64), the targets (N,) integers; it adds ``device=`` to the keywords when the
metric was given a device, and it calls again on perturbed inputs, on other targets and on
randomised copies of the model. :func:`explain_func` takes all of these (torch tensors
too) and returns what Quantus expects back: a numpy float32 array (N, 1, H, W), which
Quantus spreads over the channels itself.

This module does not import Quantus: ``explain_func`` only has to fit its calling
convention, so any Quantus that calls it so (0.6.0 is tested) will do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from ..api import explain
from ..errors import InputError, TargetError
from ..types import LoadedModel

__all__ = ["explain_func"]


def _as_tensor(inputs: Any, model: nn.Module) -> torch.Tensor:
    """Inputs as a float tensor of the model's floating-point dtype (float32 for a model
    without parameters): Quantus passes numpy arrays of whatever dtype the user gave."""
    if isinstance(inputs, np.ndarray):
        if not np.issubdtype(inputs.dtype, np.floating):
            raise InputError(f"inputs must be a floating-point array (N, C, H, W); got dtype {inputs.dtype}")
        inputs = torch.from_numpy(np.ascontiguousarray(inputs))
    if not isinstance(inputs, torch.Tensor):
        raise InputError(f"inputs must be a numpy array or a torch.Tensor (N, C, H, W); got {type(inputs).__name__}")
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    return inputs.detach().to(dtype) if inputs.is_floating_point() else inputs


def _as_target(targets: Any) -> int | list[int] | torch.Tensor | None:
    """Targets as :func:`neuromask.explain` takes them: ``None``, an int, or N class indices."""
    if targets is None or isinstance(targets, (int, torch.Tensor)):
        return targets
    if isinstance(targets, np.integer):
        return int(targets)
    if isinstance(targets, np.ndarray):
        if not np.issubdtype(targets.dtype, np.integer):
            raise TargetError(f"targets must hold integer class indices; got dtype {targets.dtype}")
        return torch.from_numpy(targets.astype(np.int64).reshape(-1))
    if isinstance(targets, Sequence) and not isinstance(targets, str):
        return [int(t) for t in targets]
    raise TargetError(f"targets must be None, an int or N class indices; got {type(targets).__name__}")


def explain_func(
    model: nn.Module | LoadedModel,
    inputs: npt.NDArray[np.floating[Any]] | torch.Tensor,
    targets: npt.NDArray[np.integer[Any]] | torch.Tensor | Sequence[int] | int | None = None,
    *,
    method: str = "neuromask",
    device: str | torch.device | None = None,
    **options: Any,
) -> npt.NDArray[np.float32]:
    """Explain ``inputs`` with ``method`` as Quantus's ``explain_func`` does.

    Args:
        model: a module mapping inputs (N, C, H, W) to logits (N, L) (Quantus passes the
            module it was given, or a randomised copy of it), or a
            :class:`~neuromask.LoadedModel`.
        inputs: (N, C, H, W), preprocessed for the model, a numpy array of any float
            dtype or a tensor; cast to the model's floating-point dtype.
        targets: (N,) class indices (numpy, torch or a list), one int for every image,
            or ``None`` for each image's top-1 class.
        method: a registered method name (``neuromask.methods()``).
        device: accepted because Quantus adds it; the inputs go to the model's device,
            as in :func:`neuromask.explain`, so it changes nothing.
        **options: the method's options, as :func:`neuromask.explain` takes them
            (``preset=NAME`` included); in a metric, ``explain_func_kwargs``.

    Returns:
        The attribution, numpy float32 (N, 1, H, W), higher = more relevant.

    Raises:
        InputError, TargetError, UnknownNameError (all ValueError), as
        :func:`neuromask.explain`.
    """
    del device  # see Args: the model's device decides
    module = model.module if isinstance(model, LoadedModel) else model
    if not isinstance(module, nn.Module):
        raise InputError(f"model must be a torch.nn.Module or a LoadedModel; got {type(model).__name__}")
    tensor = _as_tensor(inputs, module)
    with torch.enable_grad():
        explanation = explain(model, tensor, target=_as_target(targets), method=method, **options)
    return explanation.attribution.numpy().astype(np.float32, copy=False)[:, None]
