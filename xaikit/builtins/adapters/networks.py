"""nnabla networks described in protobuf (``.nnp`` files, ONNX imports) as graphs at any
batch size.

NNC leaves a network's batch dimension open (``-1``). Networks converted from ONNX, and
``.nnp`` files saved at a fixed batch size, bake it in: the input, every variable computed
from it and the targets of Reshape and Broadcast say 1. :func:`reopen_batch` turns those
back into ``-1``, so that nnabla builds the network at the batch size of each pass. A
network whose batch dimension cannot be reopened that way (one that moves the batch into
another axis) is built as one batch-1 network per row instead: slower, never wrong.
"""

from __future__ import annotations

import io
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

import nnabla as nn
import nnabla.functions as F
import numpy as np
from nnabla.core.graph_def import ProtoGraph
from nnabla.utils import nnabla_pb2
from nnabla.utils.nnp_graph import NnpNetwork

from xaikit import Graph, Layer, LoadedModel, ModelError

SHAPED = {"Reshape": "reshape_param", "Broadcast": "broadcast_param"}
"""Functions whose parameters carry an output shape, batch dimension first."""
CHECK_ROWS = 2
"""Rows of the probe that checks a reopened network against its batch-1 self."""


def load_parameters(source: Any, extension: str = ".nnp") -> "OrderedDict[str, Any]":
    """The parameters of an ``.nnp`` file or of a serialised protobuf, by name, as nnabla
    variables. ``source`` is a path or a binary file object."""
    parameters: "OrderedDict[str, Any]" = OrderedDict()
    nn.graph_def.load(source, parameter_only=True, parameter_scope=parameters,
                      extension=extension)
    return parameters


def proto_parameters(proto: Any) -> "OrderedDict[str, Any]":
    """The parameters an ``nnabla_pb2.NNablaProtoBuf`` carries (an ONNX import's)."""
    only = nnabla_pb2.NNablaProtoBuf()
    only.parameter.extend(proto.parameter)
    return load_parameters(io.BytesIO(only.SerializeToString()), ".protobuf")


def reopen_batch(network: Any, input_name: str) -> bool:
    """Rewrite ``network`` (an ``nnabla_pb2.Network``) in place so that its batch
    dimension is open: every variable computed from ``input_name`` whose first dimension is
    the input's, and every Reshape or Broadcast target of such a variable, gets ``-1``.

    :returns: whether the batch was fixed (and so was rewritten).
    """
    variables = {v.name: v for v in network.variable}
    batch = variables[input_name].shape.dim[0]
    if batch < 1:
        return False
    batched: Set[str] = {input_name}
    for function in network.function:  # in forward order
        if not batched.intersection(function.input):
            continue
        batched.update(function.output)
        target = getattr(function, SHAPED[function.type]) if function.type in SHAPED else None
        if target is not None and target.shape.dim and target.shape.dim[0] == batch:
            target.shape.dim[0] = -1
    for name in batched:
        variable = variables.get(name)
        if variable is not None and variable.shape.dim and variable.shape.dim[0] == batch:
            variable.shape.dim[0] = -1
    return True


def network_proto(network: Any) -> Any:
    """An ``nnabla_pb2.NNablaProtoBuf`` holding ``network`` alone."""
    proto = nnabla_pb2.NNablaProtoBuf()
    proto.network.add().CopyFrom(network)
    return proto


def open_model(build: "NetworkBuilder", name: str, num_classes: Optional[int], fixed_batch: bool,
               *, notes: Tuple[str, ...] = (), **options: Any) -> LoadedModel:
    """The model ``build`` builds, checked at batch size 1 now rather than in a run.

    A network whose batch size was fixed is first compared at two batch sizes
    (:meth:`NetworkBuilder.check_batch`). ``options`` go to :class:`xaikit.LoadedModel`.
    """
    if fixed_batch:
        with nn.parameter_scope("xaikit_batch_check"):
            why = build.check_batch()
            nn.clear_parameters()
        if why is not None:
            notes += (f"{name}: the network's batch size is fixed and cannot be reopened "
                      f"({why}); each noisy copy runs through a batch-1 network of its own",)
    model = LoadedModel(name, build.input_shape, num_classes, build, logit=build.logit_name,
                        notes=notes, **options)
    model.graph(1)  # fail now, not in the middle of a run, on parameters that don't fit
    return model


