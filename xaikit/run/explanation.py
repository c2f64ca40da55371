"""What an explainer produced, and saving it through a sink."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Union

import numpy as np
from PIL import Image

from xaikit.plugin.errors import XaikitError
from xaikit.plugin.params import validate

DEFAULT_SINK = "grey"
"""NNC's output; it wins an extension that several sinks write (``.png``)."""


@dataclass(repr=False)
class Explanation:
    """An attribution map with what it explains."""

    attribution: np.ndarray
    """float32 (channels, height, width) of the model input."""
    input: np.ndarray
    """The preprocessed input image, same shape."""
    class_index: int
    explainer: str
    params: Dict[str, Any]
    model: str
    score: Optional[float] = None
    """The model's output for ``class_index`` on the image (a probability for NNC's
    Softmax and Sigmoid outputs)."""
    class_name: Optional[str] = None
    """The class's name from the labels, if any were given."""
    image: Optional[Image.Image] = None
    """The image as given, at its own resolution; None when it came preprocessed."""
    reported: Dict[str, Any] = field(default_factory=dict)
    """What the explainer reported besides the map (see :class:`xaikit.Attribution`)."""

    def __repr__(self) -> str:
        """One line: what is explained and the map's type and shape, not its values."""
        name = f" ({self.class_name!r})" if self.class_name else ""
        score = "" if self.score is None else f", score={self.score:.4g}"
        shape = "x".join(str(d) for d in np.shape(self.attribution))
        return (f"Explanation({self.explainer!r}, model={self.model!r}, "
                f"class_index={self.class_index}{name}{score}, "
                f"attribution={np.asarray(self.attribution).dtype}[{shape}])")

    @property
    def metadata(self) -> Dict[str, Any]:
        """What the map explains, ``{"class_index", "class_name", "score"}``, and what the
        explainer reported."""
        return {"class_index": self.class_index, "class_name": self.class_name,
                "score": self.score, **self.reported}

    def save(
        self, path: Union[str, "os.PathLike[str]"], sink: Optional[str] = None, **sink_params: Any
    ) -> Path:
        """Write through ``sink`` (by default the one the extension selects) to ``path``, as
        given; returns it. The sink must write ``path``'s extension.

        The file appears complete or not at all; missing folders are created.
        """
        from xaikit.plugin.manager import registry
        from xaikit.run.outputs import output_path

        path = Path(path)
        chosen = registry().get("sink", sink) if sink else sink_for(path)
        output_path(path, chosen)  # refuses an extension the sink does not write
        params = validate(chosen.Params, sink_params)
        write_atomically(path, lambda tmp: chosen.write(self, tmp, params))
        return path


def sink_for(path: Path):
    """The sink that writes ``path``'s extension: the only one, or grey among several."""
    from xaikit.plugin.manager import registry

    suffix = path.suffix.lower()
    sinks = [reg.obj for reg in registry().items["sink"].values()]
    writers = [sink for sink in sinks if suffix in sink.extensions]
    if len(writers) > 1:
        writers = [sink for sink in writers if sink.name == DEFAULT_SINK] or writers
    if len(writers) == 1:
        return writers[0]
    if writers:
        names = ", ".join(sink.name for sink in writers)
        raise XaikitError(f"output: several sinks write {suffix} ({names}); choose one with "
                          "--sink (sink= in Python)")
    known = sorted({e for sink in sinks for e in sink.extensions[:5]}, key=_first_listed(sinks))
    raise XaikitError(f"output: no sink writes {suffix or 'files without an extension'} "
                      f"(known extensions: {', '.join(known)}, ...)")


def _first_listed(sinks):
    """Sort key: an extension's place in the sinks' lists (their usual ones first)."""
    return lambda e: (min(s.extensions.index(e) for s in sinks if e in s.extensions), e)


def write_atomically(path: Path, write) -> None:
    """Call ``write(tmp)`` with a temporary path beside ``path``, then rename it into place."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise XaikitError(f"output: cannot write {path}: {exc.strerror or exc}") from None
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes private files; outputs are ordinary
        os.replace(tmp, path)
    except OSError as exc:
        raise XaikitError(f"output: cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
