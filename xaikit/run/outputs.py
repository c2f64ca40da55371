"""Where explanations go: the sinks chosen, with their parameters validated, the names of the
files they write, and writing a file atomically.

One explanation through one sink is written to the output path as given (so NNC command
lines keep their output). Otherwise each file's name adds, before the extension,
``.class<N>`` when several classes were explained and ``.<sink>`` when several sinks
write::

    map.png, sinks grey and heatmap    -> map.grey.png, map.heatmap.png
    map.png, classes 3 and 5           -> map.class3.png, map.class5.png
    map.png, both                      -> map.class3.grey.png, map.class3.heatmap.png, ...

The name given is written as given: a sink that does not write its extension refuses it
(``map.png`` through ``npy``). A name xaikit makes takes the sink's first extension
instead when the sink does not write the given one (``map.png`` through ``grey`` and
``npy`` is ``map.grey.png`` and ``map.npy.npy``).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, List, Mapping, Optional, Sequence, Union

from xaikit.plugin.errors import OutputError, ParameterError, UnknownPluginError
from xaikit.plugin.manager import registry
from xaikit.plugin.params import Params, validate
from xaikit.plugin.sink import Sink

SinkParams = Mapping[str, Mapping[str, Any]]
"""Parameters by sink name: ``{"heatmap": {"alpha": 0.4}}``."""

DEFAULT_SINK = "grey"
"""NNC's output; it wins an extension that several sinks write (``.png``)."""


@dataclass(frozen=True)
class SinkChoice:
    """A sink chosen for a run, with its validated parameters."""

    sink: Sink
    params: Params


def option_prefix(sink_name: str) -> str:
    """How a sink's parameters are spelled outside its schema: ``heatmap_`` + ``alpha``."""
    return sink_name.replace("-", "_") + "_"


def choose_sinks(
    output: Union[str, "os.PathLike[str]"],
    names: Sequence[str] = (),
    params: Optional[SinkParams] = None,
) -> List[SinkChoice]:
    """The sinks ``names`` (none: the one ``output``'s extension selects), each with its
    validated parameters. Every run chooses its sinks here, before the work.

    :raises XaikitError: an unknown sink, no sink or several for the extension,
        parameters for a sink not chosen, or a bad parameter, named
        ``<sink>_<parameter>`` (``heatmap_alpha``).
    """
    sinks = [_sink(name) for name in dict.fromkeys(names)] or [sink_for(Path(output))]
    params = {name: values for name, values in (params or {}).items() if values}
    chosen = {sink.name for sink in sinks}
    for name, values in params.items():
        if name not in chosen:
            raise ParameterError(f"the {name} sink is not chosen; add --sink {name}",
                                 subject=option_prefix(name) + next(iter(values)))
    return [SinkChoice(sink, validate(sink.Params, dict(params.get(sink.name, {})),
                                      prefix=option_prefix(sink.name)))
            for sink in sinks]


def sink_for(path: Path) -> Sink:
    """The sink that writes ``path``'s extension: the only one, or grey among several."""
    suffix = path.suffix.lower()
    sinks = [reg.obj for reg in registry().items["sink"].values()]
    writers = [sink for sink in sinks if suffix in sink.extensions]
    if len(writers) > 1:
        writers = [sink for sink in writers if sink.name == DEFAULT_SINK] or writers
    if len(writers) == 1:
        return writers[0]
    if writers:
        names = ", ".join(sink.name for sink in writers)
        raise OutputError(f"several sinks write {suffix} ({names}); choose one with --sink "
                          "(sink= in Python)", subject="output")
    known = sorted({e for sink in sinks for e in sink.extensions[:5]}, key=_first_listed(sinks))
    raise OutputError(f"no sink writes {suffix or 'files without an extension'} "
                      f"(known extensions: {', '.join(known)}, ...)", subject="output")


def _first_listed(sinks: Sequence[Sink]) -> Callable[[str], Any]:
    """Sort key: an extension's place in the sinks' lists (their usual ones first)."""
    return lambda e: (min(s.extensions.index(e) for s in sinks if e in s.extensions), e)


def _sink(name: str) -> Sink:
    try:
        return registry().get("sink", name)
    except UnknownPluginError as exc:
        raise UnknownPluginError(exc.reason, subject="sink") from None


def output_path(
    output: Union[str, "os.PathLike[str]"],
    sink: Sink,
    class_index: Optional[int] = None,
    several_sinks: bool = False,
    made: bool = False,
) -> Path:
    """Where ``sink`` writes for ``output`` (the rule in this module's docstring).

    :param class_index: set when several classes are written, to add ``.class<N>``.
    :param several_sinks: add ``.<sink>``.
    :param made: ``output`` is a name xaikit made (a dataset row's), not the user's.
    :raises OutputError: the name is used as given and ``sink`` does not write its extension.
    """
    output = Path(output)
    suffix = output.suffix
    if sink.extensions and suffix.lower() not in sink.extensions:
        if class_index is None and not several_sinks and not made:
            writes = ", ".join(sink.extensions[:5]) + (", ..." if len(sink.extensions) > 5 else "")
            raise OutputError(f"the {sink.name} sink writes {writes}, not "
                              f"{suffix or 'files without an extension'}; name the output "
                              f"{output.with_suffix(sink.extensions[0])}", subject="output",
                              path=output)
        suffix = sink.extensions[0]
    name = output.stem if output.suffix else output.name
    if class_index is not None:
        name += f".class{class_index}"
    if several_sinks:
        name += f".{sink.name}"
    return output.with_name(name + suffix)


def write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` with a temporary path beside ``path``, then rename it into place:
    the file appears complete or not at all. Missing folders are created.

    :raises OutputError: the folder or the file cannot be written.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}", subject="output") from None
    placed = False
    try:
        write(Path(tmp))
        os.chmod(tmp, FILE_MODE)  # mkstemp makes private files; outputs are ordinary
        os.replace(tmp, path)
        placed = True
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}", subject="output") from None
    finally:
        if not placed and os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()
"""The mode of files written: as ``open`` makes them. Read once, at import: reading the
umask sets it for a moment, which must not happen while other threads create files."""
