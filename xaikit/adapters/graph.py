"""nnabla networks written in Python: a function from an input variable to class scores."""

from __future__ import annotations

from typing import Any, Callable

from ..errors import ModelError
from ..hookspecs import hookimpl
from ..model import Graph, LoadedModel, ModelAdapter
from ..nnabla_backend import nn


class GraphAdapter(ModelAdapter):
    """Load ``network(x) -> scores``; options: ``input_shape`` (C, H, W), ``name``,
    ``no_image_normalization``.

    ``network`` is called once per batch size inside the model's own parameter scope,
    so parametric functions create (or, built again, reuse) that model's parameters. When
    the scores come out of a Softmax or Sigmoid, its input is the model's ``logit``.
    """

    name = "nnabla-function"
    description = "a Python function building an nnabla graph: network(x) -> class scores"

    def accepts(self, ref: Any) -> bool:
        return callable(ref) and not isinstance(ref, LoadedModel)

    def load(self, ref: Callable, **options: Any) -> LoadedModel:
        shape = options.get("input_shape")
        if shape is None or len(shape) != 3:
            raise ModelError(
                "model: a network function needs input_shape=(channels, height, width)"
            )

        def build(batch_size: int) -> Graph:
            x = nn.Variable((batch_size,) + tuple(shape))
            y = ref(x)
            if y.ndim < 2 or y.shape[0] != batch_size:
                raise ModelError(f"model: the network maps {x.shape} to {y.shape}; "
                                 "expected (batch, classes)")
            variables = {"x": x, "y": y}
            if y.parent is not None and y.parent.info.type_name in ("Softmax", "Sigmoid"):
                variables["logit"] = y.parent.inputs[0]
            return Graph(x, y, variables)

        model = LoadedModel(
            options.get("name", getattr(ref, "__name__", "network")),
            tuple(shape),
            None,
            build,
            no_image_normalization=bool(options.get("no_image_normalization", False)),
        )
        if "logit" in model.graph(1).variables:
            model.logit = "logit"
        return model


@hookimpl
def register_model_adapters(register):
    register(GraphAdapter())
