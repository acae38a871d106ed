"""An Explanation shows itself in Jupyter: HTML with the target's label and probability,
the method, and the images with the map over them as an embedded, decodable PNG."""

from __future__ import annotations

import base64
import io
import re
import subprocess
import sys

import pytest
import torch
from PIL import Image
from torch import nn

import neuromask
from helpers import one_thread  # noqa: F401 - autouse fixture
from neuromask import LoadedModel

PNG = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')
LABELS = ["ant", "bee", "cat & dog", "deer", "eel"]


def _png(html: str) -> Image.Image:
    found = PNG.findall(html)
    assert len(found) == 1
    image = Image.open(io.BytesIO(base64.b64decode(found[0])))
    image.load()
    assert image.format == "PNG"
    return image


@pytest.fixture
def loaded(tiny_cnn: nn.Module) -> LoadedModel:
    return LoadedModel(
        module=tiny_cnn, name="tiny", input_size=(16, 16), mean=(0.4, 0.5, 0.6), std=(0.2, 0.25, 0.3), labels=LABELS
    )


def test_html_shows_label_probability_method_and_a_png(loaded: LoadedModel) -> None:
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    e = neuromask.explain(loaded, x, target=[2, 4], method="neuromask", steps=5)
    page = e._repr_html_()
    assert "<b>neuromask</b>" in page
    assert "cat &amp; dog (2)" in page and "eel (4)" in page  # labels, escaped
    for p in e.probability.tolist() + e.extras["masked_probability"].tolist():
        assert f"<td>{p:.3f}</td>" in page
    two = _png(page)
    one = _png(e[0]._repr_html_())
    assert two.width == one.width and two.height > one.height  # one row per image


def test_images_are_the_inputs_as_pixels_and_labels_the_targets_names(loaded: LoadedModel, tiny_cnn: nn.Module) -> None:
    pixels = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    x = loaded.normalize(pixels)
    e = neuromask.explain(loaded, x, target=[0, 1, 3], method="saliency")
    torch.testing.assert_close(e.images, pixels)
    assert e.labels == ["ant", "bee", "deer"]
    assert e[1].labels == ["bee"] and torch.equal(e[1].images, e.images[1:2])
    # A plain module: normalisation unknown, so each image is rescaled to [0, 1]; no labels.
    plain = neuromask.explain(tiny_cnn, x, target=[0, 1, 3], method="saliency")
    assert plain.labels is None
    assert torch.equal(plain.images.amin(dim=(1, 2, 3)), torch.zeros(3))
    torch.testing.assert_close(plain.images.amax(dim=(1, 2, 3)), torch.ones(3))
    page = plain._repr_html_()
    assert "class 3" in page and "p(target), masked" not in page
    _png(page)


def test_a_large_batch_draws_the_first_images_and_lists_all(tiny_cnn: nn.Module) -> None:
    x = torch.randn(10, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    e = neuromask.explain(tiny_cnn, x, method="gradcam")
    page = e._repr_html_()
    assert "the first 8 of 10 images" in page
    assert page.count("<tr>") == 11  # the header and every image
    eight = _png(page)
    assert eight.height > _png(e[0]._repr_html_()).height


def test_an_explanation_without_images_shows_the_map_alone(tiny_cnn: nn.Module) -> None:
    e = neuromask.explain(tiny_cnn, torch.randn(1, 3, 16, 16), method="center")
    bare = neuromask.Explanation(e.attribution, e.target, "center", {}, e.probability, 0.0)
    assert _png(bare._repr_html_()).width < _png(e._repr_html_()).width


def test_explaining_imports_no_matplotlib_until_shown() -> None:
    # A method that uses no Captum: Captum imports matplotlib itself.
    code = (
        "import sys, torch, neuromask\n"
        "m = neuromask.load_model('triangles_squares-cnn')\n"
        "e = neuromask.explain(m, torch.rand(1, 1, 32, 32), method='center')\n"
        "before = 'matplotlib' in sys.modules\n"
        "e._repr_html_()\n"
        "print(before, 'matplotlib' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]
