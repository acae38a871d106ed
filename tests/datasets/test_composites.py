"""Composites: exact masks, the split, the "kept" filter and the cache, on a tiny stand-in model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from neuromask.datasets import composite_scenes
from neuromask.datasets import composites as comp
from neuromask.errors import InputError
from neuromask.types import LoadedModel


def _photos(names: tuple[str, ...]) -> set[str]:
    return {comp.OBJECTS[n].photo for n in names}


def test_the_split_shares_no_photo_texture_or_seed() -> None:
    dev, test = comp.SPLITS["dev"], comp.SPLITS["test"]
    assert not _photos(dev.objects) & _photos(test.objects)
    assert not set(dev.textures) & set(test.textures)
    assert dev.seed != test.seed
    assert set(dev.objects) | set(test.objects) == set(comp.OBJECTS)


@pytest.mark.parametrize("objects", [("cat",), ("cat", "espresso")])
@pytest.mark.parametrize("kind", comp.BACKGROUNDS)
def test_masks_are_exactly_the_pasted_cut_outs(objects: tuple[str, ...], kind: str) -> None:
    for i in range(5):
        rng = np.random.default_rng([7, i])
        canvas = comp.background(rng, kind, (64, 80), comp.SPLITS["test"].textures)
        scene, masks = comp.render(rng, objects, canvas, scale=(0.4, 0.9))
        assert scene.shape == (64, 80, 3) and masks.shape == (len(objects), 64, 80)
        assert scene.min() >= 0.0 and scene.max() <= 1.0
        union = masks.any(0)
        # Off the objects: the background, untouched.
        assert np.array_equal(scene[~union], canvas[~union])
        for mask, name in zip(masks, objects):
            rows, cols = np.nonzero(mask)
            box = mask[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
            assert box.all(), "the footprint is the full (rectangular) cut-out"
            # The aspect ratio of the cut (within a pixel of rounding).
            top, bottom, left, right = comp.OBJECTS[name].box
            assert abs(box.shape[0] / box.shape[1] - (bottom - top) / (right - left)) < 2 / min(box.shape)
        if len(objects) == 2:
            assert not (masks[0] & masks[1]).any()


class RedVersusGreen(nn.Module):
    """Logits (N, 1000): class 1 = 4 x the mean redness (R - G), class 0 = 0.05, the rest -1."""

    def __init__(self) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.tensor(4.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = torch.full((x.shape[0], 1000), -1.0)
        logits[:, 0] = 0.05
        logits[:, 1] = self.gain * (x[:, 0] - x[:, 1]).mean(dim=(1, 2))
        return logits


@pytest.fixture
def red_object(monkeypatch: pytest.MonkeyPatch) -> LoadedModel:
    """A pure red 'photo' of class 1 and a model that calls a scene class 1 when it is red enough."""
    red = np.zeros((20, 30, 3), np.uint8)
    red[..., 0] = 255
    source = comp.ObjectSource("red", "test:red", lambda: red, (0, 20, 0, 30), (1,))
    monkeypatch.setitem(comp.OBJECTS, "red", source)
    monkeypatch.setitem(comp.SPLITS, "dev", comp.Split(objects=("red",), textures=("brick",), seed=5))
    comp._cutout.cache_clear()
    yield LoadedModel(module=RedVersusGreen().eval(), name="red-test", input_size=(24, 24), channels=3)
    comp._cutout.cache_clear()


def test_only_scenes_the_model_calls_the_object_are_kept(red_object: LoadedModel, tmp_path: Path) -> None:
    data = composite_scenes(red_object, 6, split="dev", background="flat", cache=None)
    assert len(data) == 6 and data.labels.tolist() == [[1]] * 6
    assert data.tried > 6, "some drawn scenes are not red enough and are dropped"
    with torch.no_grad():
        top1 = red_object.module(data.images).argmax(1)
    assert top1.tolist() == [1] * 6
    assert data.images.shape == (6, 3, 24, 24) and data.evidence.shape == (6, 1, 24, 24)
    # The first kept scenes of a smaller n are those of a larger one.
    fewer = composite_scenes(red_object, 3, split="dev", background="flat", cache=None)
    assert fewer.names == data.names[:3] and torch.equal(fewer.images, data.images[:3])


def test_the_cache_gives_back_the_same_scenes(red_object: LoadedModel, tmp_path: Path) -> None:
    first = composite_scenes(red_object, 3, split="dev", background="texture", cache=tmp_path)
    files = list((tmp_path / "composites").glob("red-test-dev-1x-texture-*.npz"))
    assert len(files) == 1
    again = composite_scenes(red_object, 3, split="dev", background="texture", cache=tmp_path)
    assert torch.equal(first.images, again.images) and torch.equal(first.evidence, again.evidence)
    assert again.names == first.names and again.tried == first.tried


def test_bad_requests(red_object: LoadedModel) -> None:
    with pytest.raises(InputError, match="split"):
        composite_scenes(red_object, 1, split="train", cache=None)
    with pytest.raises(InputError, match="objects"):
        composite_scenes(red_object, 1, objects=3, cache=None)
    with pytest.raises(InputError, match="background"):
        composite_scenes(red_object, 1, background="noise", cache=None)
    with pytest.raises(InputError, match="recognises 1 of the dev split's objects; need 2"):
        composite_scenes(red_object, 1, objects=2, cache=None)
