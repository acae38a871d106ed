"""``load_model("hf:DIR")``: Hugging Face image classifiers from a save_pretrained folder.

Small ViT and ConvNeXt configurations are built and saved here (nothing is downloaded);
the loaded model must give the saved model's logits, read its labels, and preprocess an
image as the saved image processor itself does. Needs ``transformers`` (extra ``hf``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import neuromask
from neuromask.errors import ModelLoadError, UnsupportedModelError
from neuromask.images import preprocess_image
from neuromask.models import load_model

transformers = pytest.importorskip("transformers")

LABELS = {0: "cat", 1: "dog", 2: "fox"}


def save_vit(folder: Path) -> torch.nn.Module:
    """A 2-block ViT (32 px, patch 8, 32 dims) and its image processor, saved in ``folder``."""
    torch.manual_seed(0)
    config = transformers.ViTConfig(
        image_size=32,
        patch_size=8,
        num_hidden_layers=2,
        hidden_size=32,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=3,
        id2label=LABELS,
        label2id={v: k for k, v in LABELS.items()},
    )
    model = transformers.ViTForImageClassification(config).eval()
    processor = transformers.ViTImageProcessor(
        size={"height": 32, "width": 32}, image_mean=[0.5, 0.4, 0.3], image_std=[0.2, 0.25, 0.3], resample=2
    )
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return model


def save_convnext(folder: Path) -> torch.nn.Module:
    """A 2-stage ConvNeXt (hidden sizes 8, 16) with ConvNeXt's crop_pct processor at 32 px."""
    torch.manual_seed(0)
    config = transformers.ConvNextConfig(hidden_sizes=[8, 16], depths=[1, 1], num_stages=2, num_labels=4)
    model = transformers.ConvNextForImageClassification(config).eval()
    processor = transformers.ConvNextImageProcessor(size={"shortest_edge": 32}, crop_pct=0.875, resample=3)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return model


@pytest.fixture(scope="module")
def vit_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    folder = tmp_path_factory.mktemp("hf_vit")
    return folder, save_vit(folder)


@pytest.fixture(scope="module")
def convnext_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    folder = tmp_path_factory.mktemp("hf_convnext")
    return folder, save_convnext(folder)


def photo(width: int = 50, height: int = 40) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def test_vit_folder_loads_with_its_labels_size_and_logits(vit_folder) -> None:
    folder, reference = vit_folder
    loaded = load_model(f"hf:{folder}")
    assert loaded.labels == ["cat", "dog", "fox"]
    assert (loaded.input_size, loaded.resize, loaded.interpolation) == ((32, 32), "stretch", "bilinear")
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = reference(pixel_values=x).logits
        assert loaded.module(x).shape == (2, 3)
        torch.testing.assert_close(loaded.module(x), expected, rtol=0, atol=1e-6)
    assert not loaded.module.training


@pytest.mark.parametrize("which", ["vit", "convnext"])
def test_preprocessing_equals_the_image_processor(which: str, vit_folder, convnext_folder) -> None:
    folder, _ = vit_folder if which == "vit" else convnext_folder
    loaded = load_model(f"hf:{folder}")
    processor = transformers.AutoImageProcessor.from_pretrained(folder, local_files_only=True, backend="pil")
    image = photo()
    ours, _ = preprocess_image(loaded, image)
    theirs = processor(images=image, return_tensors="pt")["pixel_values"][0]
    assert ours.shape == theirs.shape
    # Both resize with Pillow; what is left is float rounding of the normalisation.
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-5)


def test_convnext_reads_crop_pct_and_default_labels(convnext_folder) -> None:
    folder, reference = convnext_folder
    loaded = load_model(f"hf:{folder}")
    assert (loaded.input_size, loaded.resize, loaded.crop_pct, loaded.interpolation) == (
        (32, 32),
        "center_crop",
        0.875,
        "bicubic",
    )
    assert loaded.labels == [f"LABEL_{i}" for i in range(4)]
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded.module(x), reference(pixel_values=x).logits, rtol=0, atol=1e-6)


