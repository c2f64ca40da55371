"""Explaining every row of an NNC dataset CSV, as NNC's batch XAI plugins do.

A run is planned (:mod:`~xaikit.datasets.plan`: each row's class, the rows an earlier run
kept), then taken ``chunk_size`` rows at a time: their images are read
(:mod:`~xaikit.datasets.load`), attributed through :meth:`Explainer.explain_batch`
(:mod:`~xaikit.datasets.attribute`, which touches no file) and saved
(:mod:`~xaikit.datasets.save`: maps and manifest) while the next chunk is attributed;
then finished (:mod:`~xaikit.datasets.finish`: output CSV, errors file). Files are laid
out as :mod:`~xaikit.datasets.layout` says. The explainer's parameters (its ``seed`` too)
reach every row as given, so a seeded row's map is the one a single-image run with that
seed makes, whatever the chunking and however often the run was resumed.
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, List, Optional, Sequence, Union

from xaikit.datasets.attribute import attribute_chunk
from xaikit.datasets.finish import finish
from xaikit.datasets.layout import column_name
from xaikit.datasets.load import load_chunk
from xaikit.datasets.manifest import Manifest, manifest_path, model_fingerprint
from xaikit.datasets.nnc_csv import read_dataset_csv
from xaikit.datasets.plan import plan_rows
from xaikit.datasets.progress import progress_counter
from xaikit.datasets.result import DatasetResult
from xaikit.datasets.save import RowWriter
from xaikit.plugin.errors import ParameterError
from xaikit.run.explain import load_model
from xaikit.run.explanation import Context
from xaikit.run.outputs import SinkParams
from xaikit.run.request import Request, build_request

CHUNK_SIZE = 32
"""Rows per :meth:`Explainer.explain_batch` call."""


def explain_dataset(
    explainer: str,
    model: Any,
    input: Union[str, "os.PathLike[str]"] = "output_result.csv",
    output: Union[str, "os.PathLike[str]", None] = None,
    input_variable: str = "x",
    label_variable: str = "y",
    overwrite: bool = False,
    progress: Optional[bool] = None,
    chunk_size: int = CHUNK_SIZE,
    sinks: Sequence[str] = (),
    sink_params: Optional[SinkParams] = None,
    labels: Union[str, "os.PathLike[str]", Sequence[str], None] = None,
    **params: Any,
) -> DatasetResult:
    """Explain every row of a dataset CSV: the image in ``input_variable`` for the class
    its ``label_variable`` names.

    A row's label is a class index, or a one-hot or score vector (``y__0, y__1...``)
    whose argmax is the class; a model with one output (a binary classifier), or a label
    vector whose width differs from the model's output, is explained at class 0. Rows
    whose map exists from an earlier run with the same explainer, parameters, model,
    image and class are kept unless ``overwrite``.

    :param explainer: an installed explainer's name.
    :param model: a :class:`LoadedModel` or anything :func:`xaikit.load_model` takes.
    :param input: the dataset CSV.
    :param output: the output CSV; default ``<explainer>.csv``.
    :param progress: True: a progress bar; False: silent; None: a bar when stderr is a
        terminal, else a line every 30 seconds. Notes go to stderr unless False.
    :param chunk_size: rows per :meth:`Explainer.explain_batch` call.
    :param sinks: sinks writing each row's map (default: NNC's grey PNG); see
        :func:`xaikit.write_outputs`.
    :param sink_params: the sinks' parameters by sink name.
    :param labels: class names (a file with one per line, or a list) for the output CSV
        and the panels.
    :param params: the explainer's parameters, and the run's options: ``seed``, and the
        smoothing options (as :func:`xaikit.explain` takes them).
    :returns: the counts, failures and paths. A row that fails (unreadable image, bad
        label) does not stop the run; it is listed in ``<output stem>.errors.csv``.
    :raises XaikitError: before any work, for bad parameters, CSV or model.
    """
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ParameterError(f"must be a positive integer (got {chunk_size!r})",
                             subject="chunk_size")
    request = build_request(
        explainer,
        {"model": model, "input": os.fspath(input),
         "output": None if output is None else os.fspath(output),
         "input_variable": input_variable, "label_variable": label_variable,
         "overwrite": overwrite, "sink": tuple(sinks), "labels": labels, **params},
        sink_params,
        dataset=True,
    )
    return run_dataset(request, progress, chunk_size)


def run_dataset(request: Request, progress: Optional[bool] = None,
                chunk_size: int = CHUNK_SIZE) -> DatasetResult:
    """Carry out a dataset request (see :func:`explain_dataset`)."""
    source, output = request.dataset, request.output
    data = read_dataset_csv(source.csv, source.input_variable, source.label_variable)
    model = load_model(request.model, **request.model_options)
    context = Context.of(request, model)
    notes: List[str] = []

    def note(message: str) -> None:
        notes.append(message)
        if progress is not False:
            print(f"note: {message}", file=sys.stderr, flush=True)

    for message in model.notes:
        note(message)
    width = len(data.label_columns)
    if model.num_classes > 1 and width > 1 and width != model.num_classes:
        note(f"label_variable {source.label_variable!r} has {width} columns and {model.name} "
             f"{model.num_classes} outputs: every row explains class 0, as NNC does")
    settings = {"explainer": request.name, "params": request.settings(mode="json"),
                # a file with adapter options is fingerprinted as the model the API's
                # load_model(path, **options) gives, so the CLI and the API share maps
                "model": model_fingerprint(model if request.model_options else request.model,
                                           model),
                "sinks": {c.sink.name: c.params.model_dump(mode="json") for c in request.sinks},
                "labels": context.names}
    manifest, redo = Manifest.load(manifest_path(output), settings, source.overwrite)
    if redo:
        note(redo)

    plan = plan_rows(data, model.num_classes, output, request.sinks, manifest)
    writer = RowWriter(data, output, request.sinks, context, manifest)
    writer.maps.update(plan.reused)
    counter = progress_counter(len(data.rows), len(data.rows) - len(plan.todo), request.name,
                               progress)
    start = time.monotonic()
    manifest.begin()
    for failure in plan.failures:
        writer.fail(failure)
    done = 0
    pending: List[Future] = []
    try:
        # One chunk's maps are written while the next chunk is attributed.
        with ThreadPoolExecutor(max_workers=1) as saving:
            try:
                for first in range(0, len(plan.todo), chunk_size):
                    chunk = load_chunk(data, plan.todo[first:first + chunk_size], plan.classes,
                                       model)
                    results = attribute_chunk(request.explainer, request.params, model,
                                              chunk.inputs, request.smoothing)
                    pending.append(saving.submit(writer.save, chunk, results))
                    while len(pending) > 1:
                        done += _saved(pending.pop(0), counter)
            finally:
                while pending:
                    done += _saved(pending.pop(0), counter)
    finally:
        counter.close()
        manifest.close()
        if done < len(plan.todo):  # interrupted: the manifest lists every finished map
            note(f"stopped after {done} of {len(plan.todo)} rows; the same command resumes")
    seconds = time.monotonic() - start
    errors = finish(writer, plan.classes, column_name(request.explainer))
    failures = [writer.failures[row] for row in sorted(writer.failures)]
    maps = [writer.maps.get(row) for row in range(len(data.rows))]
    explained = sum(path is not None for path in maps) - len(plan.reused)
    return DatasetResult(output, maps, explained, len(plan.reused), failures, errors, seconds,
                         notes)


def _saved(saving: Future, counter: Any) -> int:
    """Wait for a chunk's maps to be written; count its rows as done."""
    rows = saving.result()
    counter.update(rows)
    return rows
