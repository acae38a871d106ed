"""The private core: what ``explain()``, the explainers, the metrics and the benchmark share.

Input checks and model evaluation (:mod:`.checks`), the frozen-model guard (:mod:`.guard`)
what a hidden pixel becomes (:mod:`.perturb`), atomic file writes (:mod:`.files`) and what
an explanation keeps to show itself (:mod:`.display`). Every package of neuromask imports these
from here; users never need them (the public surface is ``neuromask.__all__``).
"""

from .checks import SHAPE_MISMATCH, check_channels, check_inputs, forward_logits, model_device, resolve_target
from .display import display_images, target_labels
from .files import atomic_path, save_npy, save_npz, write_bytes, write_text
from .guard import frozen
from .messages import one_line
from .perturb import BLUR_FRACTION, gaussian_blur, make_baseline, relative_blur_sigma

__all__ = [
    "check_channels",
    "check_inputs",
    "forward_logits",
    "model_device",
    "resolve_target",
    "frozen",
    "one_line",
    "gaussian_blur",
    "make_baseline",
    "BLUR_FRACTION",
    "relative_blur_sigma",
    "atomic_path",
    "save_npy",
    "save_npz",
    "write_bytes",
    "write_text",
    "SHAPE_MISMATCH",
    "display_images",
    "target_labels",
]
