"""load_model() with the optional extras: torchvision:, timm: and ONNX files, offline.

No network: the pretrained weights are checkpoints of randomly initialised models that
the tests write where the real code path looks for them (torch.hub's cache under
$TORCH_HOME, the Hugging Face cache under $HF_HOME) or pass as ``weights=``. The check is
that the loaded module gives the saved model's logits exactly, and that our
preprocessing equals the library's own transforms. Run with ``make test-extras``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from neuromask.errors import ModelLoadError
from neuromask.images import preprocess_image
from neuromask.models import load_model

pytestmark = pytest.mark.extras


def _photo() -> Image.Image:
    """A 500 x 375 image with structure at every scale (so that resampling matters)."""
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (15, 20, 3), dtype=np.uint8)
    smooth = np.asarray(Image.fromarray(small).resize((500, 375), Image.Resampling.BICUBIC), dtype=np.int16)
    noise = rng.integers(-20, 21, smooth.shape)
    return Image.fromarray(np.clip(smooth + noise, 0, 255).astype(np.uint8))


def _logits(module: torch.nn.Module, seed: int = 0) -> torch.Tensor:
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return module(x)


# --------------------------------------------------------------------------- torchvision


@pytest.fixture(scope="module")
def squeezenet_checkpoint(tmp_path_factory: pytest.TempPathFactory):
    """A random SqueezeNet 1.1 saved where torch.hub caches its DEFAULT weights."""
    tvm = pytest.importorskip("torchvision.models")
    weights = tvm.get_model_weights("squeezenet1_1").DEFAULT
    torch.manual_seed(0)
    reference = tvm.squeezenet1_1(weights=None).eval()
    home = tmp_path_factory.mktemp("torch_home")
    path = home / "hub" / "checkpoints" / Path(weights.url).name
    path.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), path)
    return home, path, reference, weights


def test_torchvision_default_weights_come_from_the_hub_cache(squeezenet_checkpoint, monkeypatch) -> None:
    home, _, reference, weights = squeezenet_checkpoint
    monkeypatch.setenv("TORCH_HOME", str(home))
    loaded = load_model("torchvision:squeezenet1_1")
    assert not loaded.module.training
    assert torch.equal(_logits(loaded.module), _logits(reference))
    preset = weights.transforms()
    assert loaded.labels == list(weights.meta["categories"]) and loaded.labels[0] == "tench"
    assert loaded.input_size == (224, 224) and loaded.crop_pct == 224 / 256
    assert loaded.mean == tuple(preset.mean) and loaded.std == tuple(preset.std)


def test_torchvision_weights_option_loads_a_local_checkpoint(squeezenet_checkpoint) -> None:
    _, path, reference, _ = squeezenet_checkpoint
    loaded = load_model("torchvision:squeezenet1_1", weights=path)
    assert torch.equal(_logits(loaded.module), _logits(reference))


def test_preprocessing_equals_torchvisions_transforms(squeezenet_checkpoint) -> None:
    _, path, _, weights = squeezenet_checkpoint
    loaded = load_model("torchvision:squeezenet1_1", weights=path)
    image = _photo()
    ours, _ = preprocess_image(loaded, image)
    theirs = weights.transforms()(image)
    # torchvision resizes a PIL image with Pillow too, so the two agree up to float rounding.
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-5)


def test_torchvision_errors(tmp_path: Path, squeezenet_checkpoint, monkeypatch) -> None:
    pytest.importorskip("torchvision")
    with pytest.raises(
        ModelLoadError, match=r"torchvision has no classifier 'resnet_18' \(did you mean 'torchvision:resnet18'\?\)"
    ):
        load_model("torchvision:resnet_18")
    _, path, _, _ = squeezenet_checkpoint
    with pytest.raises(ModelLoadError, match="does not match torchvision:resnet18: missing keys"):
        load_model("torchvision:resnet18", weights=path)
    # Not in the (empty) cache and no network: the message says what to do.
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", _no_network)
    with pytest.raises(ModelLoadError, match=r"could not get the weights .* offline, pass weights=PATH"):
        load_model("torchvision:squeezenet1_1")


def _no_network(url: str, *args, **kwargs) -> None:
    raise OSError(f"no network here (wanted {url})")


# --------------------------------------------------------------------------- timm

TIMM_MODEL = "mobilenetv3_small_050"  # 1.6 M parameters: quick to build and save


@pytest.fixture(scope="module")
def timm_checkpoint(tmp_path_factory: pytest.TempPathFactory):
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    reference = timm.create_model(TIMM_MODEL, pretrained=False).eval()
    path = tmp_path_factory.mktemp("timm") / "weights.pth"
    torch.save(reference.state_dict(), path)
    return path, reference


def test_timm_weights_option_goes_through_timms_pretrained_loading(timm_checkpoint) -> None:
    path, reference = timm_checkpoint
    loaded = load_model(f"timm:{TIMM_MODEL}", weights=path)
    assert not loaded.module.training
    assert torch.equal(_logits(loaded.module), _logits(reference))
    assert loaded.labels is not None and len(loaded.labels) == 1000 and loaded.labels[0] == "tench"
    assert (loaded.input_size, loaded.crop_pct, loaded.interpolation) == ((224, 224), 0.875, "bicubic")


def test_preprocessing_equals_timms_transforms(timm_checkpoint) -> None:
    import timm.data

    path, _ = timm_checkpoint
    loaded = load_model(f"timm:{TIMM_MODEL}", weights=path)
    transform = timm.data.create_transform(**timm.data.resolve_data_config({}, model=loaded.module))
    image = _photo()
    ours, _ = preprocess_image(loaded, image)
    torch.testing.assert_close(ours, transform(image), rtol=0, atol=1e-5)


HF_SCRIPT = textwrap.dedent(
    """
    import os, sys, torch
    from safetensors.torch import save_file
    import timm
    from neuromask.errors import ModelLoadError
    from neuromask.models import load_model

    name, tag, reference_path = sys.argv[1:4]
    reference = timm.create_model(name, pretrained=False).eval()
    reference.load_state_dict(torch.load(reference_path))
    x = torch.randn(1, 3, 224, 224)
    try:
        load_model("timm:" + name)
    except ModelLoadError as exc:
        print("uncached:", exc)
    # The Hugging Face cache layout: refs/main names the snapshot that holds the file.
    repo = os.path.join(os.environ["HF_HOME"], "hub", "models--timm--" + name + "." + tag)
    commit = "0" * 40
    os.makedirs(os.path.join(repo, "snapshots", commit))
    os.makedirs(os.path.join(repo, "refs"))
    with open(os.path.join(repo, "refs", "main"), "w") as f:
        f.write(commit)
    save_file(reference.state_dict(), os.path.join(repo, "snapshots", commit, "model.safetensors"))
    loaded = load_model("timm:" + name)
    with torch.no_grad():
        print("equal:", torch.equal(loaded.module(x), reference(x)))
    """
)


def test_timm_pretrained_weights_come_from_the_hub_cache(timm_checkpoint, tmp_path: Path) -> None:
    """The real ``pretrained=True`` path, offline: in a child process, because
    huggingface_hub reads HF_HUB_OFFLINE when it is imported."""
    path, reference = timm_checkpoint
    tag = reference.pretrained_cfg["tag"]
    env = {"HF_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", HF_SCRIPT, TIMM_MODEL, tag, str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert any(
        line.startswith("uncached: could not load the pretrained weights") and "weights=PATH" in line for line in lines
    )
    assert "equal: True" in lines


def test_timm_errors(tmp_path: Path) -> None:
    pytest.importorskip("timm")
    with pytest.raises(ModelLoadError, match=r"timm has no model 'resnet_18' \(did you mean 'timm:resnet18'\?\)"):
        load_model("timm:resnet_18")
    bad = tmp_path / "bad.pth"
    torch.save({"x": torch.zeros(1)}, bad)
    with pytest.raises(ModelLoadError, match="could not load the pretrained weights of timm:"):
        load_model(f"timm:{TIMM_MODEL}", weights=bad)


# --------------------------------------------------------------------------- ONNX


def _tiny_onnx(path: Path, *, keras_style: bool = False) -> dict[str, np.ndarray]:
    """conv 3x3 (3 -> 4) -> relu -> global average pool -> linear (4 -> 5), batch dynamic,
    input 3 x 20 x 24; returns its weights. ``keras_style``: the input is channels-last
    (N, 20, 24, 3), transposed inside the graph, and a softmax ends it."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = {
        "w1": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
        "b1": rng.standard_normal(4).astype(np.float32),
        "w2": rng.standard_normal((5, 4)).astype(np.float32),
        "b2": rng.standard_normal(5).astype(np.float32),
    }
    nodes = [
        helper.make_node(
            "Conv", ["t" if keras_style else "x", "w1", "b1"], ["c"], pads=[1, 1, 1, 1], kernel_shape=[3, 3]
        ),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "w2", "b2"], ["z" if keras_style else "y"], transB=1),
    ]
    if keras_style:
        nodes.insert(0, helper.make_node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]))
        nodes.append(helper.make_node("Softmax", ["z"], ["y"], axis=1))
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 20, 24, 3] if keras_style else ["N", 3, 20, 24])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])],
        [numpy_helper.from_array(v, k) for k, v in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return weights


def test_onnx_model_gives_the_reference_logits_and_gradients(tmp_path: Path) -> None:
    pytest.importorskip("onnx2torch")
    import torch.nn.functional as F

    path = tmp_path / "tiny.onnx"
    w = {k: torch.from_numpy(v) for k, v in _tiny_onnx(path).items()}
    loaded = load_model(path)
    # The input shape comes from the file.
    assert loaded.input_size == (20, 24) and loaded.channels == 3 and not loaded.module.training

    x = torch.randn(2, 3, 20, 24, generator=torch.Generator().manual_seed(0), requires_grad=True)
    x_ref = x.detach().clone().requires_grad_(True)
    out = loaded.module(x)
    ref = F.linear(F.relu(F.conv2d(x_ref, w["w1"], w["b1"], padding=1)).mean(dim=(2, 3)), w["w2"], w["b2"])
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-5)
    out[:, 1].sum().backward()
    ref[:, 1].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=0, atol=1e-6)


