"""Neural Network Console ``.nnp`` files: the first executor's network, input to output
(without executors, the only network's)."""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, List, Mapping, Optional, Tuple

from google.protobuf import text_format

from xaikit import Layer, LoadedModel, ModelAdapter, ModelError, Params, hookimpl
from xaikit.builtins.adapters.networks import (
    NetworkBuilder,
    load_parameters,
    network_proto,
    open_model,
    reopen_batch,
)

MAX_NNTXT_BYTES = 64 * 2**20
"""Largest network description read; larger ones are refused before inflating."""
MAX_MEMBER_BYTES = 4 * 2**30
"""Largest archive member (parameters) accepted."""
MAX_COMPRESSION_RATIO = 200
"""Members that inflate more than this (zip bombs) are refused."""


class NnpAdapter(ModelAdapter):
    name = "nnp"
    description = "Neural Network Console / nnabla .nnp files (first executor)"
    extensions = (".nnp",)

    def accepts(self, ref: Any) -> bool:
        return isinstance(ref, (str, os.PathLike))

    def load(self, ref: Any, params: Params) -> LoadedModel:
        path = Path(ref)
        proto = read_network_proto(path)
        entry = _entry_point(proto, path)
        network = entry.network
        shapes = {v.name: tuple(v.shape.dim) for v in network.variable}
        input_shape = _image_shape(shapes.get(entry.input), entry.input, path)
        out_shape = shapes.get(entry.output)
        if out_shape is None:
            raise ModelError(
                f"model: {path}: output variable {entry.output!r} is not in the network"
            )
        num_classes = int(abs(_prod(out_shape[1:])))
        try:
            parameters = load_parameters(str(path))
        except Exception as exc:  # nnabla raises bare exceptions for bad parameters
            raise ModelError(
                f"model: {path}: cannot load the network's parameters: {_first_line(exc)}"
            ) from None
        _check_parameters(network, parameters, path)
        fixed_batch = reopen_batch(network, entry.input)
        build = NetworkBuilder(
            network_proto(network), network.name, parameters, entry.input, entry.output,
            logit_name=_logit_name(network, entry.output),
            layers=tuple(Layer(out, f.type) for f in network.function for out in f.output),
            input_shape=input_shape, source=str(path))
        return open_model(
            build, path.name, num_classes, fixed_batch,
            no_image_normalization=entry.no_image_normalization, notes=tuple(entry.notes))


@dataclass
class _EntryPoint:
    """The network to explain and its input and output variables."""

    network: Any
    input: str
    output: str
    no_image_normalization: bool = False
    notes: List[str] = field(default_factory=list)


def _entry_point(proto, path: Path) -> _EntryPoint:
    """The first executor's network, input and output; without executors, the only
    network's only input and output."""
    if not proto.executor:
        return _lone_network(proto, path)
    executor, notes = _pick_executor(proto, path)
    network = {n.name: n for n in proto.network}.get(executor.network_name)
    if network is None:
        raise ModelError(
            f"model: {path}: executor {executor.name!r} names network "
            f"{executor.network_name!r}, which the file does not contain"
        )
    if len(executor.data_variable) != 1:
        names = [d.variable_name for d in executor.data_variable]
        raise ModelError(f"model: {path}: the executor has {len(names)} inputs {names}; "
                         "xaikit explains models with one image input")
    if not executor.output_variable:
        raise ModelError(f"model: {path}: the executor has no output variable")
    return _EntryPoint(network, executor.data_variable[0].variable_name,
                       executor.output_variable[0].variable_name,
                       bool(executor.no_image_normalization), notes)


def _lone_network(proto, path: Path) -> _EntryPoint:
    if len(proto.network) != 1:
        names = ", ".join(n.name for n in proto.network) or "none"
        raise ModelError(f"model: {path}: the model has no executor and {len(proto.network)} "
                         f"networks ({names}); save it from NNC's training results")
    network = proto.network[0]
    made = {out for f in network.function for out in f.output}
    used = {name for f in network.function for name in f.input}
    buffers = [v.name for v in network.variable if v.type == "Buffer"]
    inputs = [name for name in buffers if name in used and name not in made]
    outputs = [name for name in buffers if name in made and name not in used]
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelError(f"model: {path}: the model has no executor, and its network has "
                         f"inputs {inputs} and outputs {outputs}; xaikit explains models "
                         "with one image input and one output")
    note = (f"{path.name} has no executor; explaining network {network.name!r} from "
            f"{inputs[0]!r} to {outputs[0]!r}")
    return _EntryPoint(network, inputs[0], outputs[0], notes=[note])