def test_every_method_explains_the_hf_vit_or_refuses_it(vit_folder) -> None:
    folder, _ = vit_folder
    loaded = load_model(f"hf:{folder}")
    inputs, _ = preprocess_image(loaded, photo())
    e = neuromask.explain(loaded, inputs, method="gradcam")
    # Hugging Face's ViT has no num_prefix_tokens: the class token is found from the grid.
    assert e.extras["layer"] == "model.vit.layers.1.layernorm_before"
    assert e.extras["grid"] == "tokens 4x4 after 1"
    for method in ("lrp_epsilon", "guided_backprop"):
        with pytest.raises(UnsupportedModelError):
            neuromask.explain(loaded, inputs, method=method)


def test_bad_folders(tmp_path: Path, vit_folder) -> None:
    with pytest.raises(ModelLoadError, match="is not a folder"):
        load_model(f"hf:{tmp_path / 'missing'}")
    with pytest.raises(ModelLoadError, match="has no config.json"):
        load_model(f"hf:{tmp_path}")
    # A model without its image processor: what to save is named.
    folder, reference = vit_folder
    only_model = tmp_path / "only_model"
    reference.save_pretrained(only_model)
    with pytest.raises(ModelLoadError, match=r"no preprocessor_config.json; save the image processor"):
        load_model(f"hf:{only_model}")
    # A config that transformers does not know.
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text(json.dumps({"model_type": "no_such_model"}))
    with pytest.raises(ModelLoadError, match="transformers cannot load an image classifier"):
        load_model(f"hf:{broken}")
    with pytest.raises(ModelLoadError, match="weights= applies to"):
        load_model(f"hf:{folder}", weights=folder / "model.safetensors")


def test_weights_missing_from_the_folder_are_refused(tmp_path: Path, vit_folder) -> None:
    """A backbone saved without the classifier head: transformers would draw the head at
    random and only warn; the loader refuses."""
    from safetensors.torch import load_file, save_file

    folder, _ = vit_folder
    headless = tmp_path / "headless"
    headless.mkdir()
    for name in ("config.json", "preprocessor_config.json"):
        (headless / name).write_text((folder / name).read_text())
    state = {k: v for k, v in load_file(folder / "model.safetensors").items() if not k.startswith("classifier")}
    save_file(state, headless / "model.safetensors")
    with pytest.raises(ModelLoadError, match="the saved weights lack classifier"):
        load_model(f"hf:{headless}")


def test_gradcam_on_hf_swin_is_the_literal_computation_on_its_sequence(tmp_path: Path) -> None:
    """Hugging Face's Swin keeps (N, h * w, C) sequences without a class token: Grad-CAM on
    its final LayerNorm, computed from the model's own pieces (the backbone's last hidden
    state is that norm's output; then its pooler and classifier)."""
    torch.manual_seed(0)
    config = transformers.SwinConfig(
        image_size=32, patch_size=4, embed_dim=16, depths=[1, 1], num_heads=[1, 2], window_size=4, num_labels=3
    )
    reference = transformers.SwinForImageClassification(config).eval()
    reference.save_pretrained(tmp_path)
    transformers.ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(tmp_path)
    loaded = load_model(f"hf:{tmp_path}")
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    target = torch.tensor([1, 2])
    e = neuromask.explain(loaded, x, target=target, method="gradcam")
    assert (e.extras["layer"], e.extras["grid"]) == ("model.swin.layernorm", "tokens 4x4")
    features = reference.swin(pixel_values=x).last_hidden_state.detach().requires_grad_(True)  # (2, 16, 32)
    logits = reference.classifier(reference.swin.pooler(features.transpose(1, 2)).flatten(1))
    logits.gather(1, target[:, None]).sum().backward()
    maps = features.detach().transpose(1, 2).reshape(2, 32, 4, 4)
    weights = features.grad.transpose(1, 2).reshape(2, 32, 4, 4).mean(dim=(2, 3), keepdim=True)
    cam = (weights * maps).sum(dim=1, keepdim=True).clamp(min=0)
    expected = torch.nn.functional.interpolate(cam, size=(32, 32), mode="bilinear")[:, 0]
    torch.testing.assert_close(e.attribution, expected, rtol=1e-4, atol=1e-7)
