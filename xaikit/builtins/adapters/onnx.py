"""ONNX models (exports of PyTorch, TensorFlow, Keras...) through nnabla's own ONNX importer.

ONNX carries no preprocessing, so the adapter's parameters say it (``mean``, ``std``...).
Before the importer sees a model, the adapter keeps only what computes the chosen output,
fixes a dynamic batch dimension at 1 and gives Reshape nodes whose target is computed
(``x.view(x.size(0), -1)``) the constant target ONNX's shape inference finds; the
imported network then has its batch dimension reopened (:mod:`.networks`).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Dict, List, Literal, Optional, Set, Tuple

import numpy as np
from pydantic import BeforeValidator, Field
from typing_extensions import Annotated

import xaikit
from xaikit import Layer, LoadedModel, ModelAdapter, ModelError, Preprocessing, hookimpl
from xaikit.builtins.adapters.networks import (
    NetworkBuilder,
    network_proto,
    open_model,
    proto_parameters,
    reopen_batch,
)

INSTALL = "pip install 'xaikit[onnx]' && pip install --no-deps nnabla-converter==1.39.0"
"""What makes ``.onnx`` files readable (the converter's own requirements pull TensorFlow,
which its ONNX importer never uses)."""
LOGIT_OPS = ("Softmax", "Sigmoid")
"""Final operators whose input is the model's logit (``score="logit"``)."""


