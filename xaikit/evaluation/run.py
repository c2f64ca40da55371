"""``xaikit.evaluate``: several explainers, several metrics, many images, one report.

Images are read ``CHUNK_SIZE`` at a time; each explainer draws their maps in one
:meth:`Explainer.explain_batch` call, and each metric evaluates those maps in one
:meth:`Metric.evaluate` call, putting its perturbed copies of all the chunk's images
through the same forward passes. Each image has a seed drawn from the run's seed and its
place in the input, so a value depends on neither the chunk nor the batch size.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any, Dict, List, Literal, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from pydantic import BeforeValidator, Field, NonNegativeInt
from typing_extensions import Annotated

from xaikit.datasets.progress import progress_counter
from xaikit.engine.forward import class_scores
from xaikit.engine.model import LoadedModel
from xaikit.evaluation.inputs import Item, read_items
from xaikit.evaluation.plot import check_plot_path, plot_curves
from xaikit.evaluation.report import ReportRow, write_report
from xaikit.plugin.errors import ParameterError, UnknownPluginError, XaikitError
from xaikit.plugin.explainer import Attribution, Explainer
from xaikit.plugin.manager import registry
from xaikit.plugin.metric import Cost, MetricBatch, Score
from xaikit.plugin.params import Params, validate
from xaikit.run.classes import parse_class_target
from xaikit.run.explain import check_class_index, load_model
from xaikit.run.images import load_image
from xaikit.run.outputs import option_prefix

CHUNK_SIZE = 16
"""Images per explainer and metric call."""
DEFAULT_METRICS = ("deletion", "insertion")
LONG_RUN = {"forward": 2000, "explanations": 100}
"""A run estimated to cost more than either is long: its estimate is printed first."""

ParamsByName = Mapping[str, Mapping[str, Any]]
"""Parameters by plugin name: ``{"smoothgrad": {"num_samples": 50}}``."""


class EvaluateParams(Params):
    """What ``xaikit evaluate`` takes besides the explainers' and metrics' own parameters."""

    explainer: Tuple[str, ...] = Field(
        ...,
        min_length=1,
        description="Explainer to evaluate (see xaikit list); repeat to compare several: "
        "-e smoothgrad -e random. Its options are --<explainer>-<parameter>.",
        json_schema_extra={"aliases": ["-e"]},
    )
    model: str = Field(
        "results.nnp",
        description="Model file whose explanations are evaluated (.nnp, .onnx...).",
        json_schema_extra={"aliases": ["-m"]},
    )
    input: str = Field(
        ...,
        min_length=1,
        description="An image, a dataset CSV (each row's image at its label's class) or a "
        "folder (its images at any depth, sorted).",
        json_schema_extra={"aliases": ["-i"]},
    )
    metric: Tuple[str, ...] = Field(
        DEFAULT_METRICS,
        min_length=1,
        description="Metric to compute (see xaikit list); repeat for several. Its options "
        "are --<metric>-<parameter>.",
    )
    class_index: Optional[Annotated[Union[NonNegativeInt, Literal["predicted"]],
                                    BeforeValidator(parse_class_target)]] = Field(
        None,
        description="Class whose maps are evaluated: an index or 'predicted'. Default: a "
        "CSV row's label, else the predicted class.",
        json_schema_extra={"aliases": ["-c"]},
    )
    seed: int = Field(
        0,
        ge=0,
        le=2**32 - 1,
        description="Seed of the metrics' random draws, and of every explainer with a seed "
        "parameter not given (--<explainer>-seed).",
    )
    output: Optional[str] = Field(
        None,
        description="Report CSV: a row per image, explainer and metric.",
        json_schema_extra={"aliases": ["-o"]},
    )
    plot: Optional[str] = Field(
        None,
        description="Image file of the mean curves per explainer (deletion, insertion, "
        "randomization): .png, .svg, .pdf...",
    )
    batch_size: int = Field(
        64,
        ge=1,
        le=65_536,
        description="Inputs per forward pass of the metrics; values do not depend on it.",
    )
    input_variable: str = Field(
        "x", min_length=1, description="Dataset variable holding the image paths (CSV input).",
        json_schema_extra={"aliases": ["-v1"]},
    )
    label_variable: str = Field(
        "y", min_length=1, description="Dataset variable holding each row's class (CSV input).",
        json_schema_extra={"aliases": ["-v2"]},
    )


@dataclass(frozen=True)
class _Plan:
    """The validated run: plugins with their parameters, the model and the items."""

    request: EvaluateParams
    explainers: Dict[str, Tuple[Explainer, Params]]
    metrics: Dict[str, Tuple[Any, Params]]
    model: LoadedModel
    items: List[Item]


def evaluate(
    explainers: Union[str, Sequence[str]],
    model: Any,
    input: Union[str, "os.PathLike[str]"],
    metrics: Sequence[str] = DEFAULT_METRICS,
    *,
    class_index: Union[int, str, None] = None,
    seed: int = 0,
    explainer_params: Optional[ParamsByName] = None,
    metric_params: Optional[ParamsByName] = None,
    output: Union[str, "os.PathLike[str]", None] = None,
    plot: Union[str, "os.PathLike[str]", None] = None,
    batch_size: int = 64,
    input_variable: str = "x",
    label_variable: str = "y",
    progress: Optional[bool] = None,
) -> List[ReportRow]:
    """Compute ``metrics`` on the maps each of ``explainers`` draws for the images of ``input``.

    :param explainers: installed explainers' names.
    :param model: a :class:`LoadedModel` or anything :func:`xaikit.load_model` takes.
    :param input: an image, a dataset CSV (each row's image at its label's class) or a
        folder (its images at any depth, sorted).
    :param metrics: installed metrics' names.
    :param class_index: an index or ``"predicted"``; default: a CSV row's label, else the
        predicted class.
    :param seed: seeds the metrics' draws and every explainer with a ``seed`` parameter
        that ``explainer_params`` does not set.
    :param explainer_params: parameters by explainer name.
    :param metric_params: parameters by metric name.
    :param output: write the report CSV there. :param plot: draw the mean curves there.
    :param batch_size: inputs per forward pass of the metrics.
    :param progress: True: a progress bar; False: silent; None: a bar on a terminal, else
        a line every 30 seconds. The estimate of a long run goes to stderr unless False.
    :returns: a :class:`ReportRow` per image, explainer and metric, in that order. An
        image that cannot be read, or on which an explainer or a metric fails, gets rows
        with ``error`` set instead of a value; the others go on.
    :raises XaikitError: before any work, for bad names, parameters, model or input.
    """
    request = validate(EvaluateParams, {
        "explainer": (explainers,) if isinstance(explainers, str) else tuple(explainers),
        "input": os.fspath(input), "metric": tuple(metrics), "class_index": class_index,
        "seed": seed, "output": None if output is None else os.fspath(output),
        "plot": None if plot is None else os.fspath(plot), "batch_size": batch_size,
        "input_variable": input_variable, "label_variable": label_variable})
    plan = _plan(request, model, explainer_params, metric_params)
    notice = estimate(plan)
    if notice and progress is not False:
        print(f"note: {notice}", file=sys.stderr, flush=True)
    rows = _Run(plan).run(progress)
    if plan.request.output:
        write_report(rows, plan.request.output)
    if plan.request.plot:
        directions = {name: metric.higher_is_better for name, (metric, _) in plan.metrics.items()}
        plot_curves(rows, plan.request.plot, directions)
    return rows


def _plan(request: EvaluateParams, model: Any, explainer_params: Optional[ParamsByName],
          metric_params: Optional[ParamsByName]) -> _Plan:
    """Check everything that can be checked before the work."""
    if request.output is not None and not request.output.lower().endswith(".csv"):
        raise ParameterError(f"the report is a .csv file (got {request.output})",
                             subject="output")
    if request.plot is not None:
        check_plot_path(request.plot)
    chosen_explainers = _with_params("explainer", request.explainer, explainer_params)
    for name, (explainer, params) in chosen_explainers.items():
        if "seed" in type(params).model_fields and "seed" not in (explainer_params or {}).get(
                name, {}):
            chosen_explainers[name] = (explainer, validate(
                type(params), {**params.model_dump(), "seed": request.seed},
                prefix=option_prefix(name)))
    chosen_metrics = _with_params("metric", request.metric, metric_params)
    loaded = load_model(model)
    if isinstance(request.class_index, int):
        check_class_index(request.class_index, loaded)
    items = read_items(request.input, loaded.num_classes, request.input_variable,
                       request.label_variable)
    return _Plan(request, chosen_explainers, chosen_metrics, loaded, items)


def _with_params(kind: str, names: Sequence[str],
                 params: Optional[ParamsByName]) -> Dict[str, Tuple[Any, Params]]:
    """Each named plugin with its validated parameters; parameters of a plugin not named
    are an error."""
    params = {name: values for name, values in (params or {}).items() if values}
    chosen = {}
    for name in dict.fromkeys(names):
        try:
            plugin = registry().get(kind, name)
        except UnknownPluginError as exc:
            raise UnknownPluginError(exc.reason, subject=kind) from None
        chosen[name] = (plugin, validate(plugin.Params, dict(params.get(name, {})),
                                         prefix=option_prefix(name)))
    for name, values in params.items():
        if name not in chosen:
            first = option_prefix(name) + next(iter(values))
            raise ParameterError(f"the {kind} {name} is not chosen; add it with --{kind} {name}",
                                 subject=first)
    return chosen


def run_cost(plan: _Plan) -> Cost:
    """What the metrics cost over the whole run, besides the explainers' own maps."""
    per_image = [metric.cost(plan.model, params) for metric, params in plan.metrics.values()]
    units = len(plan.items) * len(plan.explainers)
    return Cost(forward=units * sum(c.forward for c in per_image),
                backward=units * sum(c.backward for c in per_image),
                explanations=units * sum(c.explanations for c in per_image))


