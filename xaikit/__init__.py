"""xaikit: plugin-style explainable AI for image classifiers on nnabla."""

from .api import explain, explainers, load_model
from .dataset_run import DatasetResult, RowFailure, explain_dataset
from .errors import (
    DatasetError,
    ImageError,
    ModelError,
    ParameterError,
    PluginError,
    XaikitError,
)
from .explainer import Explainer
from .explanation import Explanation
from .hookspecs import hookimpl
from .model import Graph, LoadedModel, ModelAdapter
from .outputs import OutputFile, write_outputs
from .params import Params
from .sink import Sink

__all__ = [
    "DatasetError",
    "DatasetResult",
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
    "RowFailure",
    "Sink",
    "XaikitError",
    "explain",
    "explain_dataset",
    "explainers",
    "hookimpl",
    "load_model",
    "write_outputs",
]
