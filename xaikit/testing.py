"""Helpers for testing xaikit and its plugins: tiny NNC-style models and images, the
``xaikit`` command in-process, and a conformance check for explainers.

Plugin authors import these in their own tests (the ``tiny_nnp``, ``tiny_image`` and
``tiny_model`` pytest fixtures of xaikit's pytest plugin are built from them)::

    from xaikit.testing import check_explainer, make_dataset_csv, make_image, make_nnp

    def test_the_contract():
        check_explainer("my-explainer", num_samples=2)

    def test_my_explainer(tmp_path):
        model = make_nnp(tmp_path / "tiny.nnp", channels=1, size=(8, 8))
        data = make_dataset_csv(tmp_path / "data" / "validation.csv", rows=30)
        ...
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import sys
import tempfile
import typing
import warnings
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Tuple, Type, Union

import annotated_types
import numpy as np

from xaikit.engine.backend import F, nn
from xaikit.plugin.errors import PluginError
from xaikit.plugin.explainer import Attribution, Explainer
from xaikit.plugin.hookspecs import hookimpl
from xaikit.plugin.manager import (
    hook_problems,
    plugin_manager,
    register_plugin,
    registry,
    unregister_plugin,
)
from xaikit.plugin.params import Params, option_name, reserved_fields
from xaikit.run import explain as api
from xaikit.run.images import load_image
from xaikit.run.request import build_request

if TYPE_CHECKING:
    import click.testing

PathLike = Union[str, "os.PathLike[str]"]

_save_ids = itertools.count()


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
    # A scope of its own: nnabla's parameter registry is global, and id(path) is reused.
    with nn.parameter_scope(f"xaikit_save_{next(_save_ids)}"):
        np.random.seed(seed)
        nn.random.seed(seed)
        x = nn.Variable((1,) + tuple(input_shape))
        logits = logits_fn(x)
        if parameters:
            for name, value in parameters.items():
                nn.get_parameters(grad_only=False)[name].d = value
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
        nn.clear_parameters()  # this scope's: they are in the file now
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


def make_onnx(
    path: PathLike,
    *,
    channels: int = 3,
    size: Tuple[int, int] = (8, 8),
    num_classes: int = 3,
    batch: Optional[int] = 1,
    layout: str = "nchw",
    flatten: str = "flatten",
    output: str = "softmax",
    seed: int = 0,
) -> Path:
    """A tiny residual CNN with random weights as an ONNX file (opset 13), for tests.

    Convolution, batch norm, ReLU, max pool, a residual block (convolution, ReLU, average
    pool, add), global average pool, then ``flatten`` (``"flatten"``, ``"reshape"`` to a
    constant target, or ``"computed"``: a target computed from the tensor's shape, as
    ``x.view(x.size(0), -1)`` exports) and a Gemm: the logits ``"logits"``, put through
    ``output`` (``"softmax"``, ``"sigmoid"`` or ``"logits"``) into ``"y"``. ``batch`` None
    makes the batch dimension dynamic; ``layout="nhwc"`` takes (batch, H, W, C) and
    transposes it, as TensorFlow exports do. Needs the ``onnx`` package.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    hidden = 4
    height, width = size
    weights = {
        "conv1_w": rng.normal(0, 0.4, (hidden, channels, 3, 3)),
        "conv1_b": rng.normal(0, 0.1, hidden),
        "bn_scale": rng.uniform(0.5, 1.5, hidden), "bn_bias": rng.normal(0, 0.1, hidden),
        "bn_mean": rng.normal(0, 0.1, hidden), "bn_var": rng.uniform(0.5, 1.5, hidden),
        "conv2_w": rng.normal(0, 0.3, (hidden, hidden, 3, 3)),
        "conv2_b": rng.normal(0, 0.1, hidden),
        "fc_w": rng.normal(0, 0.5, (num_classes, hidden)),
        "fc_b": rng.normal(0, 0.1, num_classes),
    }
    inits = [numpy_helper.from_array(v.astype(np.float32), k) for k, v in weights.items()]
    node = helper.make_node
    nodes = [node("Transpose", ["x"], ["x_nchw"], perm=[0, 3, 1, 2])] if layout == "nhwc" else []
    first = "x_nchw" if layout == "nhwc" else "x"
    nodes += [
        node("Conv", [first, "conv1_w", "conv1_b"], ["conv1"], pads=[1, 1, 1, 1]),
        node("BatchNormalization", ["conv1", "bn_scale", "bn_bias", "bn_mean", "bn_var"], ["bn"]),
        node("Relu", ["bn"], ["relu1"]),
        node("MaxPool", ["relu1"], ["pool1"], kernel_shape=[2, 2], strides=[2, 2]),
        node("Conv", ["pool1", "conv2_w", "conv2_b"], ["conv2"], pads=[1, 1, 1, 1]),
        node("Relu", ["conv2"], ["relu2"]),
        node("AveragePool", ["relu2"], ["pool2"], kernel_shape=[3, 3], strides=[1, 1],
             pads=[1, 1, 1, 1], count_include_pad=1),
        node("Add", ["pool2", "pool1"], ["residual"]),
        node("GlobalAveragePool", ["residual"], ["gap"]),
    ]
    if flatten == "flatten":
        nodes.append(node("Flatten", ["gap"], ["features"], axis=1))
    elif flatten == "reshape":
        inits.append(numpy_helper.from_array(np.array([-1, hidden], np.int64), "target"))
        nodes.append(node("Reshape", ["gap", "target"], ["features"]))
    else:
        inits += [numpy_helper.from_array(np.array(0, np.int64), "zero"),
                  numpy_helper.from_array(np.array([0], np.int64), "axis0"),
                  numpy_helper.from_array(np.array([-1], np.int64), "rest")]
        nodes += [node("Shape", ["gap"], ["gap_shape"]),
                  node("Gather", ["gap_shape", "zero"], ["rows"], axis=0),
                  node("Unsqueeze", ["rows", "axis0"], ["rows1"]),
                  node("Concat", ["rows1", "rest"], ["target"], axis=0),
                  node("Reshape", ["gap", "target"], ["features"])]
    nodes.append(node("Gemm", ["features", "fc_w", "fc_b"], ["logits"], transB=1))
    if output == "logits":
        nodes.append(node("Identity", ["logits"], ["y"]))
    else:
        final = {"softmax": "Softmax", "sigmoid": "Sigmoid"}[output]
        nodes.append(node(final, ["logits"], ["y"]))
    shape = [batch if batch else "batch"] + (
        [height, width, channels] if layout == "nhwc" else [channels, height, width])
    graph = helper.make_graph(
        nodes, "tiny_residual_cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [shape[0], num_classes])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return Path(path)


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
def run_cli(args: Sequence[str]) -> "click.testing.Result":
    """Run the ``xaikit`` command in-process, as users run it: an error users can cause
    ends with one ``error:`` line on stderr and exit status 1.

    :param args: the arguments after ``xaikit``, e.g. ``["list"]``.
    :returns: click's result, with ``exit_code``, ``stdout`` and ``stderr``.
    """
    from click.testing import CliRunner

    from xaikit.cli.main import main

    class Command:  # what CliRunner drives: main(), with its error handling
        name = "xaikit"

        def main(self, args=None, prog_name=None, **extra):
            main(list(args))

    return CliRunner().invoke(Command(), [str(a) for a in args])


class ContractWarning(UserWarning):
    """Advice from :func:`check_explainer`: the explainer works, and could serve its users
    better (a numeric parameter without bounds)."""


def check_explainer(explainer: Union[str, Explainer], **params: Any) -> None:
    """Check that an explainer keeps xaikit's contract; raise AssertionError saying where not.

    Runs it with ``params`` on tiny greyscale and RGB models (Python API, :meth:`explain`,
    :meth:`explain_batch`) and through the CLI, and checks: a name and a description, a
    ``Params`` schema (a :class:`xaikit.Params`) whose every field has a description and
    none has the name of a run option (``input``, ``labels``...; ``seed`` is the run's to
    share), no hook function whose name is not a hook (``register_explainer``) in its
    plugin or its module, maps of the model's input shape, float32 and finite, input
    images left unchanged, metadata that JSON can write, ``xaikit run <name> --help``
    listing every parameter and ``xaikit run <name>`` writing a map. A numeric parameter
    without bounds gives a :class:`ContractWarning`.

    :param explainer: an installed explainer's name, or an instance (registered for the
        check if its name is not installed).
    :param params: explainer parameters and run options (``seed``) for every run (keep
        them small: few samples).
    """
    plugins = []
    if isinstance(explainer, str):
        try:
            registration = registry().items["explainer"].get(explainer)
            explainer = registry().get("explainer", explainer)
        except PluginError as exc:
            raise AssertionError(str(exc)) from None
        plugins.append(plugin_manager().get_plugin(registration.plugin))
    _expect(isinstance(explainer, Explainer), f"{explainer!r} is not an xaikit.Explainer")
    name = getattr(explainer, "name", None)
    _expect(isinstance(name, str) and bool(name), f"{explainer!r} has no name")
    _expect(bool(explainer.description), f"{name}: no description")
    _expect(isinstance(explainer.Params, type) and issubclass(explainer.Params, Params),
            f"{name}: Params is not a subclass of xaikit.Params")
    for field, info in explainer.Params.model_fields.items():
        _expect(bool(info.description), f"{name}: parameter {field!r} has no description")
    for field in reserved_fields(explainer.Params):
        _expect(False, f"{name}: parameter {field!r} has the name of a run option "
                f"({option_name(field)}); rename it")
    plugins.append(sys.modules.get(type(explainer).__module__))
    for plugin in filter(None, plugins):
        for problem in hook_problems(plugin):
            _expect(False, f"{name}: in {getattr(plugin, '__name__', plugin)!r}: {problem}")
    for field in _unbounded_fields(explainer.Params):
        warnings.warn(f"{name}: parameter {field!r} is a number without bounds; give it the "
                      "range where it makes sense (ge or gt, le or lt): users then see the "
                      "range in --help and get a one-line error outside it", ContractWarning,
                      stacklevel=2)
    temporary = None
    if name not in registry().items["explainer"]:
        temporary = register_plugin(_SingleExplainer(explainer), name=f"check-{name}",
                                    package="xaikit.testing")
    try:
        _expect(type(registry().get("explainer", name)) is type(explainer),
                f"{name}: the installed explainer of that name is another class")
        request = build_request(name, {"image": None, **params}, dataset=False, writes=False)
        with tempfile.TemporaryDirectory() as tmp:
            _check_runs(explainer, request.params, params, Path(tmp))
            _check_cli(explainer, params, Path(tmp))
    finally:
        if temporary:
            unregister_plugin(temporary)


def _unbounded_fields(schema: Type[Params]) -> List[str]:
    """The int and float fields of ``schema`` (optional or not) with no bound at all."""
    found = []
    for field, info in schema.model_fields.items():
        kinds = set(typing.get_args(info.annotation)) - {type(None)} or {info.annotation}
        bounded = any(isinstance(m, (annotated_types.Ge, annotated_types.Gt, annotated_types.Le,
                                     annotated_types.Lt)) for m in info.metadata)
        if kinds <= {int, float} and not bounded:
            found.append(field)
    return found


class _SingleExplainer:
    def __init__(self, explainer: Explainer) -> None:
        self.explainer = explainer

    @hookimpl
    def register_explainers(self, register):
        register(self.explainer)


def _check_runs(explainer: Explainer, params: Params, options: Dict[str, Any], tmp: Path) -> None:
    cases = [(make_nnp(tmp / "grey.nnp", channels=1, size=(8, 8), num_classes=3),
              make_image(tmp / "grey.png", size=(8, 8))),
             (make_nnp(tmp / "rgb.nnp", channels=3, size=(6, 10), num_classes=4, seed=1),
              make_image(tmp / "rgb.png", size=(12, 9), mode="RGB", seed=1))]
    for model_path, image_path in cases:
        model = api.load_model(model_path)
        image = load_image(image_path, model)
        where = f"{explainer.name} on a {model.input_shape} model"
        last = model.num_classes - 1
        given = np.stack([image, image[:, ::-1, ::-1]])
        _check_result(explainer.explain(model, image, last, params), model, f"{where}: explain")
        _expect(np.array_equal(image, given[0]), f"{where}: explain changed its input image")
        batch = given.copy()
        results = explainer.explain_batch(model, batch, [last, 0], params)
        _expect(np.array_equal(batch, given), f"{where}: explain_batch changed its input images")
        _expect(len(results) == 2, f"{where}: explain_batch of 2 images gave {len(results)}")
        for i, result in enumerate(results):
            _check_result(result, model, f"{where}: explain_batch item {i}")
        explanation = api.explain(explainer.name, model, image_path, last, **options)
        _expect(explanation.attribution.shape == model.input_shape,
                f"{where}: xaikit.explain gave shape {explanation.attribution.shape}")


def _check_result(result: Any, model: Any, where: str) -> None:
    _expect(isinstance(result, (np.ndarray, Attribution)),
            f"{where}: returned a {type(result).__name__}, not an array or xaikit.Attribution")
    if isinstance(result, np.ndarray):
        _expect(result.dtype == np.float32, f"{where}: returned {result.dtype}, not float32")
    attribution = Attribution.of(result)
    values = attribution.values
    _expect(values.shape == model.input_shape,
            f"{where}: returned shape {values.shape}, expected {model.input_shape}")
    _expect(bool(np.isfinite(values).all()), f"{where}: returned NaN or infinite values")
    try:
        json.dumps(attribution.metadata)
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"{where}: metadata that JSON cannot write: {exc}") from None


def _check_cli(explainer: Explainer, params: Dict[str, Any], tmp: Path) -> None:
    name = explainer.name
    result = run_cli(["run", name, "--help"])
    _expect(result.exit_code == 0, f"{name}: `xaikit run {name} --help` failed: {result.output}")
    for option in map(option_name, explainer.Params.model_fields):
        _expect(option in result.output, f"{name}: --help does not list {option}")
    out = tmp / "cli.png"
    args = ["run", name, "-m", tmp / "grey.nnp", "-i", tmp / "grey.png", "-o", out]
    for field, value in params.items():
        flag = option_name(field)
        if isinstance(value, bool):
            args.append(flag if value else f"--no-{flag[2:]}")
        elif value is not None:
            args += [flag, value]
    result = run_cli(args)
    _expect(result.exit_code == 0 and out.is_file(),
            f"{name}: `xaikit {' '.join(map(str, args))}` failed: {result.output}")


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)
