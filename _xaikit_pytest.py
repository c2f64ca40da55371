"""pytest fixtures for plugin tests, loaded in every pytest run wherever xaikit is installed
(through the ``pytest11`` entry point): a tiny NNC-style model and an image for it.

A module outside the ``xaikit`` package, so that loading it imports neither xaikit nor
nnabla: a fixture imports them when a test first uses it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from xaikit.engine.model import LoadedModel


@pytest.fixture(scope="session")
def tiny_nnp(tmp_path_factory) -> Path:
    """A tiny NNC-style ``.nnp``: 1x8x8 greyscale input, a convolution, 3 classes (Softmax)."""
    from xaikit.testing import make_nnp

    return make_nnp(tmp_path_factory.mktemp("xaikit") / "tiny.nnp", channels=1,
                    size=(8, 8), num_classes=3)


@pytest.fixture(scope="session")
def tiny_image(tmp_path_factory) -> Path:
    """A random 8x8 greyscale PNG for :func:`tiny_nnp`."""
    from xaikit.testing import make_image

    return make_image(tmp_path_factory.mktemp("xaikit") / "tiny.png", size=(8, 8))


@pytest.fixture(scope="session")
def tiny_model(tiny_nnp: Path) -> "LoadedModel":
    """:func:`tiny_nnp` loaded: a :class:`xaikit.LoadedModel`."""
    from xaikit.run.explain import load_model

    return load_model(tiny_nnp)
