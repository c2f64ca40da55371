"""xaikit: plugin-style explainable AI for image classifiers on nnabla."""

from .api import explain, explainers, load_model
from .errors import ImageError, ModelError, ParameterError, PluginError, XaikitError
from .explainer import Attribution, Explainer
from .explanation import Explanation
from .gradients import input_gradients, input_gradients_in_batches, variable_gradients
from .hookspecs import hookimpl
from .images import load_image
from .model import Graph, Layer, LoadedModel, ModelAdapter
from .params import Params
from .sink import Sink

__all__ = [
    "Attribution",
    "Explainer",
    "Explanation",
    "Graph",
    "ImageError",
    "Layer",
    "LoadedModel",
    "ModelAdapter",
    "ModelError",
    "ParameterError",
    "Params",
    "PluginError",
    "Sink",
    "XaikitError",
    "explain",
    "explainers",
    "hookimpl",
    "input_gradients",
    "input_gradients_in_batches",
    "load_image",
    "load_model",
    "variable_gradients",
]
