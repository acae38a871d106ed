"""SmallViT: its parts against independent formulas, any input size, and a short training run."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from neuromask.errors import InputError
from neuromask.models import train
from neuromask.models.vit import SelfAttention, SmallViT, sincos_position_embedding


def test_position_embedding_is_the_published_formula() -> None:
    """Beyer et al. (2022): for token (y, x) and k < D/4, omega_k = 10000^(-k / (D/4 - 1)),
    channels [sin(x w), cos(x w), sin(y w), cos(y w)]; written here element by element."""
    height, width, dim = 3, 5, 8
    table = sincos_position_embedding(height, width, dim)
    assert table.shape == (height * width, dim)
    quarter = dim // 4
    for y in range(height):
        for x in range(width):
            row = table[y * width + x]
            for k in range(quarter):
                omega = 10000 ** (-k / (quarter - 1))
                expected = [math.sin(x * omega), math.cos(x * omega), math.sin(y * omega), math.cos(y * omega)]
                got = [float(row[j * quarter + k]) for j in range(4)]
                assert got == pytest.approx(expected, abs=1e-6)


def test_attention_equals_torchs_scaled_dot_product_attention() -> None:
    torch.manual_seed(0)
    attention = SelfAttention(dim=12, heads=3)
    tokens = torch.randn(2, 7, 12)
    q, k, v = attention.qkv(tokens).reshape(2, 7, 3, 3, 4).permute(2, 0, 3, 1, 4)
    expected = attention.proj(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(2, 7, 12))
    torch.testing.assert_close(attention(tokens), expected, rtol=1e-5, atol=1e-6)


def test_small_vit_shapes_at_any_size_and_bad_options() -> None:
    model = SmallViT(5, 1, 16, depth=1, heads=2).eval()
    for size in ((8, 8), (32, 32), (48, 48), (30, 45)):
        assert model(torch.rand(2, 1, *size)).shape == (2, 5)
    with pytest.raises(InputError, match="at least 8 x 8 pixels"):
        model(torch.rand(1, 1, 7, 8))
    with pytest.raises(InputError, match="multiple of 4 and of heads"):
        SmallViT(2, 1, 18)
    with pytest.raises(InputError, match="depth must be a positive integer"):
        SmallViT(2, 1, 16, depth=0)


@pytest.mark.parametrize(
    ("size", "grid"), [((32, 32), (4, 4)), ((48, 48), (6, 6)), ((30, 45), (4, 6)), ((8, 9), (1, 2))]
)
def test_one_token_per_8x8_cell(size: tuple[int, int], grid: tuple[int, int]) -> None:
    """The stem's three stride-2 convolutions: ceil(H / 8) x ceil(W / 8) tokens."""
    model = SmallViT(2, 1, 16, depth=1, heads=2).eval()
    with torch.no_grad():
        assert model.patch_embed(torch.rand(1, 1, *size)).shape == (1, 16, *grid)


def test_train_vit_saves_and_reloads(tmp_path) -> None:
    result = train.train("triangles_squares", "vit", samples=64, test_samples=32, epochs=1, width=16, progress=False)
    assert result.record["arch"] == "vit" and 0 <= result.record["accuracy"] <= 1
    path, _ = train.save_trained(result, tmp_path / "tiny-vit.pt")
    loaded = train.load_trained(path)
    assert isinstance(loaded.model, SmallViT) and not loaded.model.training
    x = torch.rand(3, 1, 32, 32)
    with torch.no_grad():
        # fp16 weights on disk: the reloaded logits agree to fp16 precision.
        torch.testing.assert_close(loaded.model(x), result.model(x), rtol=0, atol=2e-2)
