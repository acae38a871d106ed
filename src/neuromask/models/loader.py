"""``load_model(spec)``: every way a classifier gets into neuromask.

Spec syntax (the first rule that matches wins):

==========================  ===========================================================
``NAME``                    a built-in model (``list_models()`` / ``neuromask models``)
``torchvision:NAME``        torchvision's classifier ``NAME`` with its ``DEFAULT`` weights
                            (extra ``vision``), e.g. ``torchvision:resnet18``
``timm:NAME``               timm's ``NAME`` with its pretrained weights (extra ``timm``),
                            e.g. ``timm:resnet18`` or ``timm:resnet18.a1_in1k``; vision
                            transformers too (``vit_*``, ``deit_*``, ``swin_*``); with
                            ``weights=FILE`` from a local checkpoint
``hf:DIR``                  a Hugging Face ``transformers`` image classifier and its image
                            processor, saved in folder ``DIR`` by ``save_pretrained``
                            (extra ``hf``; see :mod:`neuromask.models.hf`)
``PATH.onnx``               an ONNX file, converted to PyTorch by onnx2torch so that
                            gradients flow (extra ``onnx``)
``PATH@MODULE:CLASS``       a state dict (``torch.save(model.state_dict(), PATH)``) loaded
                            into ``CLASS()`` (constructed with no arguments); ``MODULE`` is
                            an importable module (``package.module``) or a Python file
                            (``path/to/net.py``), e.g. ``net.pt@mypkg.nets:Net``
``PATH``                    a TorchScript file (``torch.jit.save``)
==========================  ===========================================================

Keyword options override what the model brings (torchvision, timm and Hugging Face models
bring their own input size, normalisation, crop and labels; ONNX files their input shape); for files
the defaults are those of :data:`FILE_DEFAULTS`: 224 x 224 RGB, ImageNet mean/std,
ImageNet-style centre crop, no labels. Every failure raises
:class:`~neuromask.errors.ModelLoadError` with a one-line message (a missing optional
extra raises :class:`~neuromask.errors.MissingDependencyError`).
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._core import one_line
from ..errors import ModelLoadError, require
from ..types import LoadedModel
from ._registry import BUILTIN_MODULES, MODELS
from .exported import adapt
from .imagenet import IMAGENET_MEAN, IMAGENET_STD

# What a model loaded from a file (TorchScript, state dict, ONNX) is fed unless told otherwise.
FILE_DEFAULTS: dict[str, Any] = {
    "input_size": (224, 224),
    "mean": IMAGENET_MEAN,
    "std": IMAGENET_STD,
    "channels": 3,
    "resize": "center_crop",
    "crop_pct": 0.875,
    "interpolation": "bilinear",
    "labels": None,
}
RESIZE_MODES = ("center_crop", "stretch")
INTERPOLATIONS = ("bilinear", "bicubic", "nearest")
# Suffixes that mark a spec as a file path even when the file is missing, so that the
# error says "file not found" rather than "unknown model name".
MODEL_FILE_SUFFIXES = (".pt", ".pth", ".pts", ".ts", ".jit", ".torchscript", ".bin", ".ckpt", ".onnx")


def list_models() -> list[tuple[str, str]]:
    """The built-in models as ``(name, description)`` pairs, sorted by name."""
    _import_builtins()
    return [(entry.name, str(entry.meta.get("description", ""))) for entry in MODELS]


def load_model(
    spec: str | os.PathLike[str],
    *,
    device: str | torch.device = "cpu",
    input_size: int | tuple[int, int] | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    labels: str | os.PathLike[str] | Sequence[str] | None = None,
    channels: int | None = None,
    resize: str | None = None,
    crop_pct: float | None = None,
    interpolation: str | None = None,
    weights: str | os.PathLike[str] | None = None,
) -> LoadedModel:
    """Load a classifier with its preprocessing, input size and class labels.

    Args:
        spec: what to load; see the module docstring for the syntax.
        device: where the module is put.
        input_size: (H, W) or one int for a square; default the model's own, else 224.
        mean, std: per-channel normalisation of [0, 1] pixels; default the model's own,
            else ImageNet's. For a model that takes [0, 1] pixels give ``mean=(0, 0, 0),
            std=(1, 1, 1)``.
        labels: class names, as a list or a text file with one name per line (line i =
            class i); default the model's own, else none.
        channels: 3 (RGB) or 1 (grey); default the model's own, else 3.
        resize: ``"center_crop"`` or ``"stretch"``; default the model's own, else centre crop.
        crop_pct: for ``"center_crop"``, the share of the resized short side kept;
            default the model's own, else 0.875 (224 of 256).
        interpolation: ``"bilinear"``, ``"bicubic"`` or ``"nearest"``; default the
            model's own, else bilinear.
        weights: for ``torchvision:`` and ``timm:`` only, a local checkpoint file used
            instead of downloading the pretrained weights (e.g. on a machine offline).

    Returns:
        A :class:`LoadedModel` whose module is in eval mode on ``device`` and has been
        checked to map a zero input (1, C, H, W) to logits (1, L), L = the number of labels.

    Raises:
        ModelLoadError: the spec or a file cannot be loaded, or an option is invalid.
        MissingDependencyError: the optional extra the spec needs is not installed.
    """
    text = os.fspath(spec).strip()
    if not text:
        raise ModelLoadError(
            "the model spec is empty; give a built-in name (see `neuromask models`), torchvision:NAME, timm:NAME, "
            "hf:DIR or a model file"
        )
    if weights is not None and not text.startswith(("torchvision:", "timm:")):
        raise ModelLoadError(
            f"weights= applies to torchvision:NAME and timm:NAME specs only; got spec '{text}' "
            "(for a state dict use PATH@MODULE:CLASS)"
        )
    # Options first: a typo should not wait for a large model to load.
    options: dict[str, Any] = {
        "input_size": _parse_input_size(input_size),
        "mean": _parse_floats("mean", mean),
        "std": _parse_floats("std", std),
        "labels": _parse_labels(labels),
        "channels": channels,
        "resize": resize,
        "crop_pct": crop_pct,
        "interpolation": interpolation,
    }
    loaded = replace(_load(text, weights), **{k: v for k, v in options.items() if v is not None})
    _validate(loaded)
    try:
        module = loaded.module.to(device).eval()
    except (RuntimeError, AssertionError, ValueError) as exc:  # torch raises all three for a bad device
        raise ModelLoadError(f"cannot put model '{text}' on device '{device}': {one_line(exc)}") from exc
    loaded = replace(loaded, module=module)
    if loaded.extra.get("source") == "file":
        # Exported files often take (N, H, W, C) and end in a softmax: wrap them so that
        # they take (N, C, H, W) and return logits (log-probabilities), see .exported.
        loaded = adapt(loaded, layout=loaded.extra.get("input_layout"))
    _check_forward(loaded)
    return loaded


# --------------------------------------------------------------------------- dispatch


def _import_builtins() -> None:
    """Import the modules that register built-in models (lazily: some import heavy code)."""
    for name in BUILTIN_MODULES:
        importlib.import_module(f"{__package__}.{name}")


def _load(spec: str, weights: str | os.PathLike[str] | None) -> LoadedModel:
    _import_builtins()
    if spec in MODELS:
        return MODELS.get(spec)()
    if spec.startswith("torchvision:"):
        return _load_torchvision(spec, spec.removeprefix("torchvision:"), weights)
    if spec.startswith("timm:"):
        return _load_timm(spec, spec.removeprefix("timm:"), weights)
    if spec.startswith("hf:"):
        from .hf import load_hf

        return load_hf(spec, spec.removeprefix("hf:"))
    if "@" in spec:
        # A class spec never holds '@', so split at the last one: paths may contain '@'.
        path, class_spec = spec.rsplit("@", 1)
        return _load_state_dict(spec, _existing_file(path), class_spec)
    if not _looks_like_path(spec):
        close = difflib.get_close_matches(spec, MODELS.names(), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ModelLoadError(
            f"unknown model '{spec}'{hint}; give a built-in name ({', '.join(MODELS.names())}), "
            "torchvision:NAME, timm:NAME, hf:DIR, a TorchScript file, a .onnx file or WEIGHTS.pt@MODULE:CLASS"
        )
    file = _existing_file(spec)
    if file.suffix.lower() == ".onnx":
        return _load_onnx(spec, file)
    return _load_torchscript(spec, file)


def _looks_like_path(spec: str) -> bool:
    return "/" in spec or os.sep in spec or Path(spec).suffix.lower() in MODEL_FILE_SUFFIXES or Path(spec).exists()


def _existing_file(path: str) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise ModelLoadError(f"model file '{path}' does not exist")
    if not p.is_file():
        raise ModelLoadError(f"model file '{path}' is not a file")
    if p.stat().st_size == 0:
        raise ModelLoadError(f"model file '{path}' is empty (0 bytes)")
    return p


# --------------------------------------------------------------------------- files


def _load_torchscript(spec: str, path: Path) -> LoadedModel:
    try:
        module = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:  # torch.jit.load raises RuntimeError, ValueError or pickle errors alike
        try:
            _read_state_dict(path)
        except ModelLoadError:
            pass  # not a state dict either: say what the file should have been
        else:
            raise ModelLoadError(
                f"'{path}' is a state dict, not a TorchScript file; name the class it belongs "
                "to: 'PATH@MODULE:CLASS', MODULE as in 'mypkg.nets' or 'path/to/net.py'"
            ) from exc
        raise ModelLoadError(
            f"'{path}' is not a TorchScript file (torch.jit.save), an ONNX file (.onnx) or a "
            f"state dict: {one_line(exc)}"
        ) from exc
    return LoadedModel(module=module, name=spec, **FILE_DEFAULTS, extra={"source": "file"})


def _load_state_dict(spec: str, path: Path, class_spec: str) -> LoadedModel:
    cls = _import_class(class_spec)
    try:
        module = cls()
    except Exception as exc:  # the user's constructor may raise anything
        raise ModelLoadError(f"cannot construct {class_spec}() with no arguments: {one_line(exc)}") from exc
    if not isinstance(module, nn.Module):
        raise ModelLoadError(f"{class_spec}() is a {type(module).__name__}, not a torch.nn.Module")
    _load_weights(module, _read_state_dict(path), what=f"'{path}'", into=class_spec)
    return LoadedModel(module=module, name=spec, **FILE_DEFAULTS, extra={"source": "file"})


def _import_class(class_spec: str) -> type:
    module_name, sep, qualname = class_spec.rpartition(":")
    if not sep or not module_name or not qualname:
        raise ModelLoadError(
            f"class spec '{class_spec}' must be MODULE:CLASS, e.g. 'mypkg.nets:Net' or 'path/net.py:Net'"
        )
    if module_name.endswith(".py"):
        file = Path(module_name).expanduser()
        if not file.is_file():
            raise ModelLoadError(f"Python file '{module_name}' (of class spec '{class_spec}') does not exist")
        # A name of our own keeps the user's file from shadowing an installed module.
        name = f"neuromask_user_model_{abs(hash(str(file.resolve())))}"
        loader_spec = importlib.util.spec_from_file_location(name, file)
        if loader_spec is None or loader_spec.loader is None:
            raise ModelLoadError(f"'{module_name}' cannot be imported as a Python file")
        module = importlib.util.module_from_spec(loader_spec)
        # Registered before running it, as importlib documents, so that e.g. dataclasses work.
        sys.modules[name] = module
        try:
            loader_spec.loader.exec_module(module)
        except Exception as exc:  # the user's file may raise anything
            del sys.modules[name]
            raise ModelLoadError(f"importing '{module_name}' failed: {one_line(exc)}") from exc
    else:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            raise ModelLoadError(
                f"cannot import module '{module_name}' ({one_line(exc)}); install it, add its folder "
                "to PYTHONPATH, or name the file: 'PATH@path/to/net.py:CLASS'"
            ) from exc
        except Exception as exc:  # the user's module may raise anything on import
            raise ModelLoadError(f"importing '{module_name}' failed: {one_line(exc)}") from exc
    obj: Any = module
    for part in qualname.split("."):
        if not hasattr(obj, part):
            raise ModelLoadError(f"'{module_name}' has no class '{qualname}' (class spec '{class_spec}')")
        obj = getattr(obj, part)
    if not isinstance(obj, type):
        raise ModelLoadError(f"'{module_name}:{qualname}' is not a class")
    return obj


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors saved in ``path``, or ModelLoadError when it holds no state dict.

    Accepts a plain state dict, a checkpoint dict whose ``"state_dict"`` entry is one, and
    keys prefixed ``module.`` (what ``nn.DataParallel`` saves).
    """
    try:
        # weights_only: a model file must not run code when it is read.
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load raises pickle, zip and runtime errors alike
        raise ModelLoadError(
            f"'{path}' is not a state dict saved with torch.save(model.state_dict()): {one_line(exc)}"
        ) from exc
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    if not (isinstance(obj, Mapping) and obj and all(isinstance(v, torch.Tensor) for v in obj.values())):
        raise ModelLoadError(f"'{path}' holds a {type(obj).__name__}, not a state dict (a mapping of names to tensors)")
    state = {str(k): v for k, v in obj.items()}
    if all(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
    return state


def _load_weights(module: nn.Module, state: Mapping[str, torch.Tensor], *, what: str, into: str) -> None:
    """``module.load_state_dict(state)`` with a one-line message that names the mismatch."""
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
        for k in own
        if k in state and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    problems = []
    for title, items in (("missing keys", missing), ("unexpected keys", unexpected), ("shapes differ", shapes)):
        if items:
            more = f" (+{len(items) - 3} more)" if len(items) > 3 else ""
            problems.append(f"{title}: {', '.join(items[:3])}{more}")
    if problems:
        raise ModelLoadError(f"state dict {what} does not match {into}: {'; '.join(problems)}")
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelLoadError(f"state dict {what} does not load into {into}: {one_line(exc)}") from exc


def _load_onnx(spec: str, path: Path) -> LoadedModel:
    onnx = require("onnx", "onnx", "loading an ONNX model")
    onnx2torch = require("onnx2torch", "onnx", "loading an ONNX model")
    try:
        proto = onnx.load(str(path))
    except Exception as exc:  # protobuf's DecodeError and friends
        raise ModelLoadError(f"'{path}' is not an ONNX model: {one_line(exc)}") from exc
    if not proto.graph.node:
        raise ModelLoadError(f"'{path}' is not an ONNX model (it holds no graph)")
    try:
        module = onnx2torch.convert(proto)
    except Exception as exc:  # onnx2torch raises NotImplementedError, KeyError, ... for ops it lacks
        raise ModelLoadError(f"onnx2torch cannot convert '{path}' to PyTorch: {one_line(exc)}") from exc
    defaults = dict(FILE_DEFAULTS)
    extra: dict[str, Any] = {"source": "file"}
    shape = _onnx_input_shape(proto)
    if shape is not None:
        channels, height, width, layout = shape
        defaults.update(channels=channels, input_size=(height, width))
        extra["input_layout"] = layout
    return LoadedModel(module=module, name=spec, **defaults, extra=extra)


def _onnx_input_shape(proto: Any) -> tuple[int, int, int, str] | None:
    """(C, H, W, layout) of the graph's image input when the file fixes them, else ``None``.

    The layout is ``"NHWC"`` when the last dimension is 1 or 3 and the second is not
    (a Keras-style channels-last input), else ``"NCHW"``.
    """
    initializers = {init.name for init in proto.graph.initializer}
    inputs = [i for i in proto.graph.input if i.name not in initializers]
    if len(inputs) != 1:
        return None
    dims = [d.dim_value for d in inputs[0].type.tensor_type.shape.dim]
    if len(dims) != 4 or min(dims[1:]) <= 0:  # dim_value is 0 for a named (dynamic) dimension
        return None
    if dims[3] in (1, 3) and dims[1] not in (1, 3):
        return dims[3], dims[1], dims[2], "NHWC"
    return dims[1], dims[2], dims[3], "NCHW"


# --------------------------------------------------------------------------- hubs


def _load_torchvision(spec: str, name: str, weights: str | os.PathLike[str] | None) -> LoadedModel:
    require("torchvision", "vision", "torchvision:NAME models")
    import torchvision.models as tvm

    available = tvm.list_models(module=tvm)  # classifiers only, not detection or segmentation
    if name not in available:
        close = difflib.get_close_matches(name, available, n=1)
        hint = f" (did you mean 'torchvision:{close[0]}'?)" if close else ""
        raise ModelLoadError(f"torchvision has no classifier '{name}'{hint}")
    default = tvm.get_model_weights(name).DEFAULT
    if weights is None:
        try:
            module = tvm.get_model(name, weights=default)
        except Exception as exc:  # URLError, OSError, hash mismatch (RuntimeError), ...
            raise ModelLoadError(
                f"could not get the weights of {spec} ({one_line(exc)}); offline, pass "
                "weights=PATH or put the file in $TORCH_HOME/hub/checkpoints/"
            ) from exc
    else:
        module = tvm.get_model(name, weights=None)
        path = _existing_file(os.fspath(weights))
        _load_weights(module, _read_state_dict(path), what=f"'{path}'", into=spec)
    preset = default.transforms()
    crop, short = preset.crop_size[0], preset.resize_size[0]
    return LoadedModel(
        module=module,
        name=spec,
        input_size=(crop, crop),
        mean=tuple(preset.mean),
        std=tuple(preset.std),
        labels=list(default.meta["categories"]) if "categories" in default.meta else None,
        channels=3,
        resize="center_crop",
        crop_pct=crop / short,
        interpolation=preset.interpolation.value,
    )


def _load_timm(spec: str, name: str, weights: str | os.PathLike[str] | None) -> LoadedModel:
    timm = require("timm", "timm", "timm:NAME models")
    from timm.data import ImageNetInfo, infer_imagenet_subset, resolve_data_config

    if not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=1)
        hint = f" (did you mean 'timm:{close[0]}'?)" if close else ""
        raise ModelLoadError(f"timm has no model '{name}'{hint}")
    kwargs: dict[str, Any] = {}
    if weights is not None:
        kwargs["pretrained_cfg_overlay"] = {"file": str(_existing_file(os.fspath(weights)))}
    try:
        module = timm.create_model(name, pretrained=True, **kwargs)
    except Exception as exc:  # hub download errors, a bad checkpoint, no pretrained weights
        raise ModelLoadError(
            f"could not load the pretrained weights of {spec} ({one_line(exc)}); offline, pass weights=PATH"
        ) from exc
    config = resolve_data_config({}, model=module)
    subset = infer_imagenet_subset(module)
    labels = None
    if subset is not None:
        # Descriptions read "tench, Tinca tinca"; the first synonym is the usual short name.
        labels = [d.split(",")[0].strip() for d in ImageNetInfo(subset).label_descriptions()]
    channels, height, width = config["input_size"]
    return LoadedModel(
        module=module,
        name=spec,
        input_size=(height, width),
        mean=tuple(config["mean"]),
        std=tuple(config["std"]),
        labels=labels,
        channels=channels,
        resize="center_crop",
        crop_pct=float(config["crop_pct"]),
        interpolation=config["interpolation"] if config["interpolation"] in INTERPOLATIONS else "bilinear",
    )


