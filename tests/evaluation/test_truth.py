"""Ground truth: masks and boxes read into object masks, and every bad case refused by name."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from neuromask.errors import InputError
from neuromask.evaluation import Boxes, MaskFolder, TruthError
from neuromask.evaluation.truth import open_truth

SHAPE = (6, 8)  # H, W


def _png(path: Path, values: np.ndarray, mode: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(values, mode).save(path)
    return path


def test_masks_mirror_the_source_ids_and_any_non_zero_is_object(tmp_path: Path) -> None:
    mask = np.zeros(SHAPE, np.uint8)
    mask[1:3, 2:5] = 7
    _png(tmp_path / "cats" / "a.b.png", mask)
    rgba = np.zeros((*SHAPE, 4), np.uint8)
    rgba[..., 3] = 255  # an opaque alpha says nothing about the object
    rgba[4, 6, 1] = 1
    _png(tmp_path / "x.png", rgba, "RGBA")
    folder = MaskFolder(tmp_path)
    assert folder.path("cats/a.b.jpg") == tmp_path / "cats" / "a.b.png"
    assert folder.path("shard-0.tar/key") == tmp_path / "shard-0.tar" / "key.png"
    assert np.array_equal(folder.mask("cats/a.b.jpg", SHAPE), mask > 0)
    got = folder.mask("x.png", SHAPE)
    assert got.sum() == 1 and got[4, 6]
    palette = Image.fromarray(mask, "P")
    palette.putpalette([0, 0, 0, 255, 255, 255] * 128)
    palette.save(tmp_path / "p.png")
    assert np.array_equal(folder.mask("p.png", SHAPE), mask > 0)
    assert folder.digest("cats/a.b.jpg") != folder.digest("x.png")
    assert folder.digest("nothing.png") == "missing"


def test_every_bad_mask_is_a_one_line_reason_naming_the_file(tmp_path: Path) -> None:
    _png(tmp_path / "small.png", np.ones((3, 3), np.uint8))
    _png(tmp_path / "zero.png", np.zeros(SHAPE, np.uint8))
    _png(tmp_path / "full.png", np.ones(SHAPE, np.uint8))
    (tmp_path / "text.png").write_text("not a png")
    folder = MaskFolder(tmp_path)
    cases = {
        "missing.png": "does not exist",
        "small.png": "is 3x3 pixels but the image is 8x6",
        "zero.png": "all zero",
        "full.png": "every pixel",
        "text.png": "cannot be read as an image",
    }
    for image, reason in cases.items():
        with pytest.raises(TruthError, match=reason) as caught:
            folder.mask(image, SHAPE)
        message = str(caught.value)
        assert "\n" not in message and Path(image).stem in message
    with pytest.raises(InputError, match="not a folder"):
        MaskFolder(tmp_path / "nope")


def test_coco_boxes_rasterise_by_pixel_centres(tmp_path: Path) -> None:
    coco = {
        "images": [
            {"id": 1, "file_name": "a.png"},
            {"id": 2, "file_name": "sub/b.png"},
            {"id": 3, "file_name": "c.png"},
        ],
        "annotations": [
            {"image_id": 1, "bbox": [2, 1, 3, 2]},  # x 2..5, y 1..3: columns 2-4, rows 1-2
            {"image_id": 1, "bbox": [7, 5, 1, 1]},
            {"image_id": 2, "bbox": [0.2, 0.2, 0.1, 0.1]},  # narrower than a pixel: its centre's pixel
            {"image_id": 3, "bbox": [6, 0, 5, 2]},  # reaches 3 px past the right border
        ],
    }
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps(coco))
    boxes = Boxes(path)
    expected = np.zeros(SHAPE, bool)
    expected[1:3, 2:5] = True
    expected[5, 7] = True
    assert np.array_equal(boxes.mask("a.png", SHAPE), expected)
    tiny = boxes.mask("sub/b.png", SHAPE)
    assert tiny.sum() == 1 and tiny[0, 0]
    with pytest.raises(TruthError, match=r"box \(6, 0, 11, 2\) in boxes.json reaches outside the 8x6 image"):
        boxes.mask("c.png", SHAPE)
    with pytest.raises(TruthError, match="no entry"):
        boxes.mask("d.png", SHAPE)
    assert boxes.extra_images(["a.png", "c.png"]) == ["sub/b.png"]


def test_csv_boxes_several_per_image_and_malformed_files(tmp_path: Path) -> None:
    good = tmp_path / "b.csv"
    good.write_text("image,x0,y0,x1,y1\na.png,0,0,2,2\na.png,4,4,6,6\nb.png,1,1,1,3\n")
    boxes = Boxes(good)
    assert boxes.mask("a.png", SHAPE).sum() == 8
    with pytest.raises(TruthError, match="is empty"):
        boxes.mask("b.png", SHAPE)
    bad_header = tmp_path / "h.csv"
    bad_header.write_text("file,x,y,w,h\na.png,0,0,1,1\n")
    with pytest.raises(InputError, match="header must be image,x0,y0,x1,y1"):
        Boxes(bad_header)
    bad_number = tmp_path / "n.csv"
    bad_number.write_text("image,x0,y0,x1,y1\na.png,0,zero,1,1\n")
    with pytest.raises(InputError, match="n.csv:2"):
        Boxes(bad_number)
    bad_json = tmp_path / "j.json"
    bad_json.write_text('{"images": [{"file_name": "a.png"}]}')
    with pytest.raises(InputError, match="'file_name' and 'id'"):
        Boxes(bad_json)
    with pytest.raises(InputError, match="either --masks or --boxes"):
        open_truth(tmp_path, good)
