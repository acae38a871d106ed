"""``hf:DIR``: a Hugging Face ``transformers`` image classifier saved in a local folder.

The folder is what ``model.save_pretrained(DIR)`` and ``processor.save_pretrained(DIR)``
write (``config.json``, the weights, ``preprocessor_config.json``). Both are read by
``transformers`` itself (``AutoModelForImageClassification`` and ``AutoImageProcessor``,
``local_files_only``: nothing is downloaded), and the image processor's settings become
the :class:`~neuromask.types.LoadedModel`'s preprocessing (processor -> LoadedModel):

- ``size`` ``{height, width}``, no crop: ``input_size`` (H, W), ``resize="stretch"``;
- ``size`` ``{shortest_edge}`` and ``crop_pct`` (ConvNeXt, below 384 px): ``input_size``
  (S, S), ``center_crop`` at ``crop_pct``;
- ``size`` ``{shortest_edge}`` and ``crop_size`` (``do_center_crop``): ``input_size`` = the
  crop, ``center_crop`` at crop / S;
- ``image_mean``, ``image_std``, ``do_rescale``, ``rescale_factor``, ``do_normalize``:
  ``mean``, ``std`` on [0, 1] pixels;
- ``resample`` (PIL's 0 / 2 / 3): ``interpolation`` nearest / bilinear / bicubic;
- the model's ``config.id2label``: ``labels``.

A processor that resizes to ``{height, width}`` and then crops is read as a centre crop
that keeps the aspect ratio (the same on square images). The model is wrapped so that it
maps pixel values (N, C, H, W) to its logits (N, L).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._core import one_line
from ..errors import ModelLoadError, require
from ..types import LoadedModel

# PIL's resampling filters by number, as image processors store them.
PIL_FILTERS = {0: "nearest", 2: "bilinear", 3: "bicubic"}


class HuggingFaceClassifier(nn.Module):
    """A ``transformers`` image classifier as a module: pixel values (N, C, H, W) -> logits (N, L).

    The classifier is the submodule ``model``, so its layers are named ``model.<name>``.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """pixel values (N, C, H, W) -> logits (N, L)."""
        logits: torch.Tensor = self.model(pixel_values=inputs).logits
        return logits


def load_hf(spec: str, folder: str) -> LoadedModel:
    """Load the classifier and image processor saved in ``folder`` (see the module docstring).

    Raises:
        ModelLoadError: the folder is missing, holds no image classifier or no image
            processor, or its weights do not cover the model.
        MissingDependencyError: ``transformers`` is not installed (extra ``hf``).
    """
    transformers = require("transformers", "hf", "hf:DIR models")
    path = Path(folder).expanduser()
    if not folder or not path.is_dir():
        raise ModelLoadError(
            f"{spec}: '{folder}' is not a folder; give the folder written by model.save_pretrained(DIR) "
            "and processor.save_pretrained(DIR)"
        )
    if not (path / "config.json").is_file():
        raise ModelLoadError(f"{spec}: '{folder}' has no config.json; save the model with model.save_pretrained(DIR)")
    bars = transformers.utils.logging.is_progress_bar_enabled()
    transformers.utils.logging.disable_progress_bar()  # no "Loading weights" bar in a CLI's output
    try:
        model, info = _read_model(transformers, spec, path)
        processor = _read_processor(transformers, spec, path)
    finally:
        if bars:
            transformers.utils.logging.enable_progress_bar()
    missing = list(info.get("missing_keys") or [])
    if missing:
        more = f" (+{len(missing) - 3} more)" if len(missing) > 3 else ""
        raise ModelLoadError(
            f"{spec}: the saved weights lack {', '.join(sorted(missing)[:3])}{more}; these layers would be "
            "random (was the classifier saved after fine-tuning?)"
        )
    config: Any = model.config  # a transformers PretrainedConfig (transformers is untyped here)
    labels = [str(config.id2label[i]) for i in range(config.num_labels)] if config.id2label else None
    return LoadedModel(
        module=HuggingFaceClassifier(model),
        name=spec,
        labels=labels,
        channels=int(getattr(config, "num_channels", 3)),
        extra={"source": "hf", "architecture": type(model).__name__, "processor": type(processor).__name__},
        **_preprocessing(spec, processor, int(getattr(config, "num_channels", 3))),
    )