def read_network_proto(path: Path):
    """Parse the ``*.nntxt`` member of an ``.nnp`` archive, refusing oversized members."""
    from nnabla.utils import nnabla_pb2

    if path.is_dir():
        raise ModelError(f"model: {path}: is a folder, not a model file")
    if not path.is_file():
        raise ModelError(f"model: {path}: no such model file")
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            for info in infos:
                _check_member(info, path)
            nntxt = [i for i in infos if i.filename.endswith(".nntxt")]
            if not nntxt:
                raise ModelError(f"model: {path}: not an NNC model: the archive has no net.nntxt")
            text = archive.read(nntxt[0]).decode("utf-8")
    except ModelError:
        raise
    except zipfile.BadZipFile:
        raise ModelError(
            f"model: {path}: not an .nnp file (not a zip archive, or truncated)"
        ) from None
    except Exception as exc:  # zipfile raises many types on damaged archives
        raise ModelError(f"model: {path}: cannot read the archive: {_first_line(exc)}") from None
    proto = nnabla_pb2.NNablaProtoBuf()
    try:
        text_format.Merge(text, proto)
    except text_format.ParseError as exc:
        raise ModelError(f"model: {path}: net.nntxt does not parse: {_first_line(exc)}") from None
    return proto


def _check_parameters(network, parameters: Mapping[str, Any], path: Path) -> None:
    """Refuse a network whose parameters the archive does not hold: nnabla would run it
    with zeros. ``parameters`` as :func:`load_parameters` gives them, scope by scope."""
    needed = [v.name for v in network.variable if v.type == "Parameter"]
    if not needed:
        return
    loaded = set(_parameter_names(parameters))
    if not loaded:
        raise ModelError(f"model: {path}: the archive has no parameters (no parameter.h5 or "
                         f"parameter.protobuf); the network needs {len(needed)}: "
                         f"{_listing(needed)}")
    missing = [name for name in needed if name not in loaded]
    if missing:
        raise ModelError(f"model: {path}: the archive's parameters lack {len(missing)} of the "
                         f"network's {len(needed)}: {_listing(missing)}")


def _parameter_names(scope: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """``conv/conv/W``... from nnabla's nested parameter scopes."""
    for key, value in scope.items():
        if isinstance(value, Mapping):
            yield from _parameter_names(value, f"{prefix}{key}/")
        else:
            yield prefix + key


def _listing(names: List[str], most: int = 5) -> str:
    """``a, b, c`` or, for many names, ``a, b, c, d, e and 7 more``."""
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(names[:most]) + more


def _check_member(info: zipfile.ZipInfo, path: Path) -> None:
    name = info.filename
    if name.startswith(("/", "\\")) or ".." in Path(name.replace("\\", "/")).parts:
        raise ModelError(f"model: {path}: archive member {name!r} points outside the archive")
    limit = MAX_NNTXT_BYTES if name.endswith(".nntxt") else MAX_MEMBER_BYTES
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > limit or (info.file_size > 2**20 and ratio > MAX_COMPRESSION_RATIO):
        raise ModelError(
            f"model: {path}: archive member {name!r} would inflate to {info.file_size} "
            "bytes; refused"
        )


def _pick_executor(proto, path: Path) -> Tuple[Any, List[str]]:
    executor = proto.executor[0]
    notes = []
    if len(proto.executor) > 1:
        names = ", ".join(e.name for e in proto.executor)
        notes.append(f"{path.name} has {len(proto.executor)} executors ({names}); "
                     f"using the first, {executor.name!r}")
    return executor, notes


def _logit_name(network, output_name: str) -> Optional[str]:
    """The input of the function that outputs ``output_name`` if it is a Softmax or Sigmoid."""
    for function in network.function:
        if output_name in function.output and function.type in ("Softmax", "Sigmoid"):
            return function.input[0] if function.input else None
    return None


def _image_shape(dims, name: str, path: Path) -> Tuple[int, int, int]:
    if dims is None:
        raise ModelError(f"model: {path}: input variable {name!r} is not in the network")
    if len(dims) != 4 or min(dims[1:]) < 1:
        raise ModelError(f"model: {path}: input {name!r} has shape {list(dims)}; "
                         "xaikit explains image inputs (batch, channels, height, width)")
    return int(dims[1]), int(dims[2]), int(dims[3])


def _prod(dims) -> int:
    out = 1
    for d in dims:
        out *= d
    return out


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


@hookimpl
def register_model_adapters(register):
    register(NnpAdapter())