# --------------------------------------------------------------------------- options and checks


def _parse_input_size(size: int | tuple[int, int] | None) -> tuple[int, int] | None:
    if size is None:
        return None
    pair = (size, size) if isinstance(size, int) else tuple(size)
    if len(pair) != 2 or not all(isinstance(v, int) and v > 0 for v in pair):
        raise ModelLoadError(f"input_size must be a positive int or (H, W); got {size!r}")
    return (pair[0], pair[1])


def _parse_floats(name: str, values: Sequence[float] | None) -> tuple[float, ...] | None:
    if values is None:
        return None
    try:
        return tuple(float(v) for v in values)
    except (TypeError, ValueError) as exc:
        raise ModelLoadError(f"{name} must be a sequence of numbers, one per channel; got {values!r}") from exc


def _parse_labels(labels: str | os.PathLike[str] | Sequence[str] | None) -> list[str] | None:
    if labels is None:
        return None
    if isinstance(labels, (str, os.PathLike)):
        path = Path(labels).expanduser()
        if not path.is_file():
            raise ModelLoadError(f"labels file '{labels}' does not exist")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelLoadError(f"cannot read labels file '{labels}' as UTF-8 text: {one_line(exc)}") from exc
        names = [line.strip() for line in text.splitlines() if line.strip()]
        if not names:
            raise ModelLoadError(f"labels file '{labels}' holds no names (one per line expected)")
        return names
    return [str(name) for name in labels]


