"""Writing explanations through one or more sinks, and the file names that gives.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, List, Mapping, Optional, Sequence, Tuple, Union

from xaikit.plugin.errors import ParameterError, UnknownPluginError, XaikitError
from xaikit.plugin.manager import registry
from xaikit.plugin.params import Params, validate
from xaikit.plugin.sink import Sink
from xaikit.run.explanation import Explanation, sink_for, write_atomically

SinkParams = Mapping[str, Mapping[str, Any]]
"""Parameters by sink name: ``{"heatmap": {"alpha": 0.4}}``."""


@dataclass(frozen=True)
class OutputFile:
    """One file written: where, by which sink, and the explanation it shows."""

    path: Path
    sink: str
    explanation: Explanation


def option_prefix(sink_name: str) -> str:
    """How a sink's parameters are spelled outside its schema: ``heatmap_`` + ``alpha``."""
    return sink_name.replace("-", "_") + "_"


def choose_sinks(
    output: Union[str, "os.PathLike[str]"],
    names: Sequence[str] = (),
    params: Optional[SinkParams] = None,
) -> List[Tuple[Sink, Params]]:
    """The sinks ``names`` (none: the one ``output``'s extension selects), each with its
    validated parameters. Cheap: call it before the work to fail early.

    :raises XaikitError: an unknown sink, parameters for a sink not chosen, or a bad
        parameter, named ``<sink>_<parameter>`` (``heatmap_alpha``).
    """
    if Path(output).is_dir():
        raise XaikitError(f"output: {output}: is a folder; name a file in it, such as "
                          f"{Path(output) / 'map.png'}")
    sinks = [_sink(name) for name in dict.fromkeys(names)] or [sink_for(Path(output))]
    params = {name: values for name, values in (params or {}).items() if values}
    chosen = {sink.name for sink in sinks}
    for name, values in params.items():
        if name not in chosen:
            first = option_prefix(name) + next(iter(values))
            raise ParameterError(f"{first}: the {name} sink is not chosen; add --sink {name}")
    return [(sink, validate(sink.Params, dict(params.get(sink.name, {})),
                            prefix=option_prefix(sink.name)))
            for sink in sinks]


def _sink(name: str) -> Sink:
    try:
        return registry().get("sink", name)
    except UnknownPluginError as exc:
        raise UnknownPluginError(f"sink: {exc}") from None


def output_path(
    output: Union[str, "os.PathLike[str]"],
    sink: Sink,
    class_index: Optional[int] = None,
    several_sinks: bool = False,
) -> Path:
    """Where ``sink`` writes for ``output`` (the rule in this module's docstring).

    :param class_index: set when several classes are written, to add ``.class<N>``.
    :param several_sinks: add ``.<sink>``.
    :raises XaikitError: the name is used as given and ``sink`` does not write its extension.
    """
    output = Path(output)
    suffix = output.suffix
    if sink.extensions and suffix.lower() not in sink.extensions:
        if class_index is None and not several_sinks:
            writes = ", ".join(sink.extensions[:5]) + (", ..." if len(sink.extensions) > 5 else "")
            raise XaikitError(f"output: {output}: the {sink.name} sink writes {writes}, not "
                              f"{suffix or 'files without an extension'}; name the output "
                              f"{output.with_suffix(sink.extensions[0])}")
        suffix = sink.extensions[0]
    name = output.stem if output.suffix else output.name
    if class_index is not None:
        name += f".class{class_index}"
    if several_sinks:
        name += f".{sink.name}"
    return output.with_name(name + suffix)


def write_outputs(
    explanations: Union[Explanation, Sequence[Explanation]],
    output: Union[str, "os.PathLike[str]"],
    sinks: Sequence[str] = (),
    sink_params: Optional[SinkParams] = None,
) -> List[OutputFile]:
    """Write each explanation through each sink, named by the rule in this module's docstring.

    :param explanations: one explanation, or several (one per class) of the same image.
    :param output: the output path the user gave.
    :param sinks: sink names; none: the one ``output``'s extension selects.
    :param sink_params: parameters by sink name, validated by each sink's ``Params``.
    :returns: the files written, explanation by explanation, sinks in the order given.
    """
    if isinstance(explanations, Explanation):
        explanations = [explanations]
    chosen = choose_sinks(output, sinks, sink_params)
    several_classes = len(explanations) > 1
    planned = [
        (explanation, sink, params,
         output_path(output, sink, explanation.class_index if several_classes else None,
                     several_sinks=len(chosen) > 1))
        for explanation in explanations
        for sink, params in chosen
    ]
    paths = [path for *_, path in planned]
    if len(set(paths)) < len(paths):
        raise XaikitError("output: two explanations of one class would be written to one file")
    written = []
    for explanation, sink, params, path in planned:
        write_atomically(path, _writer(sink, explanation, params))
        written.append(OutputFile(path, sink.name, explanation))
    return written


def _writer(sink: Sink, explanation: Explanation, params: Params) -> Callable[[Path], None]:
    return lambda tmp: sink.write(explanation, tmp, params)
