"""Errors a user can cause. The CLI prints them as one line and exits non-zero.

An error's class is its kind, and its parts are fields: code that handles one reads
``reason``, ``subject`` and ``path``, never the message.
"""

from __future__ import annotations

import os
from typing import Any, Optional, Union


class XaikitError(Exception):
    """Base class of every error xaikit raises for bad input.

    The message is ``subject: path: reason``, leaving out the parts that are None:
    ``XaikitError("no such file", subject="image", path="a.png")`` reads
    ``image: a.png: no such file``.

    :param reason: what is wrong.
    :param subject: the parameter or option concerned (``image``, ``output``, ``labels``).
    :param path: the file concerned.
    """

    def __init__(self, reason: str, *, subject: Optional[str] = None,
                 path: Union[str, "os.PathLike[str]", None] = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.subject = subject
        self.path = path

    def __str__(self) -> str:
        return ": ".join(str(part) for part in (self.subject, self.path, self.reason)
                         if part is not None)

    def __reduce__(self):
        """Pickle with the fields (an error raised on a Dask worker reaches the client)."""
        return _rebuild, (type(self), self.reason, self.subject, self.path)


def _rebuild(cls: type, reason: str, subject: Optional[str], path: Any) -> "XaikitError":
    return cls(reason, subject=subject, path=path)


class ParameterError(XaikitError, ValueError):
    """A parameter value is out of range, of the wrong type or unknown."""


class ModelError(XaikitError):
    """A model file or object cannot be loaded or is not an image classifier."""


class ImageError(XaikitError):
    """An image cannot be read or does not fit the model."""


class DatasetError(XaikitError):
    """A dataset CSV cannot be read or lacks a column the run needs."""


class OutputError(XaikitError):
    """An output cannot be written: no sink for its extension, an unwritable folder."""


class PluginError(XaikitError):
    """A plugin is broken or clashes with another plugin."""


class UnknownPluginError(PluginError, LookupError):
    """No installed plugin has the requested name."""


for _error in (XaikitError, ParameterError, ModelError, ImageError, DatasetError, OutputError,
               PluginError, UnknownPluginError):
    _error.__module__ = "xaikit"  # tracebacks name the public spelling: xaikit.ParameterError