def comma_separated(value: Any) -> Any:
    """``"0.485,0.456,0.406"`` (the command line's spelling) -> a list of its parts."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",")]
    if isinstance(value, (int, float)):
        return [value]
    return value


PerChannel = Annotated[Tuple[float, ...], BeforeValidator(comma_separated)]
"""One value for every channel, or one per channel: ``0.5`` or ``0.485,0.456,0.406``."""


class OnnxAdapter(ModelAdapter):
    name = "onnx"
    description = "ONNX models (PyTorch, TensorFlow, Keras exports) through nnabla's importer"
    extensions = (".onnx",)

    class Params(xaikit.Params):
        scale: float = Field(
            1 / 255, gt=0, allow_inf_nan=False,
            description="Pixels (0-255) are multiplied by it first: 1/255 gives 0-1.")
        mean: PerChannel = Field(
            (0.0,),
            description="Subtracted after scaling, per channel of the network (after "
            "channel_order): one value, or one per channel such as 0.485,0.456,0.406 "
            "(torchvision).",
            json_schema_extra={"comma_separated": True})
        std: PerChannel = Field(
            (1.0,),
            description="Divides after the mean is subtracted, per channel, such as "
            "0.229,0.224,0.225 (torchvision).",
            json_schema_extra={"comma_separated": True})
        channel_order: Literal["rgb", "bgr"] = Field(
            "rgb", description="Order of the colour channels the network takes.")
        layout: Literal["nchw", "nhwc"] = Field(
            "nchw", description="The input's layout: nchw (PyTorch) or nhwc (TensorFlow, "
            "Keras). Maps are (channels, height, width) either way.")
        input: Optional[str] = Field(
            None, min_length=1,
            description="The graph input that takes the image; needed when there are "
            "several.")
        output: Optional[str] = Field(
            None, min_length=1,
            description="The graph output whose scores are explained. Default: the first.")

    def accepts(self, ref: Any) -> bool:
        return isinstance(ref, (str, os.PathLike)) and str(ref).lower().endswith(self.extensions)

    def load(self, ref: Any, params: Params) -> LoadedModel:
        path = Path(ref)
        onnx, importer = _importer(path)
        model = _read(onnx, path)
        graph = model.graph
        input_name = _pick_input(graph, params.input, path)
        output_name = _pick(
            [o.name for o in graph.output], params.output, "output", path)
        input_shape, batch = _image_shape(graph, input_name, params.layout, path)
        channels = input_shape[0]
        for name in ("mean", "std"):
            values = getattr(params, name)
            if len(values) not in (1, channels):
                raise xaikit.ParameterError(
                    f"{name}: {len(values)} values for a {channels}-channel input; give one, "
                    f"or one per channel")
        if min(abs(v) for v in params.std) == 0:
            raise xaikit.ParameterError("std: a channel's std is 0")
        logit_name = _logit_name(graph, output_name)
        model = _static(onnx, model, input_name, output_name, batch, path)
        imported = _import(importer, model, path)
        try:
            parameters = proto_parameters(imported)
        except Exception as exc:  # nnabla raises bare exceptions for bad parameters
            raise ModelError(f"model: {path}: cannot load the parameters: {exc}") from None
        net = imported.network[0]
        fixed_batch = reopen_batch(net, input_name)
        names = {v.name for v in net.variable}
        build = NetworkBuilder(
            network_proto(net), net.name, parameters, input_name, output_name,
            logit_name=logit_name if logit_name in names else None,
            layers=tuple(Layer(out, f.type) for f in net.function for out in f.output),
            input_shape=input_shape,
            input_to_network=_to_nhwc if params.layout == "nhwc" else None,
            source=str(path))
        classes = _dims(_value_info(graph, output_name))[1:]
        return open_model(
            build, path.name, None if None in classes else int(np.prod(classes)), fixed_batch,
            preprocessing=Preprocessing(params.scale, tuple(params.mean), tuple(params.std),
                                        params.channel_order))


def _importer(path: Path) -> Tuple[Any, Any]:
    """The ``onnx`` module and a new ``OnnxImporter``, or the line that says to install them."""
    try:
        import onnx
        from nnabla.utils.converter.onnx import OnnxImporter
    except ImportError:
        raise ModelError(f"model: {path}: reading .onnx files needs onnx and nnabla's ONNX "
                         f"importer: {INSTALL}") from None
    return onnx, OnnxImporter()


def _read(onnx: Any, path: Path) -> Any:
    if not path.is_file():
        raise ModelError(f"model: {path}: no such model file")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf's DecodeError and others
        raise ModelError(f"model: {path}: not an ONNX model ({type(exc).__name__})") from None
    if not model.graph.node:
        raise ModelError(f"model: {path}: not an ONNX model, or one without a graph")
    external = [t.name for t in model.graph.initializer if t.data_location == 1]
    if external:
        raise ModelError(f"model: {path}: its weights are stored in separate files "
                         f"({external[0]}...); export them inside the .onnx file")
    return model


def _pick(names: List[str], chosen: Optional[str], what: str, path: Path) -> str:
    if chosen is None:
        return names[0]
    if chosen not in names:
        raise ModelError(f"model: {path}: no graph {what} named {chosen!r} "
                         f"(its {what}s: {', '.join(names)})")
    return chosen


def _pick_input(graph: Any, chosen: Optional[str], path: Path) -> str:
    """The image input: the only input that is not a weight, or the one chosen."""
    weights = {t.name for t in graph.initializer}
    names = [i.name for i in graph.input if i.name not in weights]
    if not names:
        raise ModelError(f"model: {path}: the graph has no input")
    if chosen is None and len(names) > 1:
        raise ModelError(f"model: {path}: the graph has inputs {', '.join(names)}; choose "
                         "the image with --onnx-input NAME (input=NAME in Python)")
    return _pick(names, chosen, "input", path)


def _value_info(graph: Any, name: str) -> Any:
    return next(v for v in list(graph.input) + list(graph.output) if v.name == name)


def _dims(info: Any) -> List[Optional[int]]:
    """A tensor's dimensions; None for a dynamic one."""
    return [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
            for d in info.type.tensor_type.shape.dim]