def _read_model(transformers: Any, spec: str, path: Path) -> tuple[nn.Module, dict[str, Any]]:
    try:
        model, info = transformers.AutoModelForImageClassification.from_pretrained(
            str(path), local_files_only=True, output_loading_info=True
        )
    except Exception as exc:  # transformers raises ValueError, OSError, KeyError, ... for a bad folder
        raise ModelLoadError(
            f"{spec}: transformers cannot load an image classifier from '{path}': {one_line(exc)}"
        ) from exc
    return model, info


def _read_processor(transformers: Any, spec: str, path: Path) -> Any:
    if not (path / "preprocessor_config.json").is_file():
        raise ModelLoadError(
            f"{spec}: '{path}' has no preprocessor_config.json; save the image processor beside the model "
            "with processor.save_pretrained(DIR)"
        )
    try:
        # The PIL backend: only the settings are read, and it needs no torchvision.
        return transformers.AutoImageProcessor.from_pretrained(str(path), local_files_only=True, backend="pil")
    except Exception as exc:  # as above
        raise ModelLoadError(
            f"{spec}: transformers cannot load the image processor in '{path}': {one_line(exc)}"
        ) from exc


def _preprocessing(spec: str, processor: Any, channels: int) -> dict[str, Any]:
    """input_size, resize, crop_pct, interpolation, mean and std from an image processor."""
    size = getattr(processor, "size", None)
    crop = getattr(processor, "crop_size", None) if getattr(processor, "do_center_crop", False) else None
    height, width, shortest = (_get(size, "height"), _get(size, "width"), _get(size, "shortest_edge"))
    out: dict[str, Any] = {}
    if crop is not None and _get(crop, "height") and _get(crop, "width"):
        out["input_size"] = (int(_get(crop, "height")), int(_get(crop, "width")))
        resized = shortest or height
        out["resize"] = "center_crop"
        out["crop_pct"] = min(1.0, out["input_size"][0] / resized) if resized else 1.0
    elif shortest and getattr(processor, "crop_pct", None) is not None:
        out["input_size"] = (int(shortest), int(shortest))
        # ConvNeXt's processor crops below 384 px and only resizes from 384 px up.
        out["resize"], out["crop_pct"] = (
            ("center_crop", float(processor.crop_pct)) if shortest < 384 else ("stretch", 1.0)
        )
    elif height and width:
        out["input_size"], out["resize"], out["crop_pct"] = (int(height), int(width)), "stretch", 1.0
    elif shortest:
        out["input_size"], out["resize"], out["crop_pct"] = (int(shortest), int(shortest)), "center_crop", 1.0
    else:
        raise ModelLoadError(f"{spec}: the image processor gives no input size (size = {size!r})")
    # Model input = (pixel * 255 * rescale - mean) / std on [0, 255] pixels, i.e. on [0, 1]
    # pixels p: (p - mean / (255 rescale)) / (std / (255 rescale)).
    scale = 255.0 * (float(processor.rescale_factor) if getattr(processor, "do_rescale", True) else 1.0)
    if getattr(processor, "do_normalize", False):
        mean, std = _per_channel(processor.image_mean, channels), _per_channel(processor.image_std, channels)
    else:
        mean, std = (0.0,) * channels, (1.0,) * channels
    out["mean"] = tuple(m / scale for m in mean)
    out["std"] = tuple(s / scale for s in std)
    out["interpolation"] = PIL_FILTERS.get(int(getattr(processor, "resample", 2)), "bicubic")
    return out


def _get(size: Any, key: str) -> Any:
    """A field of an image processor's size: a dict in older versions, a SizeDict in newer ones."""
    if size is None:
        return None
    return size.get(key) if isinstance(size, dict) else getattr(size, key, None)


def _per_channel(values: Any, channels: int) -> tuple[float, ...]:
    if isinstance(values, (int, float)):
        return (float(values),) * channels
    return tuple(float(v) for v in values)
