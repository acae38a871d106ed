"""timm's vision transformers: ``timm:NAME`` from local checkpoints (vit_, deit_, swin_),
every method on a small ViT and a small Swin (explained, or refused with
UnsupportedModelError), and Grad-CAM's token grid against timm's own forward pieces.
Run with ``make test-extras``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import neuromask
from explainers._fixtures import one_thread  # noqa: F401 - autouse fixture
from explainers.test_transformers import explained_or_refused
from neuromask.models import load_model

pytestmark = pytest.mark.extras
timm = pytest.importorskip("timm")

# What each method must do on a transformer: explain it, except these two (the reasons
# are in their modules: no LRP rule for attention and LayerNorm; no guided rule for GELU).
REFUSED = {"lrp_epsilon": "no relevance rule for transformer layers", "guided_backprop": "GELU"}


def tiny_vit(**options) -> torch.nn.Module:
    """A 2-block ViT on 32 px (patch 8: a 4 x 4 grid), 32 dims, with timm's class token."""
    torch.manual_seed(0)
    return timm.models.vision_transformer.VisionTransformer(
        img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=3, **options
    ).eval()


def tiny_swin() -> torch.nn.Module:
    """A 2-stage Swin on 32 px (patch 4, window 4): an 8 x 8 then a 4 x 4 grid, (N, h, w, C) inside."""
    torch.manual_seed(0)
    return timm.models.swin_transformer.SwinTransformer(
        img_size=32, patch_size=4, window_size=4, embed_dim=16, depths=(1, 1), num_heads=(1, 2), num_classes=3
    ).eval()


@pytest.mark.parametrize("name", ["vit", "swin"])
def test_every_method_explains_or_refuses(name: str) -> None:
    model = tiny_vit() if name == "vit" else tiny_swin()
    outcome = explained_or_refused(model, torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0)))
    assert {m for m, o in outcome.items() if o != "explained"} == set(REFUSED)
    for method, reason in REFUSED.items():
        assert reason in outcome[method]


@pytest.mark.parametrize(
    ("options", "layer", "grid"),
    [
        ({}, "blocks.1.norm1", "tokens 4x4 after 1"),
        ({"reg_tokens": 2}, "blocks.1.norm1", "tokens 4x4 after 3"),
        ({"global_pool": "avg", "class_token": False}, "blocks.1.norm2", "tokens 4x4"),
    ],
    ids=["class_token", "registers", "average"],
)
def test_gradcam_layer_on_timm_vits(options, layer: str, grid: str) -> None:
    """The class-token ViT: the last block's first norm (pytorch-grad-cam's advice for
    ViT); with registers, 1 + 2 prefix tokens dropped; averaged tokens with fc_norm on the
    pooled vector: the last token-level norm, the last block's second."""
    e = neuromask.explain(tiny_vit(**options), torch.randn(1, 3, 32, 32), method="gradcam")
    assert (e.extras["layer"], e.extras["grid"]) == (layer, grid)


def test_gradcam_on_deit_drops_the_class_and_distillation_tokens() -> None:
    torch.manual_seed(0)
    model = timm.create_model(
        "deit_tiny_distilled_patch16_224", img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=3
    ).eval()
    e = neuromask.explain(model, torch.randn(1, 3, 32, 32), method="gradcam")
    assert (e.extras["layer"], e.extras["grid"]) == ("blocks.1.norm1", "tokens 4x4 after 2")


def test_gradcam_on_swin_is_the_literal_computation_on_timms_forward_pieces() -> None:
    """Swin keeps its tokens as (N, h, w, C): Grad-CAM on the final norm, computed from
    timm's forward_features (which ends with that norm) and forward_head."""
    model = tiny_swin()
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    target = torch.tensor([0, 2])
    e = neuromask.explain(model, x, target=target, method="gradcam")
    assert (e.extras["layer"], e.extras["grid"]) == ("norm", "nhwc 4x4")
    features = model.forward_features(x).detach().requires_grad_(True)  # (2, 4, 4, 16)
    model.forward_head(features).gather(1, target[:, None]).sum().backward()
    maps, grads = features.detach().permute(0, 3, 1, 2), features.grad.permute(0, 3, 1, 2)
    cam = (grads.mean(dim=(2, 3), keepdim=True) * maps).sum(dim=1, keepdim=True).clamp(min=0)
    expected = F.interpolate(cam, size=(32, 32), mode="bilinear")[:, 0]
    torch.testing.assert_close(e.attribution, expected, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize(
    "name", ["vit_tiny_patch16_224", "deit_tiny_distilled_patch16_224", "swin_tiny_patch4_window7_224"]
)
def test_timm_transformers_load_from_a_local_checkpoint(name: str, tmp_path: Path) -> None:
    """The real names, random weights saved locally and loaded through timm's pretrained path."""
    torch.manual_seed(0)
    reference = timm.create_model(name, pretrained=False).eval()
    path = tmp_path / f"{name}.pth"
    torch.save(reference.state_dict(), path)
    loaded = load_model(f"timm:{name}", weights=path)
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(loaded.module(x), reference(x))
    assert loaded.input_size == (224, 224) and loaded.labels is not None and len(loaded.labels) == 1000
    e = neuromask.explain(loaded, x, method="gradcam")
    expected_layer = "norm" if name.startswith("swin") else "blocks.11.norm1"
    assert e.extras["layer"] == expected_layer
    assert (
        e.extras["grid"] == {"vit": "tokens 14x14 after 1", "dei": "tokens 14x14 after 2", "swi": "nhwc 7x7"}[name[:3]]
    )