def _image_shape(graph: Any, name: str, layout: str,
                 path: Path) -> Tuple[Tuple[int, int, int], int]:
    """``(channels, height, width)`` of the input, and its batch size (1 when dynamic)."""
    info = _value_info(graph, name)
    dims = _dims(info)
    spelled = "[" + ", ".join("?" if d is None else str(d) for d in dims) + "]"
    axes = "(batch, height, width, channels)" if layout == "nhwc" else \
        "(batch, channels, height, width)"
    if info.type.tensor_type.elem_type != 1 or len(dims) != 4:  # 1: FLOAT
        raise ModelError(f"model: {path}: input {name!r} is not an image: a {len(dims)}-d "
                         f"{_type_name(info)} tensor {spelled}; xaikit explains float "
                         f"inputs {axes}")
    channels, height, width = (dims[3], dims[1], dims[2]) if layout == "nhwc" else dims[1:]
    if None in (channels, height, width):
        raise ModelError(f"model: {path}: input {name!r} has shape {spelled}: only the batch "
                         "size may be dynamic; export with a fixed image size")
    if layout == "nchw" and channels not in (1, 3) and dims[3] in (1, 3):
        raise ModelError(f"model: {path}: input {name!r} {spelled} has {channels} channels; "
                         "it looks like a TensorFlow (NHWC) model: --onnx-layout nhwc")
    return (channels, height, width), dims[0] or 1


def _type_name(info: Any) -> str:
    import onnx

    return onnx.TensorProto.DataType.Name(info.type.tensor_type.elem_type).lower()


def _logit_name(graph: Any, output_name: str) -> Optional[str]:
    """The input of the Softmax or Sigmoid that computes the output, if one does."""
    for node in graph.node:
        if output_name in node.output and node.op_type in LOGIT_OPS:
            return node.input[0]
    return None


def _static(onnx: Any, model: Any, input_name: str, output_name: str, batch: int,
            path: Path) -> Any:
    """A copy of ``model`` computing only ``output_name`` from ``input_name``, at batch size
    ``batch``, with constant Reshape targets."""
    static = onnx.ModelProto()
    static.CopyFrom(model)
    graph = static.graph
    for info in list(graph.input) + list(graph.output):
        dims = info.type.tensor_type.shape.dim
        if dims and not (dims[0].HasField("dim_value") and dims[0].dim_value > 0):
            dims[0].Clear()
            dims[0].dim_value = batch
    _prune(graph, input_name, output_name, path)
    _fold_reshape_targets(onnx, static)
    _prune(graph, input_name, output_name, path)
    return static


def _prune(graph: Any, input_name: str, output_name: str, path: Path) -> None:
    """Keep the nodes, weights, inputs and outputs that ``output_name`` needs."""
    weights = {t.name for t in graph.initializer}
    needed = _ancestors(graph, [output_name])
    others = [i.name for i in graph.input
              if i.name in needed and i.name != input_name and i.name not in weights]
    if others:
        raise ModelError(f"model: {path}: output {output_name!r} needs input "
                         f"{others[0]!r} too; xaikit gives a model one image input")
    nodes = [n for n in graph.node if any(out in needed for out in n.output)]
    _replace(graph.node, nodes)
    _replace(graph.initializer, [t for t in graph.initializer if t.name in needed])
    _replace(graph.input, [i for i in graph.input if i.name in needed])
    _replace(graph.output, [o for o in graph.output if o.name == output_name])


def _replace(field: Any, items: List[Any]) -> None:
    kept = [type(item)() for item in items]
    for copy, item in zip(kept, items):
        copy.CopyFrom(item)
    del field[:]
    field.extend(kept)