def estimate(plan: _Plan) -> str:
    """The run's cost in passes and explanations when it is long, else an empty string."""
    cost = run_cost(plan)
    if cost.forward <= LONG_RUN["forward"] and cost.explanations <= LONG_RUN["explanations"]:
        return ""
    images, explainers = len(plan.items), len(plan.explainers)
    backward = f", {cost.backward:,} forward and backward" if cost.backward else ""
    return (f"{images:,} images x {explainers} explainers: {images * explainers:,} maps, "
            f"then {cost.explanations:,} more maps and {cost.forward:,} forward "
            f"passes{backward} for the metrics ({plan.request.batch_size} inputs per pass)")


class _Run:
    """One evaluation, chunk by chunk."""

    def __init__(self, plan: _Plan) -> None:
        self.plan = plan
        self.model = plan.model
        self.rows: List[Tuple[Tuple[int, int, int], ReportRow]] = []
        self.explainer_order = {name: i for i, name in enumerate(plan.explainers)}
        self.metric_order = {name: i for i, name in enumerate(plan.metrics)}

    def run(self, show: Optional[bool]) -> List[ReportRow]:
        items = self.plan.items
        counter = progress_counter(len(items) * len(self.plan.explainers), 0, "evaluate", show,
                                   unit="map")
        try:
            for first in range(0, len(items), CHUNK_SIZE):
                self._chunk(list(range(first, min(first + CHUNK_SIZE, len(items)))), counter)
        finally:
            counter.close()
        return [row for _, row in sorted(self.rows, key=lambda pair: pair[0])]

    def _chunk(self, positions: List[int], counter) -> None:
        ready: List[Tuple[int, np.ndarray]] = []
        for position in positions:
            item = self.plan.items[position]
            try:
                if item.error:
                    raise ParameterError(item.error)
                ready.append((position, load_image(item.path, self.model)))
            except XaikitError as exc:
                self._fail_all(position, None, str(exc))
        if ready:
            images = np.stack([pixels for _, pixels in ready])
            classes = self._classes([p for p, _ in ready], images)
            for name, explainer in self.plan.explainers.items():
                self._explainer(name, explainer, [p for p, _ in ready], images, classes)
        counter.update(len(positions) * len(self.plan.explainers))

    def _classes(self, positions: List[int], images: np.ndarray) -> List[int]:
        """The class each image is explained at: the run's, else its label, else predicted."""
        wanted = self.plan.request.class_index
        if isinstance(wanted, int):
            return [wanted] * len(positions)
        labels = [None if wanted == "predicted" else self.plan.items[p].class_index
                  for p in positions]
        if all(label is not None for label in labels):
            return labels
        predicted = self.model.predict(images).argmax(axis=1)
        return [int(c) if label is None else label for c, label in zip(predicted, labels)]

    def _explainer(self, name: str, explainer: Tuple[Explainer, Params], positions: List[int],
                   images: np.ndarray, classes: List[int]) -> None:
        algorithm, params = explainer
        maps = _attempt(lambda idx: _maps(algorithm, self.model, images[idx],
                                          [classes[i] for i in idx], params), len(positions))
        done = [i for i, result in enumerate(maps) if not isinstance(result, str)]
        for i, result in enumerate(maps):
            if isinstance(result, str):
                self._fail_all(positions[i], name, f"explainer: {result}", classes[i])
        if not done:
            return
        attributions = np.stack([maps[i] for i in done])

        def explain_again(model: LoadedModel, inputs: np.ndarray,
                          class_indices: Sequence[int]) -> np.ndarray:
            return _maps(algorithm, model, inputs, class_indices, params)

        for metric_name, (metric, metric_params) in self.plan.metrics.items():
            def compute(idx: List[int], metric=metric, metric_params=metric_params):
                chosen = [done[i] for i in idx]
                batch = self._batch(positions, images, classes, attributions[idx], chosen,
                                    explain_again)
                scores = metric.evaluate(batch, metric_params)
                if len(scores) != len(idx):
                    raise XaikitError(f"{metric.name} gave {len(scores)} values for "
                                      f"{len(idx)} maps")
                return [Score.of(s) for s in scores]

            for i, result in zip(done, _attempt(compute, len(done))):
                if isinstance(result, str):
                    self._add(positions[i], name, metric_name, None, classes[i],
                              f"metric: {result}")
                else:
                    detail = dict(result.detail)
                    if result.curve is not None:
                        detail["curve"] = result.curve.to_dict()
                    self._add(positions[i], name, metric_name, result.value, classes[i], "",
                              detail)

    def _batch(self, positions, images, classes, attributions, chosen, explain) -> MetricBatch:
        request = self.plan.request
        return MetricBatch(
            model=self.model,
            images=images[chosen],
            class_indices=tuple(classes[i] for i in chosen),
            attributions=attributions,
            seeds=tuple(image_seed(request.seed, positions[i]) for i in chosen),
            seed=request.seed,
            scores=lambda inputs, class_indices: class_scores(
                self.model, inputs, class_indices, batch_size=request.batch_size),
            explain=explain,
        )

    def _fail_all(self, position: int, explainer: Optional[str], error: str,
                  class_index: Optional[int] = None) -> None:
        for name in ([explainer] if explainer else self.plan.explainers):
            for metric in self.plan.metrics:
                self._add(position, name, metric, None, class_index, error)

    def _add(self, position: int, explainer: str, metric: str, value: Optional[float],
             class_index: Optional[int], error: str = "",
             detail: Optional[Dict[str, Any]] = None) -> None:
        key = (position, self.explainer_order[explainer], self.metric_order[metric])
        row = ReportRow(self.plan.items[position].name, explainer, metric, value, class_index,
                        error, detail or {})
        self.rows.append((key, row))


