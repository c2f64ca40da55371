"""xaikit: plugin-style explainable AI for image classifiers on nnabla."""

from importlib.metadata import version as _version

from xaikit.datasets.result import DatasetResult, RowFailure
from xaikit.datasets.run import explain_dataset
from xaikit.engine.gradients import input_gradients, input_gradients_in_batches, variable_gradients
from xaikit.engine.model import Graph, Layer, LoadedModel, ModelAdapter, Preprocessing
from xaikit.plugin.errors import (
    DatasetError,
    ImageError,
    ModelError,
    OutputError,
    ParameterError,
    PluginError,
    XaikitError,
)
from xaikit.plugin.explainer import Attribution, Explainer
from xaikit.plugin.hookspecs import hookimpl
from xaikit.plugin.manager import register_plugin, unregister_plugin
from xaikit.plugin.params import Params
from xaikit.plugin.sink import Sink
from xaikit.run.explain import explain, explainers, load_model
from xaikit.run.explanation import Explanation, OutputFile, write_outputs
from xaikit.run.images import load_image

__version__ = _version("xaikit")
"""The installed distribution's version."""

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
    "OutputError",
    "OutputFile",
    "ParameterError",
    "Params",
    "PluginError",
    "Preprocessing",
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
    "register_plugin",
    "unregister_plugin",
    "variable_gradients",
    "write_outputs",
]
