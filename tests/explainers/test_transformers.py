"""Vision transformers: Grad-CAM on the token grid (a known answer), and every method
either explains a transformer or refuses it with UnsupportedModelError before computing
anything. The models here are written out (no timm); tests/explainers/test_transformers_extras.py
runs timm's ViT, DeiT and Swin."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import neuromask
from explainers._fixtures import fast_options, one_thread  # noqa: F401 - autouse fixture
from explainers.test_all_methods import assert_unchanged, full_state
from neuromask.errors import UnsupportedModelError
from neuromask.models.vit import SmallViT

PATCH = 4


class PlantedViT(nn.Module):
    """A transformer-shaped network with a known Grad-CAM answer.

    Each 4 x 4 patch becomes the token (s, -s), s = the patch's pixel sum; two prefix
    tokens (a class and a register token, timm's layout) go first; a LayerNorm over the
    channels; the mean over the grid tokens; logits (a0 - a1, a1 - a0). The LayerNorm
    maps (s, -s) to (1, -1) for s > 0 and (0, 0) to (0, 0), so the target 0's logit is
    2 x (the share of bright patches), and Grad-CAM on the norm is exactly 2 / T on the
    bright patches and 0 elsewhere (T grid tokens), whatever the prefix tokens hold.
    """

    def __init__(self, announce_prefix: bool = True) -> None:
        super().__init__()
        if announce_prefix:
            self.num_prefix_tokens = 2
        self.patch_embed = nn.Conv2d(1, 2, PATCH, stride=PATCH, bias=False)
        self.prefix = nn.Parameter(torch.tensor([[[3.0, -1.0], [0.5, 2.0]]]))
        self.norm = nn.LayerNorm(2, eps=1e-12)
        self.head = nn.Linear(2, 2, bias=False)
        with torch.no_grad():
            self.patch_embed.weight.copy_(torch.stack([torch.ones(1, PATCH, PATCH), -torch.ones(1, PATCH, PATCH)]))
            self.head.weight.copy_(torch.tensor([[1.0, -1.0], [-1.0, 1.0]]))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        tokens = self.patch_embed(inputs).flatten(2).transpose(1, 2)  # (N, h * w, 2)
        tokens = torch.cat([self.prefix.expand(inputs.shape[0], -1, -1), tokens], dim=1)
        return self.head(self.norm(tokens)[:, 2:].mean(dim=1))


def planted_images(cells: list[tuple[int, int]], grid: tuple[int, int] = (4, 4)) -> torch.Tensor:
    """(N, 1, 4h, 4w): black, with image i's patch ``cells[i]`` (row, column) lit."""
    images = torch.zeros(len(cells), 1, PATCH * grid[0], PATCH * grid[1])
    for i, (r, c) in enumerate(cells):
        images[i, 0, PATCH * r : PATCH * (r + 1), PATCH * c : PATCH * (c + 1)] = torch.rand(PATCH, PATCH) + 0.1
    return images


@pytest.mark.parametrize("announce_prefix", [True, False], ids=["num_prefix_tokens", "found"])
def test_gradcam_on_the_token_grid_is_the_planted_patch(announce_prefix: bool) -> None:
    model = PlantedViT(announce_prefix)
    cells = [(0, 0), (2, 3), (3, 1)]
    images = planted_images(cells)
    e = neuromask.explain(model, images, target=0, method="gradcam", upsample="nearest")
    # The norm, not the patch embedding (the only convolution, which the CNN rule would take).
    assert e.extras["layer"] == "norm"
    assert e.extras["grid"] == "tokens 4x4 after 2"
    expected = torch.zeros(3, 16, 16)
    for i, (r, c) in enumerate(cells):
        expected[i, PATCH * r : PATCH * (r + 1), PATCH * c : PATCH * (c + 1)] = 2 / 16
    torch.testing.assert_close(e.attribution, expected, rtol=0, atol=1e-6)
    # The other class is hurt by the patch: nothing positive to show.
    other = neuromask.explain(model, images, target=1, method="gradcam", upsample="nearest")
    assert other.attribution.abs().max() < 1e-6


def test_gradcam_token_grid_of_a_non_square_image() -> None:
    model = PlantedViT()
    images = planted_images([(1, 4)], grid=(2, 5))
    e = neuromask.explain(model, images, target=0, method="gradcam", upsample="nearest")
    assert e.extras["grid"] == "tokens 2x5 after 2"
    assert e.attribution[0, PATCH:, 4 * PATCH :].min() > 0
    assert e.attribution[0, :PATCH].max() == 0 and e.attribution[0, :, : 4 * PATCH].max() == 0


def test_gradcam_picks_the_last_norm_the_target_reaches_in_a_class_token_vit() -> None:
    """With a class token read by the head, the final norm's patch tokens get no gradient:
    the layer is the last block's first norm, whose tokens the last attention mixes into
    the class token."""

    class ClassTokenViT(SmallViT):
        num_prefix_tokens = 1

        def __init__(self) -> None:
            super().__init__(3, 1, 16, depth=2, heads=2)
            self.cls = nn.Parameter(torch.randn(1, 1, 16))

        def forward(self, inputs: torch.Tensor) -> torch.Tensor:
            tokens = self.patch_embed(inputs).flatten(2).transpose(1, 2)
            tokens = torch.cat([self.cls.expand(inputs.shape[0], -1, -1), tokens], dim=1)
            return self.head(self.norm(self.blocks(tokens))[:, 0])

    torch.manual_seed(0)
    model = ClassTokenViT().eval()
    x = torch.randn(2, 1, 32, 32)
    e = neuromask.explain(model, x, method="gradcam")
    assert (e.extras["layer"], e.extras["grid"]) == ("blocks.1.norm1", "tokens 4x4 after 1")
    # The same layer by name: the same map; the final norm by name: exactly zero.
    named = neuromask.explain(model, x, method="gradcam", layer="blocks.1.norm1")
    torch.testing.assert_close(named.attribution, e.attribution)
    assert e.attribution.max() > 0
    final = neuromask.explain(model, x, method="gradcam", layer="norm", relu=False)
    assert final.attribution.abs().max() == 0


def test_gradcam_on_tokens_equals_a_literal_computation() -> None:
    """Grad-CAM on SmallViT's final norm, computed by hand from its parts."""
    torch.manual_seed(1)
    model = SmallViT(3, 1, 16, depth=2, heads=2).eval()
    x = torch.randn(2, 1, 40, 24)  # a 5 x 3 grid
    target = torch.tensor([2, 0])
    e = neuromask.explain(model, x, target=target, method="gradcam", relu=False)
    assert (e.extras["layer"], e.extras["grid"]) == ("norm", "tokens 5x3")
    from neuromask.models.vit import sincos_position_embedding

    tokens = model.patch_embed(x).flatten(2).transpose(1, 2) + sincos_position_embedding(5, 3, 16)
    a = model.norm(model.blocks(tokens)).detach().requires_grad_(True)  # (2, 15, 16)
    model.head(a.mean(dim=1)).gather(1, target[:, None]).sum().backward()
    maps = a.detach().transpose(1, 2).reshape(2, 16, 5, 3)
    weights = a.grad.transpose(1, 2).reshape(2, 16, 5, 3).mean(dim=(2, 3), keepdim=True)
    expected = F.interpolate((weights * maps).sum(dim=1, keepdim=True), size=(40, 24), mode="bilinear")[:, 0]
    torch.testing.assert_close(e.attribution, expected, rtol=1e-4, atol=1e-6)


def explained_or_refused(model: nn.Module, inputs: torch.Tensor) -> dict[str, str]:
    """Run every registered method (fast preset) on ``inputs`` (N, C, H, W): each must give
    a finite map (N, H, W), ``"explained"``, or raise UnsupportedModelError, its message;
    the model left exactly as it was either way."""
    before = full_state(model)
    outcome = {}
    for method in neuromask.methods():
        try:
            e = neuromask.explain(model, inputs, method=method, **fast_options(method, tuple(inputs.shape[-2:])))
        except UnsupportedModelError as exc:
            outcome[method] = str(exc)
        else:
            assert e.attribution.shape == inputs.shape[:1] + inputs.shape[2:], method
            assert torch.isfinite(e.attribution).all(), method
            outcome[method] = "explained"
        assert_unchanged(before, full_state(model))
    return outcome


def test_every_method_explains_a_vit_or_refuses_it() -> None:
    """lrp_epsilon and guided_backprop refuse SmallViT, naming why; every other method explains it."""
    torch.manual_seed(0)
    model = SmallViT(3, 1, 16, depth=2, heads=2)
    outcome = explained_or_refused(model, torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(0)))
    refused = {m: o for m, o in outcome.items() if o != "explained"}
    assert set(refused) == {"lrp_epsilon", "guided_backprop"}
    assert "transformer layers (LayerNorm, SelfAttention)" in refused["lrp_epsilon"]
    assert "GELU" in refused["guided_backprop"]


def test_lrp_refuses_a_transformer_before_computing_anything(monkeypatch: pytest.MonkeyPatch) -> None:
    from neuromask.explainers import lrp_epsilon

    def no_zennit() -> None:
        raise AssertionError("Zennit was reached: the refusal came too late")

    monkeypatch.setattr(lrp_epsilon, "_import_zennit", no_zennit)
    with pytest.raises(UnsupportedModelError, match="no relevance rule for transformer layers"):
        neuromask.explain(SmallViT(2, 1, 16, depth=1, heads=2), torch.rand(1, 1, 8, 8), method="lrp_epsilon")


def test_guided_backprop_refuses_gelu_also_by_name() -> None:
    """Hugging Face's GELUActivation is no nn.GELU: it is recognised by its name."""

    class GELUActivation(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.gelu(x)

    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), GELUActivation(), nn.Flatten(), nn.LazyLinear(2))
    model(torch.zeros(1, 1, 8, 8))
    with pytest.raises(UnsupportedModelError, match="GELUActivation"):
        neuromask.explain(model, torch.rand(1, 1, 8, 8), method="guided_backprop")
