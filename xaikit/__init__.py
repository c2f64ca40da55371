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
from .explainer import Attribution, Explainer
from .explanation import Explanation
from .gradients import input_gradients, input_gradients_in_batches, variable_gradients
from .hookspecs import hookimpl
from .images import load_image
from .model import Graph, Layer, LoadedModel, ModelAdapter
from .outputs import OutputFile, write_outputs
from .params import Params
from .sink import Sink

__all__ = [
    "Attribution",
    "DatasetError",
    "DatasetResult",
    "Explainer",
    "Explanation",
    "Graph",
    "ImageError",
    "Layer",
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
    "input_gradients",
    "input_gradients_in_batches",
    "load_image",
    "load_model",
    "variable_gradients",
    "write_outputs",
]
