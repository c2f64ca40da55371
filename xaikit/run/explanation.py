"""What an explainer produced, assembled in one place, and writing it through sinks."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
from PIL import Image

from xaikit.engine.model import LoadedModel
from xaikit.plugin.errors import OutputError
from xaikit.plugin.explainer import Attribution
from xaikit.run.classes import class_names
from xaikit.run.outputs import (
    SinkChoice,
    SinkParams,
    choose_sinks,
    output_path,
    sink_for,
    write_atomically,
)
from xaikit.run.request import Request


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

    def stability_note(self) -> str:
        """``stability 0.97 (48 samples)``, ending ``, capped`` for a map that reached its
        ``max_samples`` short of the stability asked for; empty for a map without a
        stability (see :doc:`/smoothgrad`)."""
        stability = self.reported.get("stability")
        if stability is None:
            return ""
        capped = ", capped" if self.reported.get("capped") else ""
        return f"stability {stability:.3f} ({self.reported.get('samples')} samples{capped})"

    def save(
        self, path: Union[str, "os.PathLike[str]"], sink: Optional[str] = None, **sink_params: Any
    ) -> Path:
        """Write through ``sink`` (by default the one the extension selects) to ``path``, as
        given; returns it. The sink must write ``path``'s extension.

        The file appears complete or not at all; missing folders are created.
        """
        path = Path(path)
        name = sink or sink_for(path).name
        [choice] = choose_sinks(path, [name], {name: sink_params})
        output_path(path, choice.sink)  # refuses an extension the sink does not write
        _write(choice, self, path)
        return path


@dataclass(frozen=True)
class Context:
    """What every explanation of one run shares: the explainer and its parameters, the
    model, the class names. :meth:`explanation` is where explanations are assembled."""

    explainer: str
    params: Dict[str, Any]
    model: str
    names: Optional[List[str]] = None
    """One name per class, from the run's labels."""

    @classmethod
    def of(cls, request: Request, model: LoadedModel) -> "Context":
        """The context of ``request`` on ``model``; reads the labels."""
        return cls(request.name, request.settings(), model.name,
                   class_names(request.labels, model.num_classes))

    def explanation(
        self,
        pixels: np.ndarray,
        class_index: int,
        attribution: Attribution,
        score: float,
        image: Optional[Image.Image] = None,
        facts: Optional[Mapping[str, Any]] = None,
    ) -> Explanation:
        """The explanation of ``class_index`` on ``pixels``; ``facts`` (a dataset row's
        number and image cell) come before what the explainer reported."""
        return Explanation(
            attribution=attribution.values,
            input=pixels,
            class_index=class_index,
            explainer=self.explainer,
            params=self.params,
            model=self.model,
            score=score,
            class_name=self.names[class_index] if self.names else None,
            image=image,
            reported={**(facts or {}), **attribution.metadata},
        )


@dataclass(frozen=True)
class OutputFile:
    """One file written: where, by which sink, and the explanation it shows."""

    path: Path
    sink: str
    explanation: Explanation


def write_outputs(
    explanations: Union[Explanation, Sequence[Explanation]],
    output: Union[str, "os.PathLike[str]"],
    sinks: Sequence[str] = (),
    sink_params: Optional[SinkParams] = None,
) -> List[OutputFile]:
    """Write each explanation through each sink, named by the rule in
    :mod:`xaikit.run.outputs`.

    :param explanations: one explanation, or several (one per class) of the same image.
    :param output: the output path the user gave.
    :param sinks: sink names; none: the one ``output``'s extension selects.
    :param sink_params: parameters by sink name, validated by each sink's ``Params``.
    :returns: the files written, explanation by explanation, sinks in the order given.
    """
    return write_explanations(explanations, Path(output),
                              choose_sinks(output, sinks, sink_params))


def write_explanations(
    explanations: Union[Explanation, Sequence[Explanation]],
    output: Path,
    sinks: Sequence[SinkChoice],
    made: bool = False,
) -> List[OutputFile]:
    """:func:`write_outputs` through sinks already chosen (a :class:`Request`'s).

    :param made: ``output`` is a name xaikit made (a dataset row's), which a sink may give
        its own extension (see :func:`xaikit.run.outputs.output_path`).
    """
    if isinstance(explanations, Explanation):
        explanations = [explanations]
    several_classes = len(explanations) > 1
    planned = [
        (explanation, choice,
         output_path(output, choice.sink, explanation.class_index if several_classes else None,
                     several_sinks=len(sinks) > 1, made=made))
        for explanation in explanations
        for choice in sinks
    ]
    paths = [path for *_, path in planned]
    if len(set(paths)) < len(paths):
        raise OutputError("two explanations of one class would be written to one file",
                          subject="output")
    written = []
    for explanation, choice, path in planned:
        _write(choice, explanation, path)
        written.append(OutputFile(path, choice.sink.name, explanation))
    return written


def _write(choice: SinkChoice, explanation: Explanation, path: Path) -> None:
    write_atomically(path, lambda tmp: choice.sink.write(explanation, tmp, choice.params))
