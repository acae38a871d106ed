"""Small classifiers: the compact CNN of the known-answer datasets, and the CIFAR-10 CNN of
Carlini & Wagner (2017) that the NeuroMask paper explains.

Both map inputs (N, C, H, W) to logits (N, L) and are built from plain ``nn.Conv2d`` /
``nn.Linear`` layers, so every explainer (Grad-CAM's last conv layer, LRP's rules) finds
what it expects.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..errors import InputError

# One block of the compact CNN: (in_channels, out_channels, pool after it, is first) -> layers.
BlockFactory = Callable[[int, int, bool, bool], list[nn.Module]]


def _full_precision_block(cin: int, cout: int, pool: bool, first: bool) -> list[nn.Module]:
    """conv 3x3 -> batch norm -> ReLU -> (max pool 2x2); every block alike, ``first`` included."""
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(),
    ]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return layers


class SmallCNN(nn.Module):
    """Compact CNN: four 3x3 conv blocks (width w, 2w, 4w, 4w; 2x2 max pool after the first
    three), global average pooling, one linear layer.

    Global average pooling makes it work at any input size of at least 8 x 8 and suits
    counting (the pooled features grow with the number of objects). About 60k weights at
    ``width=16``.

    Args:
        num_classes: L, the number of logits.
        in_channels: C of the inputs (1 for the grey datasets).
        width: channels of the first block.

    Shapes: inputs (N, C, H, W) -> logits (N, L).
    """

    def __init__(self, num_classes: int, in_channels: int = 1, width: int = 16) -> None:
        super().__init__()
        self._build(num_classes, in_channels, width, _full_precision_block)

    def _build(self, num_classes: int, in_channels: int, width: int, block: BlockFactory) -> None:
        for what, value in (("num_classes", num_classes), ("in_channels", in_channels), ("width", width)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{what} must be a positive integer; got {value!r}")
        self.num_classes, self.in_channels, self.width = num_classes, in_channels, width
        channels = [in_channels, width, 2 * width, 4 * width, 4 * width]
        layers: list[nn.Module] = []
        for i in range(4):
            layers += block(channels[i], channels[i + 1], i < 3, i == 0)
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels[-1], num_classes)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """inputs (N, C, H, W) -> logits (N, L)."""
        logits: torch.Tensor = self.classifier(self.pool(self.features(inputs)).flatten(1))
        return logits


class CarliniWagnerCNN(nn.Module):
    """The CIFAR-10 network of Carlini & Wagner (2017), used by the NeuroMask paper.

    conv 3x3 64, conv 3x3 64, max pool, conv 3x3 128, conv 3x3 128, max pool (all
    unpadded, ReLU after each conv), then fully connected 256, 256 (ReLU, dropout 0.5
    after the first) and L logits. Carlini & Wagner feed pixels in [-0.5, 0.5]: use
    ``mean=(0.5,) * 3, std=(1.0,) * 3`` when wrapping it in a ``LoadedModel``.

    Shapes: inputs (N, 3, 32, 32) -> logits (N, L).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 3, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, 3),
            nn.ReLU(),
            nn.Conv2d(64, 64, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3),
            nn.ReLU(),
            nn.Conv2d(128, 128, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(128 * 5 * 5, 256),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(256, 256),
            nn.ReLU(),
            nn.Linear(256, num_classes),
        )

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """inputs (N, C, 32, 32) -> logits (N, L)."""
        if inputs.shape[-2:] != (32, 32):
            raise InputError(f"CarliniWagnerCNN takes 32 x 32 inputs; got shape {tuple(inputs.shape)}")
        logits: torch.Tensor = self.classifier(self.features(inputs))
        return logits
