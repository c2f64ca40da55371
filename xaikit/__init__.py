"""xaikit: plugin-style explainable AI for image classifiers on nnabla.

The names below (``__all__``) are xaikit's public API: everything a user or a plugin
needs, documented in the API reference. Plugins (xaikit's own SmoothGrad, explainers,
adapters and sinks among them) import only ``xaikit`` (and ``xaikit.testing`` in their
tests). The subpackages (``xaikit.plugin``, ``xaikit.engine``, ``xaikit.run``,
``xaikit.datasets``, ``xaikit.cli``, ``xaikit.builtins``) are private: they may change
in any release.
"""

from importlib.metadata import version as _version

from xaikit.datasets.result import DatasetResult, RowFailure
from xaikit.datasets.run import explain_dataset
from xaikit.engine.backend import CPU, Device
from xaikit.engine.forward import class_scores
from xaikit.engine.gradients import input_gradients, input_gradients_in_batches, variable_gradients
from xaikit.engine.model import Graph, Layer, LoadedModel, ModelAdapter, Preprocessing
from xaikit.engine.noise import Smoothing
from xaikit.engine.params import GradientParams
from xaikit.engine.passes import Smoothed, smoothed_gradients
from xaikit.evaluation.report import ReportRow
from xaikit.evaluation.run import evaluate
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
from xaikit.plugin.manager import PluginWarning, register_plugin, unregister_plugin
from xaikit.plugin.metric import Cost, Curve, Metric, MetricBatch, Score
from xaikit.plugin.params import Params, SampleCount
from xaikit.plugin.sink import Sink
from xaikit.run.explain import explain, explainers, load_model, metrics, sinks
from xaikit.run.explanation import Explanation, OutputFile, write_outputs
from xaikit.run.images import load_image

__version__ = _version("xaikit")
"""The installed distribution's version."""

__all__ = [
    "CPU",
    "Attribution",
    "Cost",
    "Curve",
    "DatasetError",
    "DatasetResult",
    "Device",
    "Explainer",
    "Explanation",
    "GradientParams",
    "Graph",
    "ImageError",
    "Layer",
    "LoadedModel",
    "Metric",
    "MetricBatch",
    "ModelAdapter",
    "ModelError",
    "OutputError",
    "OutputFile",
    "ParameterError",
    "Params",
    "PluginError",
    "PluginWarning",
    "Preprocessing",
    "ReportRow",
    "RowFailure",
    "SampleCount",
    "Score",
    "Sink",
    "Smoothed",
    "Smoothing",
    "XaikitError",
    "class_scores",
    "evaluate",
    "explain",
    "explain_dataset",
    "explainers",
    "hookimpl",
    "input_gradients",
    "input_gradients_in_batches",
    "load_image",
    "load_model",
    "metrics",
    "register_plugin",
    "sinks",
    "smoothed_gradients",
    "unregister_plugin",
    "variable_gradients",
    "write_outputs",
]
