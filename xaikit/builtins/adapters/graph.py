"""nnabla networks written in Python: a function from an input variable to class scores."""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable, Dict, List, Optional, Tuple

import nnabla as nn
from pydantic import Field, PositiveInt

from xaikit import Graph, Layer, LoadedModel, ModelAdapter, ModelError, Params, hookimpl


class GraphAdapter(ModelAdapter):
    """Load ``network(x) -> scores``; options: ``input_shape`` (C, H, W), ``name``,
    ``no_image_normalization``.

    ``network`` is called once per batch size inside the model's own parameter scope,
    so parametric functions create (or, built again, reuse) that model's parameters.
    The graph's variables are ``x`` (input), ``y`` (output) and each function's output
    named as NNC names layers: ``Convolution``, ``ReLU``, ``Convolution_2``... in
    forward order; a second output of a function is ``<name>[1]``. When the scores come
    out of a Softmax or Sigmoid, its input is the model's ``logit``.
    """

    name = "nnabla-function"
    description = "a Python function building an nnabla graph: network(x) -> class scores"

    class Params(Params):
        input_shape: Optional[Tuple[PositiveInt, PositiveInt, PositiveInt]] = Field(
            None, description="(channels, height, width) of one input image; required.")
        name: Optional[str] = Field(
            None, description="What to call the model in messages; default: the "
            "function's name.")
        no_image_normalization: bool = Field(
            False, description="The network takes pixels in 0-255 rather than 0-1.")

    def accepts(self, ref: Any) -> bool:
        return callable(ref) and not isinstance(ref, LoadedModel)

    def load(self, ref: Callable, params: Params) -> LoadedModel:
        shape = params.input_shape
        if shape is None:
            raise ModelError(
                "model: a network function needs input_shape=(channels, height, width)"
            )

        def build(batch_size: int) -> Graph:
            x = nn.Variable((batch_size,) + tuple(shape))
            y = ref(x)
            if y.ndim < 2 or y.shape[0] != batch_size:
                raise ModelError(f"model: the network maps {x.shape} to {y.shape}; "
                                 "expected (batch, classes)")
            layers, variables = _named_layers(y)
            variables = {"x": x, **variables, "y": y}
            if y.parent is not None and y.parent.info.type_name in ("Softmax", "Sigmoid"):
                variables["logit"] = y.parent.inputs[0]
            return Graph(x, y, variables, tuple(layers))

        model = LoadedModel(
            params.name or getattr(ref, "__name__", "network"),
            tuple(shape),
            None,
            build,
            no_image_normalization=params.no_image_normalization,
        )
        if "logit" in model.graph(1).variables:
            model.logit = "logit"
        return model


def _named_layers(output: "nn.Variable") -> Tuple[List[Layer], Dict[str, "nn.Variable"]]:
    """The functions that compute ``output``, in forward order, with NNC-style names."""
    layers: List[Layer] = []
    variables: Dict[str, "nn.Variable"] = {}
    seen: Counter = Counter()

    def name_outputs(function) -> None:
        kind = function.info.type_name
        seen[kind] += 1
        base = kind if seen[kind] == 1 else f"{kind}_{seen[kind]}"
        for i, out in enumerate(function.outputs):
            name = base if i == 0 else f"{base}[{i}]"
            layers.append(Layer(name, kind))
            variables[name] = out

    output.visit(name_outputs)
    return layers, variables


@hookimpl
def register_model_adapters(register):
    register(GraphAdapter())
