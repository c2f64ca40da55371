"""Helpers for testing xaikit and its plugins: tiny NNC-style models and images.

Plugin authors import these in their own tests::

    from xaikit.testing import make_dataset_csv, make_image, make_nnp

    def test_my_explainer(tmp_path):
        model = make_nnp(tmp_path / "tiny.nnp", channels=1, size=(8, 8))
        data = make_dataset_csv(tmp_path / "data" / "validation.csv", rows=30)
        ...
"""

from __future__ import annotations

import csv
import os
import zipfile
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np

from .nnabla_backend import F, nn

PathLike = Union[str, "os.PathLike[str]"]


def tiny_cnn(x: "nn.Variable", num_classes: int, *, hidden: int = 4) -> "nn.Variable":
    """A convolution, a ReLU and an affine layer: class logits for ``x``."""
    import nnabla.parametric_functions as PF

    h = F.relu(PF.convolution(x, hidden, (3, 3), pad=(1, 1), name="conv"))
    return PF.affine(h, num_classes, name="affine")


def save_nnc_nnp(
    path: PathLike,
    logits_fn: Callable[["nn.Variable"], "nn.Variable"],
    input_shape: Tuple[int, int, int],
    *,
    output: str = "Softmax",
    no_image_normalization: bool = False,
    parameters: Optional[dict] = None,
    parameter_format: str = ".h5",
    seed: int = 0,
) -> Path:
    """Save a classifier as NNC saves one: ``MainRuntime`` from ``Input`` to ``output``.

    :param logits_fn: builds logits from the input variable with ``nnabla.parametric_functions``.
    :param input_shape: ``(channels, height, width)``.
    :param output: the runtime output, ``"Softmax"``, ``"Sigmoid"`` or ``"Affine"`` (raw logits).
    :param parameters: arrays to load into the parameters by name after building (trained
        weights); parameters not named keep their random initial values drawn with ``seed``.
    :param parameter_format: ``".h5"`` (newer NNC) or ``".protobuf"`` (older NNC).

    Like NNC's files, the archive holds ``net.nntxt``, the executor maps ``Input`` to the
    dataset variable ``x`` and the output to ``y'``, and a dataset names a Windows path.
    """
    from nnabla.utils.save import save

    path = Path(path)
    with nn.parameter_scope(f"xaikit_save_{id(path)}_{seed}"):
        np.random.seed(seed)
        nn.random.seed(seed)
        x = nn.Variable((1,) + tuple(input_shape))
        logits = logits_fn(x)
        if parameters:
            for name, value in parameters.items():
                nn.get_parameters()[name].d = value
        y = {"Softmax": lambda v: F.softmax(v), "Sigmoid": F.sigmoid, "Affine": lambda v: v}[
            output
        ](logits)
        contents = {
            "networks": [
                {"name": "MainRuntime", "batch_size": 1, "outputs": {output: y},
                 "names": {"Input": x}},
            ],
            "executors": [
                {"name": "Executor", "network": "MainRuntime", "data": ["Input"],
                 "output": [output], "remp": {"Input": "x", output: "y'"},
                 "no_image_normalization": no_image_normalization},
            ],
            "datasets": [
                {"name": "Validation", "uri": "C:\\Users\\nnc\\dataset\\validation.csv",
                 "cache_dir": None, "variables": {"x": x}, "shuffle": False,
                 "batch_size": 1, "no_image_normalization": no_image_normalization},
            ],
        }
        save(str(path), contents, parameter_format=parameter_format)
    _rename_member(path, "network.nntxt", "net.nntxt")
    return path


def _rename_member(path: Path, old: str, new: str) -> None:
    with zipfile.ZipFile(path) as z:
        members = [(new if i.filename == old else i.filename, z.read(i)) for i in z.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            z.writestr(name, data)


def make_nnp(
    path: PathLike,
    *,
    channels: int = 1,
    size: Tuple[int, int] = (8, 8),
    num_classes: int = 3,
    output: str = "Softmax",
    no_image_normalization: bool = False,
    parameter_format: str = ".h5",
    seed: int = 0,
) -> Path:
    """A tiny NNC-style ``.nnp`` classifier with random weights, for tests."""
    return save_nnc_nnp(
        path,
        lambda x: tiny_cnn(x, num_classes),
        (channels,) + tuple(size),
        output=output,
        no_image_normalization=no_image_normalization,
        parameter_format=parameter_format,
        seed=seed,
    )


def make_image(
    path: PathLike, *, size: Tuple[int, int] = (8, 8), mode: str = "L", seed: int = 0
) -> Path:
    """A random PNG (``mode`` "L" or "RGB") of ``size`` = (height, width)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    shape: Sequence[int] = tuple(size) + ((3,) if mode == "RGB" else ())
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(path)
    return Path(path)


def make_dataset_csv(
    path: PathLike,
    *,
    rows: int = 30,
    num_classes: int = 3,
    size: Tuple[int, int] = (8, 8),
    mode: str = "L",
    labels: str = "index",
    seed: int = 0,
) -> Path:
    """An NNC-style dataset CSV with random images in nested folders beside it.

    Row ``i`` is ``./images/<class>/<i>.png`` of class ``i % num_classes``; the header is
    ``x:image,y:label`` (``labels="index"``) or ``x:image,y__0,...`` with a one-hot label
    vector (``labels="onehot"``). Returns the CSV's path.
    """
    if labels not in ("index", "onehot"):
        raise ValueError(f"labels: 'index' or 'onehot', not {labels!r}")
    path = Path(path)
    folder = path.parent
    table: List[List[str]] = []
    for i in range(rows):
        label = i % num_classes
        image = Path("images") / str(label) / f"{i}.png"
        (folder / image.parent).mkdir(parents=True, exist_ok=True)
        make_image(folder / image, size=size, mode=mode, seed=seed + i)
        cells = ["./" + image.as_posix()]
        cells += [str(label)] if labels == "index" else [
            str(int(c == label)) for c in range(num_classes)]
        table.append(cells)
    header = ["x:image"] + (["y:label"] if labels == "index" else [
        f"y__{c}:label {c}" for c in range(num_classes)])
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows([header] + table)
    return path
