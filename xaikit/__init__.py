"""xaikit: plugin-style explainable AI for image classifiers on nnabla."""

from .api import explain, explainers, load_model
from .errors import ImageError, ModelError, ParameterError, PluginError, XaikitError
from .explainer import Explainer
from .explanation import Explanation
from .hookspecs import hookimpl
from .model import Graph, LoadedModel, ModelAdapter
from .outputs import OutputFile, write_outputs
from .params import Params
from .sink import Sink

__all__ = [
    "Explainer",
    "Explanation",
    "Graph",
    "ImageError",
    "LoadedModel",
    "ModelAdapter",
    "ModelError",
    "OutputFile",
    "ParameterError",
    "Params",
    "PluginError",
    "Sink",
    "XaikitError",
    "explain",
    "explainers",
    "hookimpl",
    "load_model",
    "write_outputs",
]
