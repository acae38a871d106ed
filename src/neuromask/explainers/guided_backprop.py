"""Guided backpropagation (Springenberg, Dosovitskiy, Brox and Riedmiller, 2015), through
Captum's ``GuidedBackprop`` extended to every ReLU-like activation module.

Captum hooks only ``nn.ReLU``. EfficientNet-Lite and MobileNet use ``nn.ReLU6``, so on
them Captum's output is silently identical to plain saliency. Here every ``nn.ReLU``,
``nn.ReLU6`` and ``nn.LeakyReLU`` is hooked. Captum's hook replaces the gradient at the
activation's input by its positive part; the activation's own local derivative (1 on
(0, 6) for ReLU6, the slope for LeakyReLU) is already in that gradient, so the rule is
"pass where the forward pass did, and only positive gradients" for each of them.

Models with smooth activations (SiLU, GELU, Hardswish, ...) have no guided-backprop rule
(the method is defined for ReLU networks), and a model with no activation module at all
probably calls ``torch.relu`` functionally, which no hook can reach: both raise
:class:`~neuromask.errors.UnsupportedModelError` rather than returning plain gradients.

Vision transformers are such models: their MLPs use GELU, x * Phi(x). The rule's two
halves do not carry over. "Pass where the forward pass did" has no meaning, since GELU
zeroes no input (it is negative, with a non-zero and even negative slope, below 0); and
keeping only the positive gradients at each GELU would be a new method that no paper
defines or has evaluated, whose maps would be neither saliency nor guided backprop. So
GELU networks are refused, not warned about: a warning would still hand back a map that
looks like guided backprop's. Hugging Face's activation modules (``GELUActivation``,
``SiLUActivation``, ...) are not subclasses of ``nn.GELU``; they are recognised by name.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from ..errors import UnsupportedModelError
from ..types import MethodOutput
from ._common import reduce_channels
from ._registry import METHODS

RELU_LIKE: tuple[type[nn.Module], ...] = (nn.ReLU, nn.ReLU6, nn.LeakyReLU)
# Nonlinearities whose gradient guided backprop does not define.
UNSUPPORTED: tuple[type[nn.Module], ...] = (
    nn.SiLU,
    nn.GELU,
    nn.Hardswish,
    nn.Mish,
    nn.ELU,
    nn.SELU,
    nn.CELU,
    nn.Softplus,
    nn.PReLU,
    nn.RReLU,
    nn.Tanh,
)


# Words in the class names of smooth activation modules outside torch.nn (Hugging Face's
# GELUActivation, NewGELUActivation, SiLUActivation, ..., timm's GELUTanh, Swish).
UNSUPPORTED_NAMES = ("gelu", "silu", "swish", "mish")


def check_relu_network(model: nn.Module) -> None:
    """Raise UnsupportedModelError unless the model's activations are ReLU-like modules."""
    smooth = sorted(
        {
            type(m).__name__
            for m in model.modules()
            if isinstance(m, UNSUPPORTED) or any(word in type(m).__name__.lower() for word in UNSUPPORTED_NAMES)
        }
    )
    if smooth:
        raise UnsupportedModelError(
            f"guided backprop is defined for ReLU networks; this model has {', '.join(smooth)} "
            "activations (use saliency, smoothgrad or integrated_gradients)"
        )
    if not any(isinstance(m, RELU_LIKE) for m in model.modules()):
        raise UnsupportedModelError(
            "guided backprop found no nn.ReLU / nn.ReLU6 / nn.LeakyReLU module in this model; "
            "functional activations (torch.relu) cannot be hooked and the result would equal saliency"
        )


def _captum_class() -> type:
    from captum.attr import GuidedBackprop

    class _ReluLikeGuidedBackprop(GuidedBackprop):
        """Captum's GuidedBackprop, hooking every ReLU-like module instead of nn.ReLU only."""

        def _register_hooks(self, module: nn.Module) -> None:
            from captum._utils.common import _register_backward_hook

            if isinstance(module, RELU_LIKE):
                self.backward_hooks.extend(_register_backward_hook(module, self._backward_hook, self))

    return _ReluLikeGuidedBackprop


@METHODS.register("guided_backprop", kind="gradient", order=3)
def guided_backprop(
    model: nn.Module,
    inputs: torch.Tensor,
    target: torch.Tensor,
    *,
    reduction: str = "max_abs",
) -> MethodOutput:
    """Guided backpropagation of the target's logit to the input.

    Args:
        model: frozen classifier with ReLU-like activation modules, (N, C, H, W) -> (N, L).
        inputs: (N, C, H, W) preprocessed images.
        target: (N,) the class whose logit is backpropagated.
        reduction: how the signed guided gradient (N, C, H, W) becomes (N, H, W); the
            default ``"max_abs"`` matches ``saliency``.

    Returns:
        The map (N, H, W).

    Raises:
        UnsupportedModelError: smooth activations, or no activation modules to hook.
    """
    check_relu_network(model)
    explainer = _captum_class()(model)
    with warnings.catch_warnings():
        # Captum warns on every call that it sets (and removes) hooks; it removes them in
        # a finally block, which the tests check.
        warnings.filterwarnings("ignore", message="Setting backward hooks")
        grads = explainer.attribute(inputs.clone().requires_grad_(True), target=target)
    return MethodOutput(reduce_channels(grads.detach(), reduction))
