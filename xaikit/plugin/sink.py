"""The Sink plugin kind: writes an explanation to a file."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Tuple, Type

from xaikit.plugin.params import Params


class Sink:
    """Base class of sinks.

    Subclasses set ``name``, ``description``, the file ``extensions`` they write, their
    usual one first (``(".png", ".jpg")``), and a nested ``Params`` schema, and implement
    :meth:`write`. An output extension that only one sink writes selects that sink
    (``.png``, written by several, selects ``grey``). An output whose extension a sink does
    not write gets the sink's first extension when xaikit names files.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    extensions: ClassVar[Tuple[str, ...]] = ()
    Params: ClassVar[Type[Params]] = Params

    def write(self, explanation, path: Path, params: Params) -> None:
        """Write ``explanation`` to ``path``.

        xaikit passes a temporary path in the destination's folder with the destination's
        extension and renames it into place once this returns, so a failed write never
        leaves a partial file.

        :param explanation: the :class:`xaikit.Explanation` to write. (Not annotated: the
            module that defines it saves explanations through the installed sinks.)
        :param path: where to write.
        :param params: an instance of this sink's ``Params``.
        """
        raise NotImplementedError
