"""Sanity: does the explanation depend on the model at all?

Model-parameter randomisation (Adebayo et al., 2018, "Sanity checks for saliency
maps"): the layers' parameters are replaced by random values, cascading from the top
(the output layer) down to the input, and the method explains the same images and
target on the randomised model. The score is the Spearman rank correlation between
the map of the trained model and that of the randomised one, per image: near 1 means
the map ignores what the model learnt (it fails the check); lower is better.

Layers are the modules that own parameters directly, in the order the model
registers them (for the usual sequential definitions, input to output); the "top"
is the last one. A randomised parameter is drawn from a normal distribution with the
original tensor's mean and standard deviation (1 where that is 0), so activations keep
their scale; buffers (batch-norm running statistics) are kept, as in Adebayo et al.
The randomisation works on a deep copy: the caller's model is never changed.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import numpy as np
import torch
from scipy.stats import spearmanr
from torch import nn

from ..errors import InputError
from ..types import LoadedModel, TargetLike
from ._common import prepare
from ._registry import METRICS


def parameter_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The modules that own parameters directly, in registration order (the last is the top)."""
    return [(name, m) for name, m in model.named_modules() if any(True for _ in m.parameters(recurse=False))]


def _randomise_layer(layer: nn.Module, gen: torch.Generator) -> None:
    with torch.no_grad():
        for p in layer.parameters(recurse=False):
            flat = p.detach().double().flatten()
            mean = float(flat.mean())
            std = float(flat.std()) if flat.numel() > 1 else 0.0
            draw = torch.randn(p.shape, generator=gen, dtype=torch.float64) * (std if std > 0 else 1.0) + mean
            p.copy_(draw.to(p.dtype))


def randomised_copy(model: nn.Module, top: int | None = None, *, seed: int = 0) -> nn.Module:
    """A deep copy of ``model`` whose ``top`` last parameter layers are randomised (``None``: all).

    The original is not touched; the draws come from a local generator seeded with ``seed``.
    """
    layers = parameter_layers(model)
    if top is None:
        top = len(layers)
    if not 0 <= top <= len(layers):
        raise InputError(f"top must be in [0, {len(layers)}] (the model's parameter layers); got {top}")
    clone = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(seed)
    cloned = dict(clone.named_modules())
    for name, _ in reversed(layers[len(layers) - top :]):
        _randomise_layer(cloned[name], gen)
    return clone


def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spearman rank correlation (N,) between maps a and b (N, H, W) (SciPy's ``spearmanr``; ties get average ranks).

    NaN for an image where either map is constant (no ranking to correlate).
    """
    a_np = a.flatten(1).double().numpy()
    b_np = b.flatten(1).double().numpy()
    rho = []
    for x, y in zip(a_np, b_np):
        # spearmanr warns and returns NaN on a constant input; the NaN is the documented answer.
        if np.ptp(x) == 0 or np.ptp(y) == 0:
            rho.append(np.nan)
        else:
            rho.append(float(spearmanr(x, y).statistic))
    return torch.tensor(rho, dtype=torch.float32)


def _with_module(model: nn.Module | LoadedModel, module: nn.Module) -> nn.Module | LoadedModel:
    return dataclasses.replace(model, module=module) if isinstance(model, LoadedModel) else module


def cascading_randomisation(
    model: nn.Module | LoadedModel,
    inputs: torch.Tensor,
    target: TargetLike,
    attribution: torch.Tensor,
    *,
    method: str,
    params: dict[str, Any] | None = None,
    levels: int | None = None,
    absolute: bool = True,
    seed: int = 0,
) -> tuple[list[str], torch.Tensor]:
    """Rank correlation after randomising the top 1, 2, ... parameter layers.

    Args:
        model: the trained classifier (an ``nn.Module`` or a ``LoadedModel``); not changed.
        inputs: (N, C, H, W) preprocessed images.
        target: (N,) the classes ``attribution`` explains (kept for the randomised model).
        attribution: (N, H, W) the method's map on the trained model.
        method: the registered method that made ``attribution``.
        params: its options (the same on every model, seeds included).
        levels: how many cascade stops, evenly spaced and always ending with every layer
            randomised; ``None``: one stop per layer.
        absolute: correlate |maps| (Adebayo et al. report both; the sign of a gradient
            map on a random model carries no meaning).
        seed: seeds the random parameters.

    Returns:
        The name of the lowest layer randomised at each stop (K,) and correlations (N, K).
    """
    from ..api import explain

    module = model.module if isinstance(model, LoadedModel) else model
    if not isinstance(module, nn.Module):
        raise InputError(f"model must be a torch.nn.Module or a LoadedModel; got {type(model).__name__}")
    # The target is resolved on the trained model: the randomised one must explain the same class.
    inputs, target, attribution = prepare(module, inputs, target, attribution)
    total = len(parameter_layers(module))
    if total == 0:
        raise InputError("the model has no parameters to randomise")
    if levels is not None and levels < 1:
        raise InputError(f"levels must be >= 1; got {levels}")
    stops = (
        list(range(1, total + 1))
        if levels is None
        else sorted({round(total * (i + 1) / levels) for i in range(levels)} - {0})
    )
    names = [name for name, _ in parameter_layers(module)]
    reference = attribution.abs() if absolute else attribution
    columns = []
    for top in stops:
        randomised = randomised_copy(module, top, seed=seed)
        other = explain(_with_module(model, randomised), inputs, target, method=method, **(params or {})).attribution
        columns.append(rank_correlation(reference, other.abs() if absolute else other))
    return [names[total - top] for top in stops], torch.stack(columns, dim=1)


@METRICS.register(
    "randomisation_correlation", higher_is_better=False, category="sanity", needs=("explain",), applies_to="any"
)
def randomisation_correlation(
    model: nn.Module | LoadedModel,
    inputs: torch.Tensor,
    target: TargetLike,
    attribution: torch.Tensor,
    *,
    method: str,
    params: dict[str, Any] | None = None,
    absolute: bool = True,
    seed: int = 0,
) -> torch.Tensor:
    """Rank correlation (N,) in [-1, 1] between the maps of the trained and the fully randomised model.

    The last stop of :func:`cascading_randomisation` (every layer randomised), computed
    alone. Lower is better; NaN where a map is constant.
    """
    _, rho = cascading_randomisation(
        model, inputs, target, attribution, method=method, params=params, levels=1, absolute=absolute, seed=seed
    )
    return rho[:, -1]
