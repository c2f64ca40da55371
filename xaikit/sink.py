"""The Sink plugin kind: writes an explanation to a file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Tuple, Type

from .params import Params

if TYPE_CHECKING:
    from .explanation import Explanation


class Sink:
    """Base class of sinks.

    Subclasses set ``name``, ``description``, the file ``extensions`` they are the
    default writer for (``(".png",)``) and a nested ``Params`` schema, and implement
    :meth:`write`.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    extensions: ClassVar[Tuple[str, ...]] = ()
    Params: ClassVar[Type[Params]] = Params

    def write(self, explanation: "Explanation", path: Path, params: Params) -> None:
        """Write ``explanation`` to ``path``.

        xaikit passes a temporary path in the destination's folder with the destination's
        extension and renames it into place once this returns, so a failed write never
        leaves a partial file.
        """
        raise NotImplementedError