@dataclass
class NetworkBuilder:
    """Builds one network of a protobuf description as a :class:`xaikit.Graph`.

    :param proto: an ``nnabla_pb2.NNablaProtoBuf`` holding the network (its parameters
        are in ``parameters``).
    :param input_to_network: applied to the graph's input, ``(batch, C, H, W)``, to give
        the network's input (a transpose for NHWC networks); None: the input itself.
    """

    proto: Any
    network_name: str
    parameters: "OrderedDict[str, Any]"
    input_name: str
    output_name: str
    logit_name: Optional[str] = None
    layers: Tuple[Layer, ...] = ()
    input_shape: Tuple[int, ...] = ()
    input_to_network: Optional[Callable[[Any], Any]] = None
    per_row: bool = False
    """Build one batch-1 network per row (see :meth:`check_batch`)."""
    source: str = "model"
    _bytes: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._bytes = self.proto.SerializeToString()

    def __call__(self, batch_size: int) -> Graph:
        if self.per_row and batch_size > 1:
            return self._per_row(batch_size)
        variables = self._network(batch_size)
        x = variables[self.input_name]
        if self.input_to_network is not None:  # the network's input now hangs from x
            x = self._rewire(x, batch_size)
        return Graph(x, variables[self.output_name], variables, self.layers)

    def check_batch(self) -> Optional[str]:
        """Compare the network at batch :data:`CHECK_ROWS` with its batch-1 self on a probe;
        when they differ, switch to one network per row. Returns why, or None.

        Call it within the parameter scope the model builds in.
        """
        rng = np.random.default_rng(0)
        probe = rng.uniform(-1, 1, (CHECK_ROWS,) + tuple(self.input_shape)).astype(np.float32)
        try:
            together = _forward(self(CHECK_ROWS), probe)
        except Exception as exc:  # nnabla raises RuntimeError and others while setting up
            why = _message(exc)
        else:
            alone = np.concatenate([_forward(self(1), row[None]) for row in probe])
            if np.allclose(together, alone, rtol=1e-4, atol=1e-5 * np.abs(alone).max()):
                return None
            why = "rows of a batch change each other's scores"
        self.per_row = True
        return why

    def _network(self, batch_size: int) -> Dict[str, Any]:
        proto = nnabla_pb2.NNablaProtoBuf()
        proto.ParseFromString(self._bytes)  # nnabla keeps state in what it builds from
        try:
            graph = ProtoGraph.from_proto(proto, param_scope=self.parameters)
            network = NnpNetwork(graph.networks[self.network_name], batch_size, callback=None)
        except Exception as exc:  # nnabla raises bare exceptions for shapes that don't fit
            raise ModelError(f"model: {self.source}: cannot build network "
                             f"{self.network_name!r} at batch size {batch_size}: "
                             f"{_message(exc)}") from None
        return dict(network.variables)

    def _rewire(self, network_input: Any, batch_size: int) -> Any:
        """A new graph input whose :attr:`input_to_network` feeds the network."""
        x = nn.Variable((batch_size,) + tuple(self.input_shape))
        network_input.rewire_on(self.input_to_network(x))
        return x

    def _per_row(self, batch_size: int) -> Graph:
        """``batch_size`` batch-1 networks side by side: input, output and logit only."""
        x = nn.Variable((batch_size,) + tuple(self.input_shape))
        rows = F.split(x, axis=0)
        outputs: List[Any] = []
        logits: List[Any] = []
        for row in rows:
            graph = self(1)
            graph.input.rewire_on(F.reshape(row, (1,) + tuple(self.input_shape)))
            outputs.append(graph.output)
            if self.logit_name is not None:
                logits.append(graph.variables[self.logit_name])
        variables = {self.input_name: x, self.output_name: F.concatenate(*outputs, axis=0)}
        if logits:
            variables[self.logit_name] = F.concatenate(*logits, axis=0)
        return Graph(x, variables[self.output_name], variables, ())


def _forward(graph: Graph, inputs: np.ndarray) -> np.ndarray:
    graph.input.d = inputs
    graph.output.forward(clear_buffer=True)
    return np.array(graph.output.d, dtype=np.float64).reshape(len(inputs), -1)


def _message(exc: BaseException) -> str:
    """An exception's message on one line, without the source locations nnabla adds."""
    lines = [line.strip() for line in str(exc).splitlines()]
    kept = [line for line in lines if line and not re.search(r"\.(cpp|hpp|h):\d+$", line)]
    return " ".join(kept) or type(exc).__name__
