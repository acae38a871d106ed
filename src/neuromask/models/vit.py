"""A small vision transformer for the known-answer datasets, the transformer twin of
:class:`~neuromask.models.small.SmallCNN`.

The architecture is the "simple ViT" of Beyer, Zhai and Kolesnikov (2022, *Better plain
ViT baselines for ImageNet-1k*): non-overlapping patches embedded by one convolution
(kernel = stride = patch size), a fixed 2-D sine-cosine position embedding, pre-norm
transformer blocks (multi-head self-attention, then an MLP with GELU, each around a
residual connection), a final LayerNorm, the mean over the tokens (no class token) and
one linear layer. The fixed position embedding is computed for the grid at hand, so the
network takes any input of at least one patch per side, as the CNN does; the mean over
tokens suits counting as the CNN's global average pooling does.

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
        return self.proj((weights @ v).transpose(1, 2).reshape(n, t, d))


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
        return tokens + self.mlp(self.norm2(tokens))


class SmallViT(nn.Module):
    """Small "simple ViT" (see the module docstring): about 136k weights at the defaults.

    The defaults are those of the shipped models: 8 x 8 patches (a 4 x 4 token grid on the
    32 px datasets, 6 x 6 on the 48 px one), 64 dimensions, 4 blocks of 4 heads. 4 x 4
    patches would give a finer grid at four times the tokens; on 3000 images of
    triangles_squares they stayed at chance for longer than 8 x 8 patches took to learn.

    Args:
        num_classes: L, the number of logits.
        in_channels: C of the inputs (1 for the grey datasets).
        width: D, the token dimension (a multiple of 4 and of ``heads``).
        patch_size: side of the square patches, in pixels.
        depth: number of transformer blocks.
        heads: attention heads per block.
        mlp_ratio: hidden width of each block's MLP, in multiples of D.

    Shapes: inputs (N, C, H, W) -> logits (N, L), for H, W >= ``patch_size``; the tokens
    are the (H // patch_size) x (W // patch_size) patches in row-major order.
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 1,
        width: int = 64,
        *,
        patch_size: int = 8,
        depth: int = 4,
        heads: int = 4,
        mlp_ratio: int = 2,
    ) -> None:
        super().__init__()
        for what, value in (
            ("num_classes", num_classes),
            ("in_channels", in_channels),
            ("width", width),
            ("patch_size", patch_size),
            ("depth", depth),
            ("heads", heads),
            ("mlp_ratio", mlp_ratio),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{what} must be a positive integer; got {value!r}")
        if width % 4 or width % heads:
            raise InputError(f"width must be a multiple of 4 and of heads ({heads}); got {width}")
        self.num_classes, self.in_channels, self.width, self.patch_size = num_classes, in_channels, width, patch_size
        self.patch_embed = nn.Conv2d(in_channels, width, patch_size, stride=patch_size)
        self.blocks = nn.Sequential(*(Block(width, heads, mlp_ratio) for _ in range(depth)))
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, num_classes)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """inputs (N, C, H, W) -> logits (N, L)."""
        if inputs.shape[-1] < self.patch_size or inputs.shape[-2] < self.patch_size:
            raise InputError(
                f"SmallViT needs inputs of at least one {self.patch_size} x {self.patch_size} patch; "
                f"got shape {tuple(inputs.shape)}"
            )
        grid = self.patch_embed(inputs)  # (N, D, h, w)
        tokens = grid.flatten(2).transpose(1, 2)  # (N, h * w, D)
        position = sincos_position_embedding(grid.shape[2], grid.shape[3], self.width)
        tokens = self.blocks(tokens + position.to(tokens))
        return self.head(self.norm(tokens).mean(dim=1))
