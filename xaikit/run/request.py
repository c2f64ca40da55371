"""One run, parsed and validated once, before any work.

``xaikit run``, :func:`xaikit.explain` and :func:`xaikit.explain_dataset` each turn what
they were given into a :class:`Request` with :func:`build_request` and hand it down: the
explainer and its parameters, the sinks and theirs, the model and its adapter's options
(``--onnx-mean``), the classes, the input (an image or a dataset CSV), the output and the
run's options, the smoothing among them (:mod:`xaikit.run.smoothing`). The Python API takes
the run's options as keywords beside the explainer's parameters; an explainer may not name
a parameter after a run option (:func:`xaikit.plugin.params.reserved_fields`), except
``seed``, which an explainer that declares one receives from the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from pydantic import Field

from xaikit.datasets.layout import MAP_SUFFIX, output_csv
from xaikit.engine.model import ModelAdapter
from xaikit.engine.noise import Smoothing
from xaikit.plugin.errors import ModelError, OutputError, ParameterError
from xaikit.plugin.explainer import Explainer
from xaikit.plugin.manager import registry
from xaikit.plugin.params import Params, validate
from xaikit.run.classes import ClassTarget
from xaikit.run.outputs import SinkChoice, SinkParams, choose_sinks, option_prefix, output_path
from xaikit.run.smoothing import SmoothParams, recorded

MAX_SEED = 2**32 - 1


class RunParams(Params):
    """What every ``xaikit run`` takes besides the explainer's and the sinks' parameters."""

    model: str = Field(
        "results.nnp",
        description="Model file to explain: .nnp, .onnx, or a format another installed "
        "adapter reads (xaikit list).",
        json_schema_extra={"aliases": ["-m"], "path": "FILE"},
    )
    image: Optional[str] = Field(
        None,
        description="Image file to analyse. A .csv file or a folder is a dataset: "
        "-i takes any, as NNC's two plugins take an image or a CSV.",
        json_schema_extra={"aliases": ["-i"], "path": "PATH"},
    )
    class_index: ClassTarget = Field(
        0,
        description="Index of the class to explain; 'predicted' for the model's top "
        "class, or several indices such as 3,5,7 for one map each. Dataset runs: each "
        "row's label by default, 'predicted' or one index for every row.",
        json_schema_extra={"aliases": ["-c"]},
    )
    output: Optional[str] = Field(
        None,
        description="Output file: the map of one image (without --sink its extension picks "
        "the sink: grey for any image format; several sinks or classes add .<sink> or "
        ".class<N> before the extension), or a dataset's CSV. "
        "Default: <explainer>.png or <explainer>.csv.",
        json_schema_extra={"aliases": ["-o"], "path": "FILE"},
    )
    sink: Tuple[str, ...] = Field(
        (),
        description="Sink to write the map with; repeat for several: "
        "--sink grey --sink heatmap. Its options are --<sink>-<parameter>.",
    )
    labels: Optional[str] = Field(
        None,
        description="Text file naming the classes, one per line, for panels and outputs.",
        json_schema_extra={"path": "FILE"},
    )
    seed: Optional[int] = Field(
        None,
        ge=0,
        le=MAX_SEED,
        description="Seed of the noise, and of whatever else the run draws at random: the "
        "same seed gives the same maps. An explainer with a seed parameter of its own gets "
        "this one. Default: fresh noise each run.",
    )
    input: str = Field(
        "output_result.csv",
        min_length=1,
        description="Dataset CSV whose every row is explained, when no --image is given; "
        "or a folder, whose every image file is.",
        json_schema_extra={"path": "PATH"},
    )
    input_variable: str = Field(
        "x",
        min_length=1,
        description="Dataset variable holding the image paths.",
        json_schema_extra={"aliases": ["-v1"]},
    )
    label_variable: str = Field(
        "y",
        min_length=1,
        description="Dataset variable holding each row's class: an index, or a one-hot or "
        "score vector (y__0, y__1...).",
        json_schema_extra={"aliases": ["-v2"]},
    )
    overwrite: bool = Field(
        False,
        description="Dataset runs: redo the maps an earlier run made with the same settings.",
    )
    workers: Optional[int] = Field(
        None,
        ge=1,
        le=1024,
        description="Dataset runs: explain on a local Dask cluster of this many worker "
        "processes, started for the run (pip install 'xaikit[dask]').",
    )
    scheduler: Optional[str] = Field(
        None,
        min_length=1,
        description="Dataset runs: explain on the Dask cluster of this scheduler "
        "(tcp://host:8786); default: the XAIKIT_SCHEDULER environment variable.",
    )


DATASET_ONLY = ("input", "input_variable", "label_variable", "overwrite", "workers",
                "scheduler")
"""Options of dataset runs, refused in a run on one image."""
WRITING = ("output", "sink")
"""Options of runs that write files; :func:`xaikit.explain` returns explanations instead."""
OBJECTS = ("model", "image", "labels")
"""Options the Python API also takes as objects (a loaded model, a PIL image or an array,
a list of names): handed down as given, read where they are used."""


LABEL = "label"
"""A dataset run's classes by default: each row's label (a folder's: the predicted class)."""


@dataclass(frozen=True)
class DatasetInput:
    """The input of a dataset run: the CSV (or folder) and the variables to read from it,
    and where the rows are explained."""

    path: Path
    """The dataset CSV, or a folder of images."""
    input_variable: str
    label_variable: str
    overwrite: bool
    """Redo the maps an earlier run made with the same settings."""
    workers: Optional[int] = None
    """Explain on a local Dask cluster of this many processes."""
    scheduler: Any = None
    """Explain on an existing Dask cluster: an address or a ``distributed.Client``."""


@dataclass(frozen=True)
class Request:
    """One run, validated: everything the work needs, nothing read from disk yet."""

    explainer: Explainer
    params: Params
    """The explainer's parameters, validated by its schema; a ``seed`` it declares is the
    run's."""
    model: Any
    """A model reference or a :class:`xaikit.LoadedModel`, as given."""
    model_options: Dict[str, Any] = field(default_factory=dict)
    """The options given for the adapter that loads ``model`` (``{"mean": "0.5"}``),
    checked against its ``Params`` schema: ``load_model(model, **model_options)``."""
    image: Any = None
    """The image of a run on one image (a path, a PIL image or an array), as given."""
    dataset: Optional[DatasetInput] = None
    """The dataset of a dataset run."""
    classes: Union[int, str, List[int], None] = 0
    """An index, ``"predicted"`` or a list of indices (runs on one image); dataset runs:
    an index, ``"predicted"``, :data:`LABEL`, or None for the default."""
    labels: Any = None
    """Class names: a file, a sequence, or None."""
    output: Optional[Path] = None
    """Where the run writes (None: it returns explanations and writes nothing)."""
    sinks: Tuple[SinkChoice, ...] = ()
    seed: Optional[int] = None
    smoothing: Optional[Smoothing] = None
    """Noise around the explainer (``smooth_samples``...), seeded with ``seed``; None: off."""

    @property
    def name(self) -> str:
        """The explainer's registered name."""
        return self.explainer.name

    def settings(self, mode: str = "python") -> Dict[str, Any]:
        """What the maps depend on besides model, image and class: the explainer's
        parameters, and the smoothing options when smoothing."""
        return {**self.params.model_dump(mode=mode), **recorded(self.smoothing)}


def build_request(
    explainer: str,
    options: Mapping[str, Any],
    sink_params: Optional[SinkParams] = None,
    adapter_params: Optional[Mapping[str, Mapping[str, Any]]] = None,
    *,
    dataset: bool,
    writes: bool = True,
) -> Request:
    """Validate a run: ``options`` holds run options (the fields of :class:`RunParams`
    and :class:`~xaikit.run.smoothing.SmoothParams`) and the explainer's parameters, by
    name; ``sink_params`` the sinks' parameters by sink; ``adapter_params`` the model
    adapters' by adapter (``{"onnx": {"mean": "0.5"}}``).

    :param dataset: a dataset run (``input``) rather than a run on one ``image``.
    :param writes: the run writes its explanations (``output``, ``sink``); a run that
        returns them refuses those options.
    :raises XaikitError: naming the first option or parameter that is wrong.
    """
    algorithm = registry().get("explainer", explainer)
    run_fields = RunParams.model_fields
    given = {k: v for k, v in options.items() if k in run_fields}
    smooth_fields = SmoothParams.model_fields
    own = {k: v for k, v in options.items() if k not in run_fields and k not in smooth_fields}
    _refuse_misplaced(given, dataset, writes)
    classes = _dataset_classes(given.pop("class_index", None)) if dataset else None
    run = validate(RunParams, {k: v for k, v in given.items() if k not in OBJECTS
                               and not (k == "scheduler" and not isinstance(v, str))})
    smooth = validate(SmoothParams, {k: v for k, v in options.items() if k in smooth_fields})
    if run.seed is not None and "seed" in algorithm.Params.model_fields:
        own["seed"] = run.seed
    params = validate(algorithm.Params, own)
    chosen: List[SinkChoice] = []
    output = None
    source = None
    if dataset:
        source = DatasetInput(Path(run.input), run.input_variable, run.label_variable,
                              run.overwrite, run.workers, given.get("scheduler"))
        output = output_csv(run.output, explainer, source.path)
        chosen = choose_sinks(Path("map" + MAP_SUFFIX), run.sink, sink_params)
    elif writes:
        output = Path(run.output or f"{explainer}.png")
        if output.is_dir():
            raise OutputError(f"is a folder; name a file in it, such as "
                              f"{output / (explainer + '.png')}", subject="output", path=output)
        chosen = choose_sinks(output, run.sink, sink_params)
        if len(chosen) == 1 and not isinstance(run.class_index, list):
            output_path(output, chosen[0].sink)  # the name as given: its sink must write it
    model = given.get("model", run.model)
    return Request(
        explainer=algorithm,
        params=params,
        model=model,
        model_options=_model_options(model, adapter_params),
        image=given.get("image"),
        dataset=source,
        classes=classes if dataset else run.class_index,
        labels=given.get("labels"),
        output=output,
        sinks=tuple(chosen),
        seed=run.seed,
        smoothing=smooth.smoothing(run.seed),
    )


def _dataset_classes(value: Any) -> Union[int, str, None]:
    """A dataset run's ``class_index``: None (the default), :data:`LABEL`, ``"predicted"``
    or one index; a list is refused."""
    if value is None or value == LABEL:
        return value
    target = validate(RunParams, {"class_index": value}).class_index
    if isinstance(target, list):
        raise ParameterError("a dataset run explains one class per row: an index, "
                             "'predicted' or (for a CSV) 'label'", subject="class_index")
    return target


def model_adapter(ref: Any) -> ModelAdapter:
    """The adapter that loads ``ref``: plugins' before the built-ins, which take any path."""
    for reg in reversed(registry().items["adapter"].values()):
        if reg.obj.accepts(ref):
            return reg.obj
    raise ModelError(f"no installed adapter loads a {type(ref).__name__}", subject="model")


def _model_options(model: Any, adapter_params: Optional[Mapping[str, Mapping[str, Any]]]
                   ) -> Dict[str, Any]:
    """The options given for the adapter that loads ``model``, validated; options for
    another adapter are an error, named ``<adapter>_<parameter>`` (``onnx_mean``)."""
    params = {name: values for name, values in (adapter_params or {}).items() if values}
    if not params:
        return {}
    adapter = model_adapter(model)
    for name, values in params.items():
        if name != adapter.name:
            raise ParameterError(f"{model} is read by the {adapter.name} adapter, not by "
                                 f"{name}", subject=option_prefix(name) + next(iter(values)))
    options = dict(params[adapter.name])
    validate(adapter.Params, options, prefix=option_prefix(adapter.name))
    return options


def _refuse_misplaced(given: Mapping[str, Any], dataset: bool, writes: bool) -> None:
    if dataset:
        if "image" in given:
            raise ParameterError("a dataset run reads its images from the CSV (--input)",
                                 subject="image")
        return
    for option in DATASET_ONLY:
        if option in given:
            raise ParameterError("only dataset runs use it (--input data.csv); --image "
                                 "explains one image", subject=option)
    if not writes:
        for option in WRITING:
            if option in given:
                raise ParameterError("xaikit.explain returns explanations; write them with "
                                     "Explanation.save or xaikit.write_outputs", subject=option)
