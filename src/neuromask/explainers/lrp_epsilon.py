"""Layer-wise relevance propagation (Bach et al., 2015) with the epsilon rule, through Zennit.

Captum's LRP cannot run EfficientNet-Lite0 (its ``ZeroPad2d`` padding modules have no
rule), so this wraps Zennit, whose composites give every layer type a rule and whose
canonizer merges each batch norm into the convolution before it (and undoes the merge).

Two composites:
  - ``"epsilon_plus"`` (default): z+ for convolutions, epsilon for dense layers
    (Zennit's ``EpsilonPlus``, the common recommendation for CNNs; about 0.5 s per
    image on EfficientNet-Lite0 on a CPU);
  - ``"epsilon"``: the epsilon rule on every convolution and dense layer, the literal
    "LRP-epsilon" of the NeuroMask paper's Figure 3. On EfficientNet-Lite0 it returns
    NaN (relevance divided by near-zero pre-activations of its many depthwise layers);
    any non-finite relevance raises UnsupportedModelError instead of returning it.

Binarized networks (any :class:`~neuromask.models.binary.BinaryConv2d` or
``BinarySign``) are refused with UnsupportedModelError. Zennit's rules modify a layer's
weights (z+ keeps ``clamp(W, 0)``) and run the layer's ``forward`` again; a binarized
convolution binarizes whatever weight it holds, so it would compute
``sign(clamp(W, 0)) = +1`` everywhere instead of the z+ part of ``alpha * sign(W)``, and
the sign activation has no LRP rule (its straight-through gradient would zero the
relevance outside its window). Relevance that ignores the real binary weights would look
like an explanation without being one.

Transformers (any LayerNorm or attention module: ViT, DeiT, Swin, ConvNeXt) are refused
too, before anything is computed. Neither composite has a rule for a LayerNorm, for the
attention's softmax or for its product of two activations (q k^T, then the weights times
v), so Zennit passes relevance through them as plain gradients: that conserves nothing,
and on a ViT it divided by near-zero and returned NaN. Published rules for these layers
exist (CP-LRP, Ali et al. 2022, which holds the attention weights and the LayerNorm's
scale constant; AttnLRP, Achtibat et al. 2024, with rules for softmax and the
bilinear products); neither is implemented here, so a transformer is explained by
``gradcam`` on its token grid or by the gradient and perturbation methods instead.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from typing import Any

import torch
from torch import nn

from ..errors import UnknownNameError, UnsupportedModelError, require
from ..types import MethodOutput
from ._common import reduce_channels, transformer_parts
from ._registry import METHODS

COMPOSITES = ("epsilon_plus", "epsilon")


def _import_zennit() -> Any:
    """Import Zennit, even where torchvision is not installed.

    ``zennit/__init__.py`` imports its ``zennit.torchvision`` submodule unconditionally,
    and that imports torchvision, which the core install leaves out (Zennit goes in
    with --no-deps). When torchvision is missing, an empty placeholder module is
    registered as ``zennit.torchvision`` first: only Zennit's torchvision-specific
    canonizers (ResNet, VGG) are lost; the generic ones used here do not need it.
    """
    if "zennit" not in sys.modules and importlib.util.find_spec("torchvision") is None:
        placeholder = types.ModuleType("zennit.torchvision")
        placeholder.__doc__ = "placeholder: torchvision is not installed (see neuromask.explainers.lrp_epsilon)"
        sys.modules["zennit.torchvision"] = placeholder
    return require("zennit", "lrp", "LRP (method 'lrp_epsilon')")


def _composite(name: str, epsilon: float) -> Any:
    """The Zennit composite ``name``, with batch norms merged into the layers before them."""
    from zennit.canonizers import SequentialMergeBatchNorm
    from zennit.composites import EpsilonPlus, LayerMapComposite, layer_map_base
    from zennit.rules import Epsilon
    from zennit.types import Convolution

    canonizers = [SequentialMergeBatchNorm()]
    if name == "epsilon_plus":
        return EpsilonPlus(epsilon=epsilon, canonizers=canonizers)
    if name == "epsilon":
        layer_map = layer_map_base() + [(Convolution, Epsilon(epsilon=epsilon)), (nn.Linear, Epsilon(epsilon=epsilon))]
        return LayerMapComposite(layer_map=layer_map, canonizers=canonizers)
    raise UnknownNameError(f"composite must be one of {', '.join(COMPOSITES)}; got {name!r}")


@METHODS.register(
    "lrp_epsilon",
    kind="relevance",
    order=7,
    requires=("zennit",),
    # Zennit declares torchvision, which would replace the CPU torch; it needs it only for its
    # torchvision canonizers, so it is installed without its declared dependencies.
    install="pip install --no-deps 'zennit==0.5.1'",
)
def lrp_epsilon(
    model: nn.Module,
    inputs: torch.Tensor,
    target: torch.Tensor,
    *,
    composite: str = "epsilon_plus",
    epsilon: float = 1e-6,
    reduction: str = "sum",
) -> MethodOutput:
    """Relevance of each pixel for the target's logit.

    Relevance starts as the target's logit at the output (all other classes 0) and is
    redistributed layer by layer; it is (approximately) conserved, so the map sums to
    about the logit.

    Args:
        model: frozen classifier, inputs (N, C, H, W) -> logits (N, L).
        inputs: (N, C, H, W) preprocessed images.
        target: (N,) the class whose logit is decomposed.
        composite: ``"epsilon_plus"`` or ``"epsilon"`` (see the module docstring).
        epsilon: the epsilon rule's stabiliser, added to each denominator with its sign
            (Zennit's default 1e-6).
        reduction: how the signed relevance (N, C, H, W) becomes (N, H, W); the default
            ``"sum"`` keeps conservation.

    Returns:
        The map (N, H, W), signed: positive relevance supports the target.

    Raises:
        UnsupportedModelError: the propagated relevance is NaN or infinite, or the model
            has binarized or transformer layers (see the module docstring).
        MissingDependencyError: Zennit is not installed (``neuromask[lrp]``).
    """
    from ..models.binary import BinaryConv2d, BinarySign

    binarized = sorted({type(m).__name__ for m in model.modules() if isinstance(m, (BinaryConv2d, BinarySign))})
    if binarized:
        raise UnsupportedModelError(
            f"lrp_epsilon does not support binarized layers ({', '.join(binarized)}): Zennit's rules would "
            "re-binarize their modified weights; explain this model with occlusion, rise or lime instead"
        )
    transformer = transformer_parts(model)
    if transformer:
        raise UnsupportedModelError(
            f"lrp_epsilon has no relevance rule for transformer layers ({', '.join(transformer)}): the "
            "composites would pass relevance through them as plain gradients (see AttnLRP / CP-LRP); "
            "explain this model with gradcam, integrated_gradients or occlusion instead"
        )
    _import_zennit()
    from zennit.attribution import Gradient

    def start(output: torch.Tensor) -> torch.Tensor:
        # The initial relevance: the target's logit, zero for every other class.
        return output * torch.zeros_like(output).scatter_(1, target[:, None], 1.0)

    # Gradient's context manager registers the composite's hooks and canonizers and
    # removes them (restoring the merged batch-norm parameters) on exit, also on error.
    with Gradient(model=model, composite=_composite(composite, epsilon)) as attributor:
        _, relevance = attributor(inputs.clone().requires_grad_(True), start)
    relevance = relevance.detach()
    if not torch.isfinite(relevance).all():
        raise UnsupportedModelError(
            f"LRP with composite {composite!r} produced NaN or infinite relevance on this model "
            "(a denominator close to zero); try composite='epsilon_plus' or a larger epsilon"
        )
    return MethodOutput(reduce_channels(relevance, reduction))
