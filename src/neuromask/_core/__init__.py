"""The private core: what ``explain()``, the explainers, the metrics and the benchmark share.

Input checks and model evaluation (:mod:`.checks`), the frozen-model guard (:mod:`.guard`)
and what a hidden pixel becomes (:mod:`.perturb`). Every package of neuromask imports these
from here; users never need them (the public surface is ``neuromask.__all__``).
"""

from .checks import check_channels, check_inputs, forward_logits, model_device, resolve_target
from .guard import frozen
from .perturb import gaussian_blur, make_baseline

__all__ = [
    "check_channels",
    "check_inputs",
    "forward_logits",
    "model_device",
    "resolve_target",
    "frozen",
    "gaussian_blur",
    "make_baseline",
]
