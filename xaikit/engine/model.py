"""Loaded models and the ModelAdapter plugin kind that produces them."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Dict, Mapping, NamedTuple, Optional, Tuple, Type

import numpy as np

from xaikit.engine.backend import CPU, Device, nn
from xaikit.plugin.errors import ModelError, ParameterError
from xaikit.plugin.params import Params

SCORES = ("output", "logit")
"""What is differentiated: the model's output, or the logits that its final Softmax or
Sigmoid turns into that output (see :attr:`LoadedModel.logit`)."""

_scope_ids = itertools.count()
_build_lock = threading.Lock()  # nnabla's parameter scope and context are process-wide


class Layer(NamedTuple):
    """One function of the network: the variable it computes and its nnabla type."""

    variable: str
    """Name of the function's output, a key of :attr:`Graph.variables`."""
    function: str
    """nnabla function type: ``"Convolution"``, ``"ReLU"``, ``"Affine"``..."""


@dataclass(frozen=True)
class Graph:
    """A differentiable nnabla graph at one batch size.

    Its parameters have ``need_grad`` off, so a backward pass computes gradients only for
    the variables an explainer asks for (``graph.input.need_grad = True``); set it on a
    parameter to get that parameter's gradient too.
    """

    input: "nn.Variable"
    """Image batch, shape ``(batch,) + model.input_shape``."""
    output: "nn.Variable"
    """Class scores, shape ``(batch, num_classes)``."""
    variables: Mapping[str, "nn.Variable"] = field(default_factory=dict)
    """Every named variable of the network (intermediate ones included), by name."""
    layers: Tuple[Layer, ...] = ()
    """The network's functions in forward order; each names its output variable."""


@dataclass(frozen=True)
class Preprocessing:
    """How an image's pixels become the network's input, channel by channel.

    ``input[c] = (pixels[order[c]] * scale - mean[c]) / std[c]``, where ``pixels`` are
    0-255 in RGB order (or grey) at the network's input size and ``order`` is RGB or BGR.
    A ``mean`` or ``std`` of one value applies to every channel.
    """

    scale: float = 1 / 255
    mean: Tuple[float, ...] = (0.0,)
    std: Tuple[float, ...] = (1.0,)
    channel_order: str = "rgb"

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        """``pixels`` float32 ``(C, H, W)`` as the network takes them."""
        if self.channel_order == "bgr" and len(pixels) == 3:
            pixels = pixels[::-1]
        mean = np.asarray(self.mean, np.float64)[:, None, None]
        std = np.asarray(self.std, np.float64)[:, None, None]
        x = (np.asarray(pixels, np.float64) * self.scale - mean) / std
        return np.ascontiguousarray(x, dtype=np.float32)


def score_variable(model: "LoadedModel", graph: Graph, score: str = "output") -> "nn.Variable":
    """The variable of ``graph`` whose entries ``score`` names.

    ``logit`` is the input of the model's final Softmax or Sigmoid; a model without one
    outputs logits already, and ``logit`` is its output.
    """
    if score not in SCORES:
        raise ParameterError(f"score: {score!r} is not one of {', '.join(SCORES)}")
    if score == "logit" and model.logit is not None:
        return graph.variables[model.logit]
    return graph.output