def _fold_reshape_targets(onnx: Any, model: Any) -> None:
    """Give each Reshape whose target is computed from the input's shape that target as a
    constant: Shape nodes become the shapes ONNX's shape inference finds, and ONNX's
    reference evaluator computes the rest (Gather, Concat...). Targets it cannot compute
    are left to the importer, which names them."""
    from onnx.reference import ReferenceEvaluator

    graph = model.graph
    constants = _constants(graph)
    computed = [n for n in graph.node
                if n.op_type == "Reshape" and len(n.input) > 1 and n.input[1] not in constants]
    if not computed:
        return
    try:
        inferred = onnx.shape_inference.infer_shapes(model).graph
    except Exception:
        return
    shapes = {v.name: _dims(v) for v in
              list(inferred.value_info) + list(inferred.input) + list(inferred.output)}
    known: Dict[str, np.ndarray] = {}
    for node in graph.node:
        shape = shapes.get(node.input[0]) if node.op_type == "Shape" else None
        if shape and None not in shape:
            attrs = {a.name: a.i for a in node.attribute}
            known[node.output[0]] = np.array(
                shape[attrs.get("start", 0):attrs.get("end", len(shape))], dtype=np.int64)
    targets = [n.input[1] for n in computed]
    sub = onnx.ModelProto()
    sub.CopyFrom(model)
    sub.graph.initializer.extend(
        onnx.numpy_helper.from_array(value, name) for name, value in known.items())
    _replace(sub.graph.node, [n for n in sub.graph.node if n.output[0] not in known])
    _replace(sub.graph.output, [onnx.helper.make_empty_tensor_value_info(t) for t in targets])
    needs = _ancestors(sub.graph, targets)
    inputs = {i.name for i in sub.graph.input} - _constants(sub.graph)
    if needs & inputs:
        return
    _replace(sub.graph.node, [n for n in sub.graph.node if set(n.output) & needs])
    _replace(sub.graph.input, [])
    try:
        values = ReferenceEvaluator(sub).run(None, {})
    except Exception:
        return
    for node, value in zip(computed, values):
        name = f"{node.output[0]}_xaikit_shape"
        graph.initializer.append(
            onnx.numpy_helper.from_array(np.asarray(value, dtype=np.int64), name))
        node.input[1] = name


def _constants(graph: Any) -> Set[str]:
    return {t.name for t in graph.initializer} | {
        n.output[0] for n in graph.node if n.op_type == "Constant"}


def _ancestors(graph: Any, names: List[str]) -> Set[str]:
    """``names`` and every tensor they are computed from."""
    producers = {out: node for node in graph.node for out in node.output}
    found: Set[str] = set()
    wanted = list(names)
    while wanted:
        name = wanted.pop()
        if name in found:
            continue
        found.add(name)
        node = producers.get(name)
        if node is not None:
            wanted.extend(i for i in node.input if i)
    return found


def _import(importer: Any, model: Any, path: Path) -> Any:
    """The nnabla protobuf of ``model``; one line naming what the importer lacks."""
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                default=1)
    table = importer.opver_impl_map.get("6" if opset <= 6 else str(opset))
    if table is None:
        known = ", ".join(sorted(importer.opver_impl_map, key=int))
        raise ModelError(f"model: {path}: nnabla's ONNX importer reads opsets {known}, not "
                         f"{opset}; export with opset_version=13")
    missing = list(dict.fromkeys(n.op_type for n in model.graph.node if n.op_type not in table))
    if missing:
        raise ModelError(f"model: {path}: nnabla's ONNX importer has no conversion for "
                         f"{', '.join(missing)} (opset {opset})")
    importer.import_from_onnx_model(model)
    try:
        with warnings.catch_warnings():  # the importer's numpy calls are deprecated ones
            warnings.simplefilter("ignore", DeprecationWarning)
            return importer.onnx_model_to_nnp_protobuf().protobuf
    except Exception as exc:  # the importer raises ValueError, KeyError, AssertionError...
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise ModelError(f"model: {path}: nnabla's ONNX importer cannot convert it: "
                         f"{text}") from None


def _to_nhwc(x: Any) -> Any:
    import nnabla.functions as F

    return F.transpose(x, (0, 2, 3, 1))


@hookimpl
def register_model_adapters(register):
    register(OnnxAdapter())