def _maps(explainer: Explainer, model: LoadedModel, images: np.ndarray,
          class_indices: Sequence[int], params: Params) -> np.ndarray:
    """The explainer's maps as one float32 array, checked for shape and finiteness."""
    results = explainer.explain_batch(model, images, [int(c) for c in class_indices], params)
    maps = np.stack([Attribution.of(r).values for r in results])
    if maps.shape != images.shape:
        raise XaikitError(f"maps of shape {maps.shape[1:]}, not {images.shape[1:]}")
    if not np.isfinite(maps).all():
        raise XaikitError("the map holds NaN or infinite values")
    return maps


def _attempt(work, count: int) -> List[Any]:
    """``work(indices)`` for all ``count`` indices at once; when it fails, for each index
    alone, so that only the failing ones get their one-line error (a string)."""
    try:
        return list(work(list(range(count))))
    except Exception as exc:  # a plugin's failure fails its rows, not the run
        if count == 1:
            return [_one_line(exc)]
    results: List[Any] = []
    for i in range(count):
        try:
            results.extend(work([i]))
        except Exception as exc:
            results.append(_one_line(exc))
    return results


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return text if isinstance(exc, XaikitError) else f"{type(exc).__name__}: {text}".rstrip(": ")


def image_seed(seed: int, position: int) -> int:
    """The seed of the image at ``position`` in a run seeded with ``seed``."""
    return int(np.random.SeedSequence([seed, position]).generate_state(1)[0])