def test_bad_onnx_files(tmp_path: Path) -> None:
    pytest.importorskip("onnx2torch")
    text = tmp_path / "text.onnx"
    text.write_text("not a model at all\n")
    with pytest.raises(ModelLoadError, match="is not an ONNX model"):
        load_model(text)
    path = tmp_path / "tiny.onnx"
    _tiny_onnx(path)
    with pytest.raises(ModelLoadError, match=r"fails on an input of shape \(1, 1, 20, 24\)"):
        load_model(path, channels=1, mean=(0.0,), std=(1.0,))


def test_onnx_channels_last_softmax_export_is_wrapped(tmp_path: Path) -> None:
    """A Keras-style export: input (N, 20, 24, 3), a transpose inside, softmax at the end;
    loaded, it takes (N, C, H, W) and returns the log-softmax of the reference logits."""
    pytest.importorskip("onnx2torch")
    import torch.nn.functional as F

    path = tmp_path / "keras_style.onnx"
    t = {k: torch.from_numpy(v) for k, v in _tiny_onnx(path, keras_style=True).items()}
    loaded = load_model(path)
    assert loaded.input_size == (20, 24) and loaded.channels == 3
    assert loaded.extra["input_layout"] == "NHWC" and loaded.extra["outputs"] == "probabilities"
    x = torch.randn(2, 3, 20, 24, generator=torch.Generator().manual_seed(0))
    logits = F.linear(F.relu(F.conv2d(x, t["w1"], t["b1"], padding=1)).mean(dim=(2, 3)), t["w2"], t["b2"])
    with torch.no_grad():
        torch.testing.assert_close(loaded.module(x), logits.log_softmax(dim=1), rtol=0, atol=1e-5)
