"""Explanation and friends.

Shape glossary used in every docstring of the package:

==================  ===========================================================
``inputs``          (N, C, H, W) float, preprocessed for the model
``logits``          (N, L) the model's raw class scores
``target``          (N,) long, the class explained for each image
``attribution``     (N, H, W) float32 on the CPU, higher = more relevant
``mask weights``    (N, 1, h, w), h x w = H x W or a coarser grid
``history``         (N, K, H, W) the mask every k optimisation steps
==================  ===========================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import nn

from .errors import TargetError


@dataclass
class MethodOutput:
    """What every explanation method returns to :func:`neuromask.explain`.

    Attributes:
        attribution: (N, H, W) on the inputs' device, higher = more relevant.
        extras: method-specific results, each a tensor whose first dimension is N or
            any other value (e.g. ``masked_probability`` (N,), ``history`` (N, K, H, W)).
    """

    attribution: torch.Tensor
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class Explanation:
    """What every method returns.

    Attributes:
        attribution: (N, H, W) float32 on the CPU, higher = more relevant. For
            ``neuromask`` it is the mask in [0, 1].
        target: (N,) long, the class explained for each image.
        method: the registered method name.
        params: the options actually used, defaults filled in.
        probability: (N,) softmax probability of the target on the original inputs.
        seconds: wall-clock seconds the method took (the whole batch).
        extras: method-specific results, e.g. ``masked_probability`` (N,) and
            ``history`` (N, K, H, W) for NeuroMask.
        images: (N, C, H, W) the explained images as pixels in [0, 1] on the CPU, for
            display: the inputs with a :class:`LoadedModel`'s normalisation undone, or
            for a plain module each image's inputs rescaled to [0, 1]; ``None`` where
            not recorded.
        labels: the target's class name per image (N), when the model was a
            :class:`LoadedModel` with labels; else ``None``.
        kind: the kind of map, the method's registered kind (``"mask"``: in [0, 1], one
            scale for every image and method; ``"gradient"``, ``"cam"``, ...), or ``None``.

    In a Jupyter notebook an explanation shows itself (``_repr_html_``): each image with
    the map over it, the target's label and probability, and the method
    (:func:`neuromask.viz.explanation_html`).
    """

    attribution: torch.Tensor
    target: torch.Tensor
    method: str
    params: dict[str, Any]
    probability: torch.Tensor
    seconds: float
    extras: dict[str, Any] = field(default_factory=dict)
    images: torch.Tensor | None = field(default=None, repr=False)
    labels: list[str] | None = None
    kind: str | None = None

    def __len__(self) -> int:
        return int(self.attribution.shape[0])

    def __getitem__(self, i: int) -> Explanation:
        """The explanation of image ``i`` alone, as a batch of one."""
        sl = slice(i, i + 1) if i >= 0 else slice(i, (i + 1) or None)
        extras = {
            k: (v[sl] if isinstance(v, torch.Tensor) and v.ndim > 0 and v.shape[0] == len(self) else v)
            for k, v in self.extras.items()
        }
        return Explanation(
            self.attribution[sl],
            self.target[sl],
            self.method,
            self.params,
            self.probability[sl],
            self.seconds,
            extras,
            images=None if self.images is None else self.images[sl],
            labels=None if self.labels is None else self.labels[sl],
            kind=self.kind,
        )

    def _repr_html_(self) -> str:
        """Jupyter's rich display; matplotlib is imported only here, when a notebook asks."""
        from .viz.notebook import explanation_html

        return explanation_html(self)


class Normalisation(Protocol):
    """What option resolution reads of a model: its per-channel normalisation (a
    :class:`LoadedModel`, or a record of one that was not loaded)."""

    @property
    def mean(self) -> tuple[float, ...] | None: ...

    @property
    def std(self) -> tuple[float, ...] | None: ...


@dataclass
class LoadedModel:
    """A classifier together with what it takes to feed it an image.

    Attributes:
        module: the ``nn.Module`` mapping inputs (N, C, H, W) to logits (N, L).
        name: the spec it was loaded from.
        input_size: (H, W) the model expects.
        mean, std: per-channel normalisation applied after scaling pixels to [0, 1],
            or ``None`` when the model takes [0, 1] pixels as they are.
        labels: class names, index = class id, or ``None`` when unknown.
        channels: number of input channels (3 for RGB, 1 for grey).
        resize: ``"center_crop"`` (resize the short side to ``input size / crop_pct``,
            then crop the centre, ImageNet style) or ``"stretch"`` (resize to the
            input size).
        crop_pct: for ``"center_crop"``, the fraction of the resized short side kept
            by the crop (0.875 = 224/256, the ImageNet convention; timm's ``crop_pct``).
        interpolation: the resampling filter, ``"bilinear"``, ``"bicubic"`` or ``"nearest"``.
    """

    module: nn.Module
    name: str
    input_size: tuple[int, int]
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    labels: list[str] | None = None
    channels: int = 3
    resize: str = "center_crop"
    crop_pct: float = 0.875
    interpolation: str = "bilinear"
    extra: dict[str, Any] = field(default_factory=dict)

    def normalize(self, pixels: torch.Tensor) -> torch.Tensor:
        """[0, 1] pixels (N, C, H, W) -> model inputs (N, C, H, W)."""
        if self.mean is None or self.std is None:
            return pixels
        mean = torch.tensor(self.mean, dtype=pixels.dtype, device=pixels.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=pixels.dtype, device=pixels.device).view(1, -1, 1, 1)
        return (pixels - mean) / std

    def denormalize(self, inputs: torch.Tensor) -> torch.Tensor:
        """Model inputs (N, C, H, W) -> [0, 1] pixels (N, C, H, W), the inverse of :meth:`normalize`."""
        if self.mean is None or self.std is None:
            return inputs
        mean = torch.tensor(self.mean, dtype=inputs.dtype, device=inputs.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=inputs.dtype, device=inputs.device).view(1, -1, 1, 1)
        return inputs * std + mean

    def label(self, index: int) -> str:
        """The class name of ``index``, or the index as text when there are no labels."""
        if self.labels is not None and 0 <= index < len(self.labels):
            return self.labels[index]
        return str(index)

    def class_index(self, cls: int | str, *, label_first: bool = False) -> int:
        """Resolve a class given as an index, a digit string or a label name.

        A digit string is an index (``--target 3``), unless ``label_first``: then a label
        equal to the text wins. Sources name their classes (an ImageFolder folder, a
        WebDataset ``.cls``), and a model's labels may be digits that are not their indices
        (the counting model's '1' .. '5' are 0 .. 4).
        """
        if isinstance(cls, int):
            return cls
        text = cls.strip()
        wanted = text.lower().replace("_", " ")
        labels = [name.lower() for name in self.labels] if self.labels is not None else []
        if label_first and wanted in labels:
            return labels.index(wanted)
        if text.lstrip("-").isdigit():
            return int(text)
        if wanted in labels:
            return labels.index(wanted)
        raise TargetError(
            f"class '{cls}' is not a label of model '{self.name}'; give an index "
            f"or one of its label names (`neuromask models --labels {self.name}` lists them)"
        )


TargetLike = int | Sequence[int] | torch.Tensor | None
