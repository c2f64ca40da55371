"""Reading images as a model expects them: its size, its channels, its value range."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from xaikit.engine.model import LoadedModel
from xaikit.plugin.errors import ImageError

MAX_IMAGE_PIXELS = 64_000_000
"""Largest image read (width x height); larger files are refused before decoding."""

_MODES = {1: "L", 3: "RGB"}


def load_image(source: Any, model: LoadedModel) -> np.ndarray:
    """``source`` preprocessed for ``model``: float32 ``model.input_shape`` (C, H, W).

    ``source`` is a path, a PIL image, or a numpy array. An array already of the
    model's input shape is taken as preprocessed; any other array is pixels (H, W)
    or (H, W, C) in 0-255, read like an image file. Images are converted to the
    model's channel count, resized to its height and width (bilinear) and put through
    the model's :attr:`~xaikit.LoadedModel.preprocessing` (divided by 255 unless the
    model sets ``no_image_normalization``).
    """
    if isinstance(source, np.ndarray) and source.shape == model.input_shape:
        return np.ascontiguousarray(source, dtype=np.float32)
    return preprocess(read_image(source), model)


def read_image(source: Any) -> Image.Image:
    """``source`` (a path, a PIL image or an array of 0-255 pixels) as an 8-bit PIL image
    at its own resolution: what sinks draw maps over."""
    if isinstance(source, np.ndarray):
        image = _from_array(source)
    elif isinstance(source, Image.Image):
        image = source
    elif isinstance(source, (str, os.PathLike)):
        image = open_image(Path(source))
    else:
        raise ImageError(f"expected a path, a PIL image or a numpy array, got "
                         f"{type(source).__name__}", subject="image")
    if image.mode.startswith("I;16") or image.mode == "I":
        # 16-bit greyscale: convert("L") would clip at 255, so rescale first.
        wide = np.asarray(image, dtype=np.float64)
        image = Image.fromarray(np.round(wide * (255.0 / 65535.0)).astype(np.uint8), "L")
    return image


def open_image(path: Path) -> Image.Image:
    """Open and decode ``path``, refusing missing, non-image and oversized files."""
    if path.is_dir():
        raise ImageError("is a folder, not an image file", subject="image", path=path)
    if not path.is_file():
        raise ImageError("no such file", subject="image", path=path)
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise ImageError(f"{width}x{height} pixels is more than the limit of "
                                 f"{MAX_IMAGE_PIXELS}", subject="image", path=path)
            image.load()
            return image
    except UnidentifiedImageError:
        raise ImageError("not an image file", subject="image", path=path) from None
    except Image.DecompressionBombError:  # Pillow's own, larger limit, checked on open
        raise ImageError(f"more than the limit of {MAX_IMAGE_PIXELS} pixels", subject="image",
                         path=path) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"cannot decode: {exc}", subject="image", path=path) from None


def preprocess(image: Image.Image, model: LoadedModel) -> np.ndarray:
    """Convert, resize and scale an image from :func:`read_image` for ``model``."""
    channels, height, width = model.input_shape
    mode = _MODES.get(channels)
    if mode is None:
        raise ImageError(f"the model takes {channels}-channel input; pass a preprocessed "
                         f"array of shape {model.input_shape}", subject="image")
    image = image.convert(mode)
    if image.size != (width, height):
        image = image.resize((width, height), Image.BILINEAR)
    pixels = np.asarray(image, dtype=np.float32)
    pixels = pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)
    return model.preprocessing(pixels)


def _from_array(array: np.ndarray) -> Image.Image:
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
        raise ImageError(f"an array of shape {array.shape} is neither pixels (H, W) or "
                         "(H, W, C) nor the model's input shape", subject="image")
    if not np.isfinite(array).all():
        raise ImageError("the array holds NaN or infinite values", subject="image")
    return Image.fromarray(np.clip(np.round(array), 0, 255).astype(np.uint8))
