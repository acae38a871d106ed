"""Image files in, model inputs out, and attributions back to the image's own size.

- :func:`load_image`: any file Pillow reads -> an RGB ``PIL.Image``, or one clear
  :class:`~neuromask.errors.ImageLoadError`.
- :func:`preprocess_image`: an image -> model inputs (C, H, W) as the
  :class:`~neuromask.types.LoadedModel` expects them, plus the :class:`ImageGeometry`
  that says where they came from.
- :func:`to_original_size`: an attribution (H, W) of those inputs -> (H0, W0) over the
  original image, for saving and overlays.

Only Pillow and numpy: the core install has no torchvision.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageLoadError, ImageNote, InputError
from .types import LoadedModel

# Smaller images carry too little to explain (and a 1x1 file is almost always a mistake).
MIN_SIZE = 8
# What a transparent pixel is composited on: white, as image viewers and documents show it.
BACKGROUND = (255, 255, 255)
_RESAMPLE = {
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "nearest": Image.Resampling.NEAREST,
}
_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")


@dataclass(frozen=True)
class ImageGeometry:
    """Where a model input came from in the original image.

    Attributes:
        original_size: (H0, W0) of the image as given (after EXIF rotation).
        resized_size: (Hr, Wr) the image was resized to.
        crop: (top, left, H, W) of the model input inside the resized image.
    """

    original_size: tuple[int, int]
    resized_size: tuple[int, int]
    crop: tuple[int, int, int, int]


def load_image(path: str | os.PathLike[str]) -> Image.Image:
    """Read an image file as RGB.

    Any format Pillow reads. Grayscale, palette and CMYK images are converted to RGB;
    transparent pixels are composited on white (:data:`BACKGROUND`); 16-bit images
    (``I;16``) are scaled from 0..65535 to 0..255, as are ``I`` (32-bit integer) images
    whose values exceed 255; float (``F``) images in [0, 1] are scaled by 255, others
    stretched from their minimum to their maximum. The EXIF orientation is applied, so
    the image is the right way up. Multi-frame files (animated GIF, PNG or WebP,
    multi-page TIFF) give their first frame, with an :class:`~neuromask.errors.ImageNote`
    warning that says so.

    Raises:
        ImageLoadError: the path does not exist or is a folder, the file is empty, is not
            an image (e.g. a text file named .jpg), is corrupt or truncated, or the image
            is smaller than :data:`MIN_SIZE` pixels on a side.
    """
    p = Path(path)
    if not p.exists():
        raise ImageLoadError(f"image '{path}' does not exist")
    if not p.is_file():
        raise ImageLoadError(f"image '{path}' is not a file")
    if p.stat().st_size == 0:
        raise ImageLoadError(f"image '{path}' is empty (0 bytes)")
    try:
        with Image.open(p) as img:
            frames = getattr(img, "n_frames", 1)
            img.load()
            image = _to_rgb(ImageOps.exif_transpose(img))
    except UnidentifiedImageError as exc:
        kind = " (it holds text)" if _looks_like_text(p) else ""
        raise ImageLoadError(f"image '{path}' is not an image file Pillow can read{kind}") from exc
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(f"image '{path}' is too large to decode safely: {exc}") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # Pillow reports truncated and corrupt data through all four.
        raise ImageLoadError(f"image '{path}' is corrupt or truncated: {' '.join(str(exc).split())}") from exc
    _check_size(image, f"image '{path}'")
    if frames > 1:
        warnings.warn(f"image '{path}' has {frames} frames; only the first is explained", ImageNote, stacklevel=2)
    return image


def preprocess_image(model: LoadedModel, image: Image.Image | np.ndarray) -> tuple[torch.Tensor, ImageGeometry]:
    """Turn an image into the model's input, the way the model was trained to see it.

    ``model.resize == "center_crop"``: resize (keeping the aspect ratio) so that the
    image covers ``input_size / crop_pct`` (ImageNet: short side 256 for 224), then crop
    the centre ``input_size``. ``"stretch"``: resize to ``input_size``, ignoring the
    aspect ratio. Then grey if ``model.channels == 1``, pixels scaled to [0, 1], and
    ``model.normalize``.

    Args:
        model: the loaded model, whose ``input_size``, ``resize``, ``crop_pct``,
            ``interpolation``, ``channels``, ``mean`` and ``std`` are followed.
        image: a ``PIL.Image`` (any mode), or an array (H0, W0) or (H0, W0, 3|4) of
            uint8, or of floats in [0, 1] (as ``skimage.data`` gives).

    Returns:
        inputs (C, H, W) float32 on the CPU, and the :class:`ImageGeometry` that
        :func:`to_original_size` needs.
    """
    img = _to_rgb(_from_array(image) if isinstance(image, np.ndarray) else image)
    _check_size(img, "the image")
    if model.channels == 1:
        img = img.convert("L")
    height, width = model.input_size
    w0, h0 = img.size
    if model.resize == "stretch":
        resized, crop = (height, width), (0, 0, height, width)
    elif model.resize == "center_crop":
        # The box the image must cover, e.g. 256 x 256 for 224 and crop_pct 0.875; floor
        # as timm does, with a margin so that 224 / (224 / 256) is 256, not 255.
        box_h = math.floor(height / model.crop_pct + 1e-6)
        box_w = math.floor(width / model.crop_pct + 1e-6)
        scale = max(box_h / h0, box_w / w0)
        resized = (max(height, round(h0 * scale)), max(width, round(w0 * scale)))
        # Rounded like torchvision's CenterCrop.
        top = int(round((resized[0] - height) / 2.0))
        left = int(round((resized[1] - width) / 2.0))
        crop = (top, left, height, width)
    else:
        raise InputError(f"model.resize must be 'center_crop' or 'stretch'; got '{model.resize}'")
    if model.interpolation not in _RESAMPLE:
        raise InputError(f"model.interpolation must be one of {', '.join(_RESAMPLE)}; got '{model.interpolation}'")
    img = img.resize((resized[1], resized[0]), _RESAMPLE[model.interpolation])
    top, left = crop[0], crop[1]
    img = img.crop((left, top, left + width, top + height))
    pixels = torch.from_numpy(np.asarray(img, dtype=np.float32) / np.float32(255.0))
    pixels = pixels[None] if pixels.ndim == 2 else pixels.permute(2, 0, 1)
    inputs = model.normalize(pixels[None])[0].contiguous()
    return inputs, ImageGeometry(original_size=(h0, w0), resized_size=resized, crop=crop)


def to_original_size(attribution: torch.Tensor | np.ndarray, geometry: ImageGeometry) -> np.ndarray:
    """Map an attribution of the model's input back onto the original image.

    The attribution (H, W) is placed where its crop lies in the resized image, and the
    result is resized to the original (H0, W0): an area average where the image was
    enlarged for the model, bilinear where it was shrunk. With a centre crop, the part
    of the image outside the crop was never seen by the model: its attribution is 0.

    Args:
        attribution: (H, W), H x W = the crop size of ``geometry``.
        geometry: what :func:`preprocess_image` returned with the inputs.

    Returns:
        (H0, W0) float32.
    """
    if isinstance(attribution, torch.Tensor):
        attribution = attribution.detach().to("cpu", torch.float32).numpy()
    values = np.asarray(attribution, dtype=np.float32)
    top, left, height, width = geometry.crop
    if values.shape != (height, width):
        raise InputError(f"attribution must be (H, W) = ({height}, {width}); got shape {tuple(values.shape)}")
    canvas = np.zeros(geometry.resized_size, dtype=np.float32)
    canvas[top : top + height, left : left + width] = values
    h0, w0 = geometry.original_size
    if canvas.shape == (h0, w0):
        return canvas
    # Shrinking averages the area each original pixel covers (so a crop edge on a pixel
    # boundary stays sharp); enlarging interpolates. Pillow resizes float32 ('F') images
    # without rounding them to 8 bits.
    shrink = canvas.shape[0] >= h0 and canvas.shape[1] >= w0
    resample = Image.Resampling.BOX if shrink else Image.Resampling.BILINEAR
    resized = Image.fromarray(canvas).resize((w0, h0), resample)
    return np.asarray(resized, dtype=np.float32).copy()


def to_input_size(attribution: torch.Tensor | np.ndarray, geometry: ImageGeometry) -> np.ndarray:
    """Bring a map over the original image (H0, W0) onto the model's input (H, W): the inverse
    of :func:`to_original_size`, done as :func:`preprocess_image` does it to the image.

    The map is resized to the resized image's size (bilinear; unchanged when the sizes
    agree) and the model's crop is cut out of it. When the image had the model's input
    size (no resize, no crop) the map comes back exactly; otherwise it is the map as the
    model would see it, smoothed by the resampling.

    Args:
        attribution: (H0, W0) = ``geometry.original_size``.
        geometry: what :func:`preprocess_image` returned with the inputs.

    Returns:
        (H, W) float32, H x W = the crop size of ``geometry``.
    """
    if isinstance(attribution, torch.Tensor):
        attribution = attribution.detach().to("cpu", torch.float32).numpy()
    values = np.asarray(attribution, dtype=np.float32)
    if values.shape != tuple(geometry.original_size):
        raise InputError(
            f"attribution must be (H0, W0) = {tuple(geometry.original_size)}; got shape {tuple(values.shape)}"
        )
    if values.shape != tuple(geometry.resized_size):
        rh, rw = geometry.resized_size
        values = np.asarray(Image.fromarray(values).resize((rw, rh), Image.Resampling.BILINEAR), dtype=np.float32)
    top, left, height, width = geometry.crop
    return values[top : top + height, left : left + width].copy()


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode -> RGB, as :func:`load_image` documents."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in _SIXTEEN_BIT_MODES or mode == "I":
        values = np.asarray(img).astype(np.float64)
        if mode in _SIXTEEN_BIT_MODES or values.max(initial=0) > 255:
            values = np.clip(values, 0, 65535) / 257.0
        return Image.fromarray(np.round(np.clip(values, 0, 255)).astype(np.uint8)).convert("RGB")
    if mode == "F":
        values = np.nan_to_num(np.asarray(img, dtype=np.float64))
        lo, hi = float(values.min(initial=0)), float(values.max(initial=0))
        if lo < 0 or hi > 1:
            values = (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values)
        return Image.fromarray(np.round(values * 255).astype(np.uint8)).convert("RGB")
    if mode in _ALPHA_MODES or "transparency" in img.info:
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, BACKGROUND + (255,))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")  # L, 1, P, CMYK, YCbCr, ...


def _from_array(array: np.ndarray) -> Image.Image:
    """(H, W) or (H, W, 3|4) uint8, or floats in [0, 1] -> a PIL image."""
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise InputError(f"an image array must be (H, W) or (H, W, 3|4); got shape {tuple(array.shape)}")
    if array.dtype != np.uint8:
        if not np.issubdtype(array.dtype, np.floating):
            raise InputError(f"an image array must be uint8 or float in [0, 1]; got dtype {array.dtype}")
        if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
            raise InputError("a float image array must hold finite values in [0, 1]")
        array = np.round(array * 255).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(array))


def _check_size(img: Image.Image, what: str) -> None:
    width, height = img.size
    if min(width, height) < MIN_SIZE:
        raise ImageLoadError(f"{what} is {width}x{height} pixels; images must be at least {MIN_SIZE}x{MIN_SIZE}")


def _looks_like_text(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(512)
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A character cut at the end of the 512 bytes is still text.
        if exc.start < len(head) - 3:
            return False
    return b"\0" not in head
