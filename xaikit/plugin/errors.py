"""Errors a user can cause. The CLI prints them as one line and exits non-zero."""

from __future__ import annotations


class XaikitError(Exception):
    """Base class of every error xaikit raises for bad input."""


class ParameterError(XaikitError, ValueError):
    """A parameter value is out of range, of the wrong type or unknown."""


class ModelError(XaikitError):
    """A model file or object cannot be loaded or is not an image classifier."""


class ImageError(XaikitError):
    """An image cannot be read or does not fit the model."""


class DatasetError(XaikitError):
    """A dataset CSV cannot be read or lacks a column the run needs."""


class PluginError(XaikitError):
    """A plugin is broken or clashes with another plugin."""


class UnknownPluginError(PluginError, LookupError):
    """No installed plugin has the requested name."""


for _error in (XaikitError, ParameterError, ModelError, ImageError, DatasetError, PluginError,
               UnknownPluginError):
    _error.__module__ = "xaikit"  # tracebacks name the public spelling: xaikit.ParameterError
