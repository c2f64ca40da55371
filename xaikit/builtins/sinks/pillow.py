"""Writing pictures with Pillow: the formats it writes, chosen by the file's extension."""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from typing import Tuple

from PIL import Image

from xaikit import OutputError

COMMON = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp")
"""The formats people look for first, in the order listings show them."""


@lru_cache(maxsize=None)
def writable_extensions(mode: str) -> Tuple[str, ...]:
    """Every extension whose format Pillow writes an image of ``mode`` in: the
    :data:`COMMON` ones first, the others alphabetically.

    Tried on a 1x1 image: a format whose encoder is missing or refuses the mode is left out.
    """
    Image.init()
    image = Image.new(mode, (1, 1))
    found = []
    for extension, format_name in sorted(Image.registered_extensions().items()):
        if format_name not in Image.SAVE:
            continue
        try:
            image.save(io.BytesIO(), format=format_name)
        except Exception:  # noqa: S112 - a format that cannot hold the mode, whatever Pillow raises
            continue
        found.append(extension)
    return tuple(sorted(found, key=lambda e: (COMMON.index(e) if e in COMMON else len(COMMON), e)))


def save_image(image: Image.Image, path: Path) -> None:
    """Save ``image`` in the format that ``path``'s extension names."""
    extensions = writable_extensions(image.mode)
    if path.suffix.lower() not in extensions:
        raise OutputError(f"Pillow does not write {image.mode} images as "
                          f"{path.suffix or 'files without an extension'} (it writes "
                          f"{', '.join(extensions)})", subject="output")
    try:
        image.save(path)
    except (KeyError, ValueError, OSError) as exc:
        raise OutputError(f"cannot write {path.name}: {exc}", subject="output") from None
