"""Images: every Pillow mode to RGB, a one-line ImageLoadError for each bad file, the exact
centre-crop geometry, and attributions mapped back to the original size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from neuromask.errors import ImageLoadError, InputError
from neuromask.images import ImageGeometry, load_image, preprocess_image, to_original_size
from neuromask.types import LoadedModel


def _model(**kw) -> LoadedModel:
    """A LoadedModel for preprocessing only: identity normalisation unless told otherwise."""
    options = dict(module=nn.Identity(), name="test", input_size=(224, 224))
    options.update(kw)
    return LoadedModel(**options)


def _save(tmp: Path, name: str, img: Image.Image, **kw) -> Path:
    path = tmp / name
    img.save(path, **kw)
    return path


# --------------------------------------------------------------------------- modes


def test_grayscale_becomes_rgb_with_equal_channels(tmp_path: Path) -> None:
    grey = np.arange(12 * 10, dtype=np.uint8).reshape(12, 10)
    img = load_image(_save(tmp_path, "g.png", Image.fromarray(grey)))
    assert img.mode == "RGB" and img.size == (10, 12)
    rgb = np.asarray(img)
    for c in range(3):
        assert np.array_equal(rgb[..., c], grey)


def test_palette_and_one_bit_images_keep_their_colours(tmp_path: Path) -> None:
    rgb = np.zeros((16, 16, 3), dtype=np.uint8)
    rgb[:8] = (200, 10, 30)
    rgb[8:] = (0, 90, 255)
    pal = Image.fromarray(rgb).quantize(colors=2)
    assert np.array_equal(np.asarray(load_image(_save(tmp_path, "p.png", pal))), rgb)
    bits = Image.fromarray(np.tile([0, 255], (16, 8)).astype(np.uint8)).convert("1")
    out = np.asarray(load_image(_save(tmp_path, "b.png", bits)))
    assert set(np.unique(out)) == {0, 255} and out.shape == (16, 16, 3)


def test_transparent_pixels_are_composited_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((10, 10, 4), dtype=np.uint8)
    rgba[..., :3] = (20, 40, 60)
    rgba[:5, :, 3] = 255  # opaque top half
    rgba[5:, :, 3] = 0  # transparent bottom half
    rgba[5, 0, 3] = 128  # half transparent
    out = np.asarray(load_image(_save(tmp_path, "a.png", Image.fromarray(rgba, "RGBA")))).astype(int)
    assert (out[:5] == (20, 40, 60)).all()
    assert (out[6:] == 255).all()
    # alpha 128/255 over white: 20 * a + 255 * (1 - a), up to Pillow's rounding.
    assert np.abs(out[5, 0] - (np.array([20, 40, 60]) * 128 + 255 * 127) / 255).max() <= 1
    la = Image.fromarray(rgba[..., [0, 3]], "LA")
    out = np.asarray(load_image(_save(tmp_path, "la.png", la)))
    assert (out[:5] == 20).all() and (out[6:] == 255).all()


def test_palette_transparency_is_composited_on_white(tmp_path: Path) -> None:
    pal = Image.new("P", (10, 10), 0)
    pal.putpalette([0, 0, 255, 255, 0, 0] + [0] * 762)
    pal.paste(1, (0, 0, 10, 5))
    path = _save(tmp_path, "pt.png", pal, transparency=0)  # index 0 (blue) is transparent
    out = np.asarray(load_image(path))
    assert (out[:5] == (255, 0, 0)).all() and (out[5:] == 255).all()


def test_sixteen_bit_images_are_scaled_to_eight_bits(tmp_path: Path) -> None:
    values = np.array([[0, 257, 257 * 100, 65535]], dtype=np.uint16).repeat(8, 0).repeat(2, 1)
    img16 = Image.fromarray(values)
    assert img16.mode.startswith("I;16")
    out = np.asarray(load_image(_save(tmp_path, "i16.png", img16)))
    assert np.array_equal(out[0, ::2, 0], [0, 1, 100, 255])


def test_thirty_two_bit_and_float_images(tmp_path: Path) -> None:
    ints = Image.fromarray(np.full((8, 8), 257 * 50, dtype=np.int32))
    assert ints.mode == "I"
    assert (np.asarray(load_image(_save(tmp_path, "i32.tif", ints))) == 50).all()
    floats = Image.fromarray(np.full((8, 8), 0.5, dtype=np.float32))
    assert floats.mode == "F"
    assert (np.asarray(load_image(_save(tmp_path, "f.tif", floats))) == 128).all()


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red in CMYK
    out = np.asarray(load_image(_save(tmp_path, "c.jpg", cmyk, quality=95))).astype(int)
    assert out.shape == (16, 16, 3)
    assert out[..., 0].min() > 200 and out[..., 1:].max() < 60


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    path = _save(tmp_path, "r.jpg", Image.new("RGB", (40, 20), (10, 20, 30)), exif=exif)
    assert load_image(path).size == (20, 40)


# --------------------------------------------------------------------------- bad files


def _bad_files(tmp: Path) -> dict[str, tuple[Path, str]]:
    """name -> (path, a fragment the message must hold)."""
    good = tmp / "good.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(good)
    data = good.read_bytes()
    (tmp / "truncated.jpg").write_bytes(data[: len(data) // 2])
    png = tmp / "good.png"
    Image.new("RGB", (32, 32), (1, 2, 3)).save(png)
    raw = bytearray(png.read_bytes())
    raw[60:70] = b"\xff" * 10  # inside the image data: its checksum no longer matches
    (tmp / "corrupt.png").write_bytes(bytes(raw))
    (tmp / "empty.png").write_bytes(b"")
    (tmp / "text.jpg").write_text("hello, I am not a picture\n")
    (tmp / "noise.jpg").write_bytes(bytes(range(256)) * 4)
    Image.new("RGB", (1, 1)).save(tmp / "one.png")
    Image.new("RGB", (100, 4)).save(tmp / "thin.png")
    (tmp / "folder.png").mkdir()
    return {
        "missing": (tmp / "nope.jpg", "does not exist"),
        "folder": (tmp / "folder.png", "is not a file"),
        "empty": (tmp / "empty.png", "is empty"),
        "text": (tmp / "text.jpg", "not an image file Pillow can read (it holds text)"),
        "noise": (tmp / "noise.jpg", "not an image file Pillow can read"),
        "truncated": (tmp / "truncated.jpg", "corrupt or truncated"),
        "corrupt": (tmp / "corrupt.png", "corrupt or truncated"),
        "1x1": (tmp / "one.png", "is 1x1 pixels; images must be at least 8x8"),
        "100x4": (tmp / "thin.png", "is 100x4 pixels"),
    }


@pytest.mark.parametrize(
    "case", ["missing", "folder", "empty", "text", "noise", "truncated", "corrupt", "1x1", "100x4"]
)
def test_each_bad_image_gives_a_one_line_image_load_error(case: str, tmp_path: Path) -> None:
    path, fragment = _bad_files(tmp_path)[case]
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    message = str(info.value)
    assert fragment in message and str(path) in message
    assert "\n" not in message
    assert isinstance(info.value, ValueError)


# --------------------------------------------------------------------------- preprocessing


def test_centre_crop_takes_exactly_the_centre_pixels() -> None:
    """A 128 x 192 image for 224 px at crop_pct 0.875: resized 2x to 256 x 384, crop at
    (16, 80). With nearest resampling, input pixel (i, j) is original (8 + i//2, 40 + j//2)."""
    original = np.random.default_rng(1).integers(0, 256, (128, 192, 3), dtype=np.uint8)
    model = _model(interpolation="nearest")
    inputs, geometry = preprocess_image(model, original)
    assert geometry == ImageGeometry(original_size=(128, 192), resized_size=(256, 384), crop=(16, 80, 224, 224))
    i = np.arange(224)
    expected = original[8 + i[:, None] // 2, 40 + i[None, :] // 2].astype(np.float32) / np.float32(255)
    assert inputs.dtype == torch.float32 and inputs.shape == (3, 224, 224)
    assert torch.equal(inputs, torch.from_numpy(expected).permute(2, 0, 1))


def test_centre_crop_geometry_matches_the_imagenet_recipe() -> None:
    """Resize the short side to 256, crop 224 in the middle (torchvision's numbers)."""
    _, g = preprocess_image(_model(), Image.new("RGB", (500, 375)))
    assert g.resized_size == (256, 341) and g.crop == (16, 58, 224, 224)
    _, g = preprocess_image(_model(), Image.new("RGB", (300, 600)))
    assert g.resized_size == (512, 256) and g.crop == (144, 16, 224, 224)
    # timm's crop_pct 0.95: floor(224 / 0.95) = 235.
    _, g = preprocess_image(_model(crop_pct=0.95), Image.new("RGB", (400, 400)))
    assert g.resized_size == (235, 235) and g.crop == (6, 6, 224, 224)


def test_stretch_uses_the_whole_image() -> None:
    _, g = preprocess_image(_model(resize="stretch", input_size=(32, 48)), Image.new("RGB", (500, 375)))
    assert g == ImageGeometry(original_size=(375, 500), resized_size=(32, 48), crop=(0, 0, 32, 48))


def test_normalisation_and_grey_channel() -> None:
    img = Image.new("RGB", (64, 64), (51, 102, 204))
    mean, std = (0.5, 0.25, 0.125), (0.5, 0.25, 2.0)
    inputs, _ = preprocess_image(_model(mean=mean, std=std, input_size=(16, 16)), img)
    for c, v in enumerate((51, 102, 204)):
        torch.testing.assert_close(inputs[c], torch.full((16, 16), (v / 255 - mean[c]) / std[c]))
    grey, _ = preprocess_image(_model(channels=1, input_size=(16, 16)), img)
    # Pillow's ITU-R 601-2 luma: L = R * 299/1000 + G * 587/1000 + B * 114/1000.
    luma = round((51 * 299 + 102 * 587 + 204 * 114) / 1000)
    assert grey.shape == (1, 16, 16) and torch.equal(grey, torch.full((1, 16, 16), luma / 255))


def test_float_arrays_are_accepted_and_bad_arrays_refused() -> None:
    inputs, _ = preprocess_image(_model(input_size=(8, 8)), np.full((20, 20, 3), 0.2))
    torch.testing.assert_close(inputs, torch.full((3, 8, 8), 51 / 255))
    with pytest.raises(InputError, match=r"\(H, W\) or \(H, W, 3\|4\)"):
        preprocess_image(_model(), np.zeros((3, 20, 20, 1)))
    with pytest.raises(InputError, match="finite values in"):
        preprocess_image(_model(), np.full((20, 20), 2.0))
    with pytest.raises(ImageLoadError, match="1x1 pixels"):
        preprocess_image(_model(), np.zeros((1, 1, 3), dtype=np.uint8))


# --------------------------------------------------------------------------- back to the original


def test_to_original_size_maps_the_crop_back_exactly() -> None:
    """Geometry of the 2x case: the crop covers original rows [8, 120) and cols [40, 152)."""
    geometry = ImageGeometry(original_size=(128, 192), resized_size=(256, 384), crop=(16, 80, 224, 224))
    out = to_original_size(torch.ones(224, 224), geometry)
    assert out.dtype == np.float32 and out.shape == (128, 192)
    inside = np.zeros((128, 192), dtype=bool)
    inside[8:120, 40:152] = True
    # Downscaling 2x averages 2x2 blocks that lie wholly inside or outside the crop.
    np.testing.assert_allclose(out[inside], 1.0, atol=1e-6)
    assert (out[~inside] == 0).all()

    quadrant = torch.zeros(224, 224)
    quadrant[:112, 112:] = 1.0  # the crop's top-right quarter
    out = to_original_size(quadrant, geometry)
    expected = np.zeros((128, 192), dtype=np.float32)
    expected[8:64, 96:152] = 1.0
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_to_original_size_is_the_identity_without_resizing() -> None:
    attribution = np.random.default_rng(2).random((32, 48)).astype(np.float32)
    _, geometry = preprocess_image(_model(resize="stretch", input_size=(32, 48)), Image.new("RGB", (48, 32)))
    assert np.array_equal(to_original_size(attribution, geometry), attribution)


def test_to_original_size_upsamples_a_small_image() -> None:
    """A 20 x 30 image seen at 224: the attribution shrinks back, values stay in range."""
    _, geometry = preprocess_image(_model(), Image.new("RGB", (30, 20)))
    attribution = torch.rand(224, 224, generator=torch.Generator().manual_seed(0))
    out = to_original_size(attribution, geometry)
    assert out.shape == (20, 30) and out.min() >= 0 and out.max() <= 1


def test_to_original_size_refuses_the_wrong_shape() -> None:
    geometry = ImageGeometry(original_size=(10, 10), resized_size=(16, 16), crop=(0, 0, 16, 16))
    with pytest.raises(InputError, match=r"must be \(H, W\) = \(16, 16\); got shape \(1, 16, 16\)"):
        to_original_size(np.zeros((1, 16, 16)), geometry)


# --------------------------------------------------------------------------- files people have


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A 57-byte PNG that declares width x height pixels: a decompression bomb's header."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    return path


def test_a_decompression_bomb_is_refused_by_name(tmp_path: Path) -> None:
    path = _png_header_only(tmp_path / "bomb.png", 40000, 40000)  # 1.6 G pixels, 4.8 GB decoded
    with pytest.raises(ImageLoadError, match="too large to decode safely") as info:
        load_image(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_an_animation_gives_its_first_frame_and_says_so(tmp_path: Path) -> None:
    from neuromask.errors import ImageNote

    frames = [Image.new("RGB", (16, 16), colour) for colour in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    with pytest.warns(ImageNote, match="3 frames; only the first"):
        image = np.asarray(load_image(path)).astype(int)
    assert image[..., 0].min() > 200 and image[..., 2].max() < 50  # red: the first frame


def test_a_non_ascii_file_name_is_read(tmp_path: Path) -> None:
    path = _save(tmp_path, "chat_été_猫.png", Image.new("RGB", (12, 10), (5, 6, 7)))
    assert np.asarray(load_image(path)).shape == (10, 12, 3)
