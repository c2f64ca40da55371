"""Neural Network Console ``.nnp`` files: the first executor's network, input to output."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import Any, List, Optional, Set, Tuple

from google.protobuf import text_format

from xaikit.engine.model import Graph, Layer, LoadedModel, ModelAdapter
from xaikit.plugin.errors import ModelError
from xaikit.plugin.hookspecs import hookimpl

MAX_NNTXT_BYTES = 64 * 2**20
"""Largest network description read; larger ones are refused before inflating."""
MAX_MEMBER_BYTES = 4 * 2**30
"""Largest archive member (parameters) accepted."""
MAX_COMPRESSION_RATIO = 200
"""Members that inflate more than this (zip bombs) are refused."""
PARAMETER_FILES = (".h5", ".protobuf")
"""Archive members that nnabla reads parameters from."""


class NnpAdapter(ModelAdapter):
    name = "nnp"
    description = "Neural Network Console / nnabla .nnp files (first executor)"

    def accepts(self, ref: Any) -> bool:
        return isinstance(ref, (str, os.PathLike))

    def load(self, ref: Any, **options: Any) -> LoadedModel:
        path = Path(ref)
        proto, parameter_names, parameter_files = _read_archive(path)
        executor, notes = _pick_executor(proto, path)
        network = {n.name: n for n in proto.network}.get(executor.network_name)
        if network is None:
            raise ModelError(
                f"model: {path}: executor {executor.name!r} names network "
                f"{executor.network_name!r}, which the file does not contain"
            )
        _check_parameters(network, parameter_names, parameter_files, path)
        if len(executor.data_variable) != 1:
            names = [d.variable_name for d in executor.data_variable]
            raise ModelError(f"model: {path}: the executor has {len(names)} inputs {names}; "
                             "xaikit explains models with one image input")
        if not executor.output_variable:
            raise ModelError(f"model: {path}: the executor has no output variable")
        input_name = executor.data_variable[0].variable_name
        output_name = executor.output_variable[0].variable_name
        shapes = {v.name: tuple(v.shape.dim) for v in network.variable}
        input_shape = _image_shape(shapes.get(input_name), input_name, path)
        out_shape = shapes.get(output_name)
        if out_shape is None:
            raise ModelError(
                f"model: {path}: output variable {output_name!r} is not in the network"
            )
        num_classes = int(abs(_prod(out_shape[1:])))
        layers = tuple(Layer(out, f.type) for f in network.function for out in f.output)

        try:
            from nnabla.utils.nnp_graph import NnpLoader

            loader = NnpLoader(str(path))
        except Exception as exc:  # nnabla raises bare exceptions for bad parameters
            raise ModelError(
                f"model: {path}: cannot load the network's parameters: {_first_line(exc)}"
            ) from None

        def build(batch_size: int) -> Graph:
            try:
                net = loader.get_network(executor.network_name, batch_size=batch_size)
            except Exception as exc:
                raise ModelError(f"model: {path}: cannot build network {executor.network_name!r}: "
                                 f"{_first_line(exc)}") from None
            variables = dict(net.variables)
            return Graph(variables[input_name], variables[output_name], variables, layers)

        model = LoadedModel(
            path.name,
            input_shape,
            num_classes,
            build,
            no_image_normalization=bool(executor.no_image_normalization),
            logit=_logit_name(network, output_name),
            notes=tuple(notes),
        )
        model.graph(1)  # fail now, not in the middle of a run, on parameters that don't fit
        return model


def _read_archive(path: Path) -> Tuple[Any, Optional[Set[str]], List[str]]:
    """The archive's parsed ``*.nntxt``, the names in its parameter files (None without
    any) and those files' names; oversized members are refused before inflating."""
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
            files = [i.filename for i in infos if i.filename.endswith(PARAMETER_FILES)]
            names = None
            for name in files:
                names = (names or set()) | _parameter_names(archive.read(name), name, path)
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
    return proto, names, files


def _parameter_names(data: bytes, member: str, path: Path) -> Set[str]:
    """The parameters stored in ``member``, a ``.h5`` or ``.protobuf`` parameter file."""
    try:
        if member.endswith(".h5"):
            import h5py

            found: List[str] = []
            with h5py.File(io.BytesIO(data), "r") as h5:
                h5.visititems(lambda name, obj: found.append(name)
                              if isinstance(obj, h5py.Dataset) else None)
            return set(found)
        from nnabla.utils import nnabla_pb2

        proto = nnabla_pb2.NNablaProtoBuf()
        proto.ParseFromString(data)
        return {p.variable_name for p in proto.parameter}
    except Exception as exc:  # h5py and protobuf raise many types on damaged files
        raise ModelError(f"model: {path}: cannot read {member}: {_first_line(exc)}") from None


def _check_parameters(network, names: Optional[Set[str]], files: List[str], path: Path) -> None:
    """Refuse a network whose parameters the archive does not hold: nnabla would run it
    with zeros."""
    needed = [v.name for v in network.variable if v.type == "Parameter"]
    if not needed:
        return
    if names is None:
        raise ModelError(f"model: {path}: the archive has no parameter file (parameter.h5 or "
                         f"parameter.protobuf); the network needs {len(needed)}: "
                         f"{_listing(needed)}")
    missing = [name for name in needed if name not in names]
    if missing:
        raise ModelError(f"model: {path}: {' and '.join(files)} lacks {len(missing)} of the "
                         f"network's {len(needed)} parameters: {_listing(missing)}")


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
    if not proto.executor:
        raise ModelError(
            f"model: {path}: the model has no executor (save it from NNC's training results)"
        )
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
