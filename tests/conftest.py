import pytest

from xaikit.testing import make_image, make_nnp


@pytest.fixture(scope="session")
def models(tmp_path_factory):
    """Tiny NNC-style models: greyscale, RGB, binary sigmoid, no_image_normalization."""
    d = tmp_path_factory.mktemp("models")
    return {
        "grey": make_nnp(d / "grey.nnp", channels=1, size=(8, 8), num_classes=3),
        "rgb": make_nnp(d / "rgb.nnp", channels=3, size=(6, 10), num_classes=4, seed=1),
        "binary": make_nnp(d / "binary.nnp", num_classes=1, output="Sigmoid", seed=2),
        "raw": make_nnp(d / "raw.nnp", no_image_normalization=True, seed=3),
    }


@pytest.fixture(scope="session")
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp("images")
    return {
        "grey": make_image(d / "grey.png", size=(8, 8)),
        "rgb": make_image(d / "rgb.png", size=(12, 9), mode="RGB", seed=1),
    }


@pytest.fixture(scope="session")
def doctrees(tmp_path_factory):
    """The documentation built as ``make docs`` builds it: the folder of its doctrees."""
    from built_docs import build

    return build(tmp_path_factory.mktemp("docs"))