class LoadedModel:
    """An image classifier that explainers can differentiate.

    :param name: what to call the model in messages (a file name, say).
    :param input_shape: ``(channels, height, width)`` of one input image.
    :param num_classes: width of the output; None to read it off the graph at batch size 1.
    :param build: ``build(batch_size) -> Graph``; called once per batch size, replica and
        device, inside the model's parameter scope and the device's context.
    :param no_image_normalization: the network takes pixels in 0-255 rather than 0-1.
    :param preprocessing: how pixels become the network's input, for networks that want
        more than ``no_image_normalization`` says (a mean and a standard deviation, BGR).
    :param logit: the name, in :attr:`Graph.variables`, of the input of the network's final
        Softmax or Sigmoid: the class logits (the ``.nnp`` adapter reads it from
        ``net.nntxt``). None when the output is not such a function; the output is then
        taken to be the logits.
    :param notes: things the user should be told about how the model was read.
    """

    def __init__(
        self,
        name: str,
        input_shape: Tuple[int, int, int],
        num_classes: Optional[int],
        build: Callable[[int], Graph],
        *,
        no_image_normalization: bool = False,
        preprocessing: Optional[Preprocessing] = None,
        logit: Optional[str] = None,
        notes: Tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.input_shape = tuple(int(d) for d in input_shape)
        self.preprocessing = preprocessing or Preprocessing(
            scale=1.0 if no_image_normalization else 1 / 255)
        self.logit = logit
        self.notes = notes
        self._build = build
        self._graphs: Dict[Tuple[int, int, Device], Graph] = {}
        # nnabla's parameter registry is global: give each model a scope of its own.
        self._scope = f"xaikit_model_{next(_scope_ids)}"
        self.reload: Optional[Callable[[], "LoadedModel"]] = None
        """Loads the model again from its source as a separate model (:func:`xaikit.load_model`
        sets it): how :meth:`copy` gets parameters of its own from an adapter whose graphs
        share theirs."""
        self.lock = threading.RLock()
        """Held while a computation runs the model's graphs: two threads computing with one
        model take turns (the threads of one computation use replicas of their own)."""
        if num_classes is None:
            num_classes = self.graph(1).output.size
        self.num_classes = int(num_classes)

    def graph(self, batch_size: int, *, replica: int = 0, device: Device = CPU) -> Graph:
        """The model's graph at ``batch_size`` on ``device``, built once and reused.

        A graph holds the buffers of its passes, so two threads must not run the same
        graph at once: give each thread its own ``replica`` (replicas share the
        parameters' values). Safe to call from several threads.
        """
        key = (batch_size, replica, device)
        graph = self._graphs.get(key)
        if graph is None:
            context = device.context()
            with _build_lock:
                graph = self._graphs.get(key)
                if graph is None:
                    with nn.parameter_scope(self._scope), nn.context_scope(context):
                        graph = self._build(batch_size)
                    _fix_parameters(graph)
                    self._graphs[key] = graph
        return graph

    @property
    def no_image_normalization(self) -> bool:
        """The network takes pixels in 0-255 (NNC's executor setting)."""
        return self.preprocessing == Preprocessing(scale=1.0)

    @property
    def layers(self) -> Tuple[Layer, ...]:
        """The network's functions in forward order, as the adapter named them.

        ``model.layers[i].variable`` is a key of ``model.graph(n).variables`` at every
        batch size; empty when the adapter does not know the network's structure.
        """
        return self.graph(1).layers

    @property
    def nnc_variables(self) -> Tuple[str, ...]:
        """The network's variables as NNC's plugins number them (their ``--layer_index``):
        0 is the input, then every variable a function computes, in the order the model
        file lists them; parameters are not counted. Keys of :attr:`Graph.variables`."""
        graph = self.graph(1)
        return tuple(name for name, v in graph.variables.items()
                     if v is graph.input or v.parent is not None)

    def parameters(self) -> Dict[str, "nn.Variable"]:
        """The model's parameters by name (``conv1/conv/W``...), in the order the network
        uses them, as its adapter created them in the model's parameter scope.

        Setting a parameter's values (``variable.d = ...``) changes every graph of the
        model; use :meth:`copy` to change them without touching the model others use.
        """
        graph = self.graph(1)
        with nn.parameter_scope(self._scope):
            scope = nn.get_parameters(grad_only=False)
        ordered: Dict[str, "nn.Variable"] = {}

        def visit(function: Any) -> None:
            for variable in function.inputs:
                if variable.parent is None:
                    ordered.update((name, p) for name, p in scope.items() if p == variable)

        graph.output.visit(visit)
        return ordered

    def copy(self) -> "LoadedModel":
        """A separate model with this model's parameter values, in a parameter scope of its
        own: changing the copy's parameters (randomising them, say) leaves this model as it
        is.

        :raises ModelError: the copy would share this model's parameters (a model whose
            adapter builds every graph from one set of parameters, loaded without
            :func:`xaikit.load_model`, which sets :attr:`reload`).
        """
        if self.reload is not None:
            twin = self.reload()
        else:
            twin = LoadedModel(self.name, self.input_shape, self.num_classes, self._build,
                               preprocessing=self.preprocessing, logit=self.logit,
                               notes=self.notes)
        twin.reload = self.reload
        mine, theirs = self.parameters(), twin.parameters()
        if list(mine) != list(theirs):
            raise ModelError("a copy has other parameters than the model", subject="model",
                             path=self.name)
        for name, variable in theirs.items():
            if variable == mine[name]:
                raise ModelError(f"a copy would share parameter {name!r} with the model; load it "
                                 "with xaikit.load_model", subject="model", path=self.name)
            variable.d = mine[name].d
        return twin

    def predict(self, images: np.ndarray, score: str = "output") -> np.ndarray:
        """Class scores for a batch of preprocessed images ``(n, C, H, W)``: the model's
        output, or with ``score="logit"`` the logits (see :data:`SCORES`)."""
        with self.lock:
            g = self.graph(len(images))
            g.input.d = images
            values = score_variable(self, g, score)
            values.forward(clear_buffer=True)
            return np.array(values.d, dtype=np.float32).reshape(len(images), -1)

    def __repr__(self) -> str:
        return (
            f"LoadedModel({self.name!r}, input_shape={self.input_shape}, "
            f"num_classes={self.num_classes})"
        )


def _fix_parameters(graph: Graph) -> None:
    """Turn off ``need_grad`` on every leaf of the graph (its parameters and input)."""

    def visit(function: Any) -> None:
        for variable in function.inputs:
            if variable.parent is None:
                variable.need_grad = False

    graph.output.visit(visit)


class ModelAdapter:
    """Base class of model adapters: load one kind of model reference.

    Subclasses set ``name`` and ``description``, a nested ``Params`` schema for the
    options their models take (``xaikit.load_model(path, **options)``, and on the command
    line ``--<adapter>-<option>``), and implement :meth:`accepts` and :meth:`load`. The
    :class:`LoadedModel` that ``load`` returns builds a :class:`Graph` per batch size
    whose ``variables`` hold every intermediate variable by a name that is the same at
    every batch size (the names of the model file, where it has them) and whose
    ``layers`` list the functions computing them in forward order: explainers that look
    inside the network (Grad-CAM) find feature maps there.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    extensions: ClassVar[Tuple[str, ...]] = ()
    """Extensions of the model files it reads, its usual one first; the command line
    offers the parameters of adapters that read files."""
    Params: ClassVar[Type[Params]] = Params

    def accepts(self, ref: Any) -> bool:
        """Whether this adapter can load ``ref`` (a path, an object...). Must not raise."""
        raise NotImplementedError

    def load(self, ref: Any, params: Params) -> LoadedModel:
        """Load ``ref`` with the validated ``params``; raise :class:`xaikit.ModelError`
        saying why when it is unusable."""
        raise NotImplementedError

