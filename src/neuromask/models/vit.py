"""A small vision transformer for the known-answer datasets, the transformer twin of
:class:`~neuromask.models.small.SmallCNN`.

The transformer is the "simple ViT" of Beyer, Zhai and Kolesnikov (2022, *Better plain
ViT baselines for ImageNet-1k*): a fixed 2-D sine-cosine position embedding, pre-norm
transformer blocks (multi-head self-attention, then an MLP with GELU, each around a
residual connection), a final LayerNorm, the mean over the tokens (no class token) and
one linear layer. The tokens come from a convolutional stem, as in Xiao et al. (2021,
*Early convolutions help transformers see better*): three 3 x 3 convolutions of stride 2
(batch norm, ReLU) and a 1 x 1 projection, one token per 8 x 8 cell of the image. With
the usual stem instead (one 8 x 8 convolution of stride 8, "patchify"), the network
stayed at chance on ``shapes_on_texture`` (loss ln 3 for 20 epochs of 10000 images;
57.9 % after 15 epochs of 24000) where this stem reached 97.8 % after 10 epochs of
10000. The fixed position embedding is computed for the grid at hand, so the network
takes any input of at least 8 x 8 pixels, as the CNN does; the mean over tokens suits
counting as the CNN's global average pooling does.

The attention is written out (``softmax(q k^T / sqrt(d)) v`` with an ``nn.Softmax``
module), not fused, so that hooks see every step.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import InputError


def sincos_position_embedding(height: int, width: int, dim: int) -> torch.Tensor:
    """The fixed 2-D position embedding of Beyer et al. (2022): (height * width, dim).

    A quarter of the channels each holds sin(x * omega_k), cos(x * omega_k),
    sin(y * omega_k), cos(y * omega_k) for the token's column x and row y, with
    frequencies omega_k = 10000^(-k / (dim/4 - 1)); tokens are in row-major order.
    ``dim`` must be a multiple of 4.
    """
    quarter = dim // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float32) / max(1, quarter - 1))
    y, x = torch.meshgrid(
        torch.arange(height, dtype=torch.float32), torch.arange(width, dtype=torch.float32), indexing="ij"
    )
    x = x.reshape(-1, 1) * omega[None]
    y = y.reshape(-1, 1) * omega[None]
    return torch.cat([x.sin(), x.cos(), y.sin(), y.cos()], dim=1)


class SelfAttention(nn.Module):
    """Multi-head self-attention: tokens (N, T, D) -> (N, T, D)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.softmax = nn.Softmax(dim=-1)
        self.proj = nn.Linear(dim, dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (N, T, D) -> (N, T, D)."""
        n, t, d = tokens.shape
        q, k, v = self.qkv(tokens).reshape(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        weights = self.softmax(q @ k.transpose(-2, -1) / math.sqrt(d // self.heads))  # (N, heads, T, T)
        mixed: torch.Tensor = self.proj((weights @ v).transpose(1, 2).reshape(n, t, d))
        return mixed


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm1(x)), then + mlp(norm2(x)); (N, T, D) -> (N, T, D)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (N, T, D) -> (N, T, D)."""
        tokens = tokens + self.attn(self.norm1(tokens))
        out: torch.Tensor = tokens + self.mlp(self.norm2(tokens))
        return out


def conv_stem(in_channels: int, width: int) -> nn.Sequential:
    """Xiao et al.'s stem: conv 3x3 stride 2 (width/4, width/2, width channels; batch norm,
    ReLU after each), then a 1 x 1 convolution: images (N, C, H, W) -> (N, width, h, w),
    h = ceil(H / 8), w = ceil(W / 8)."""
    channels = [in_channels, width // 4, width // 2, width]
    layers: list[nn.Module] = []
    for cin, cout in zip(channels, channels[1:]):
        layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
    return nn.Sequential(*layers, nn.Conv2d(width, width, 1))


class SmallViT(nn.Module):
    """Small "simple ViT" with a convolutional stem (see the module docstring): about 160k
    weights at the defaults, those of the shipped models.

    Args:
        num_classes: L, the number of logits.
        in_channels: C of the inputs (1 for the grey datasets).
        width: D, the token dimension (a multiple of 4 and of ``heads``).
        depth: number of transformer blocks.
        heads: attention heads per block.
        mlp_ratio: hidden width of each block's MLP, in multiples of D.

    Shapes: inputs (N, C, H, W) -> logits (N, L), for H, W >= 8; the tokens are the
    ceil(H / 8) x ceil(W / 8) cells of the stem's output in row-major order (a 4 x 4 grid
    on the 32 px datasets, 6 x 6 on the 48 px one).
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 1,
        width: int = 64,
        *,
        depth: int = 4,
        heads: int = 4,
        mlp_ratio: int = 2,
    ) -> None:
        super().__init__()
        for what, value in (
            ("num_classes", num_classes),
            ("in_channels", in_channels),
            ("width", width),
            ("depth", depth),
            ("heads", heads),
            ("mlp_ratio", mlp_ratio),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{what} must be a positive integer; got {value!r}")
        if width % 4 or width % heads:
            raise InputError(f"width must be a multiple of 4 and of heads ({heads}); got {width}")
        self.num_classes, self.in_channels, self.width = num_classes, in_channels, width
        self.patch_embed = conv_stem(in_channels, width)
        self.blocks = nn.Sequential(*(Block(width, heads, mlp_ratio) for _ in range(depth)))
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, num_classes)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """inputs (N, C, H, W) -> logits (N, L)."""
        if inputs.shape[-1] < 8 or inputs.shape[-2] < 8:
            raise InputError(f"SmallViT needs inputs of at least 8 x 8 pixels; got shape {tuple(inputs.shape)}")
        grid = self.patch_embed(inputs)  # (N, D, h, w)
        tokens = grid.flatten(2).transpose(1, 2)  # (N, h * w, D)
        position = sincos_position_embedding(grid.shape[2], grid.shape[3], self.width)
        tokens = self.blocks(tokens + position.to(tokens))
        logits: torch.Tensor = self.head(self.norm(tokens).mean(dim=1))
        return logits