def _validate(model: LoadedModel) -> None:
    if model.channels not in (1, 3):
        raise ModelLoadError(f"channels must be 1 (grey) or 3 (RGB); got {model.channels}")
    for key in ("mean", "std"):
        value = getattr(model, key)
        if value is not None and len(value) != model.channels:
            raise ModelLoadError(f"{key} needs {model.channels} values (one per channel); got {len(value)}")
    if model.std is not None and any(s <= 0 for s in model.std):
        raise ModelLoadError(f"std values must be positive; got {model.std}")
    if model.resize not in RESIZE_MODES:
        raise ModelLoadError(f"resize must be one of {', '.join(RESIZE_MODES)}; got '{model.resize}'")
    if not 0 < model.crop_pct <= 1:
        raise ModelLoadError(f"crop_pct must be in (0, 1]; got {model.crop_pct}")
    if model.interpolation not in INTERPOLATIONS:
        raise ModelLoadError(f"interpolation must be one of {', '.join(INTERPOLATIONS)}; got '{model.interpolation}'")


def _check_forward(model: LoadedModel) -> None:
    """One forward pass of zeros (1, C, H, W): the model must return logits (1, L)."""
    height, width = model.input_size
    shape = (1, model.channels, height, width)
    device = next((p.device for p in model.module.parameters()), torch.device("cpu"))
    try:
        with torch.no_grad():
            out = model.module(torch.zeros(shape, device=device))
    except Exception as exc:  # any failure of a user's model on the shape we would feed it
        raise ModelLoadError(
            f"model '{model.name}' fails on an input of shape {shape}: {one_line(exc)}; "
            "pass input_size= and channels= that match the model"
        ) from exc
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != 1:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ModelLoadError(f"model '{model.name}' must return logits (N, L); on {shape} it returned {got}")
    if model.labels is not None and len(model.labels) != out.shape[1]:
        raise ModelLoadError(
            f"model '{model.name}' has {out.shape[1]} classes but {len(model.labels)} labels were given"
        )
