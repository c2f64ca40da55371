"""Explaining every row of an NNC dataset CSV, or every image under a folder, as NNC's
batch XAI plugins do.

A run is planned (:mod:`~xaikit.datasets.plan`: each row's class, the rows an earlier run
kept), then taken in blocks of ``chunk_size`` rows (rows 0 to 31, 32 to 63... for small
inputs, see :func:`default_chunk_size`): the images of a block's rows to do are read
(:mod:`~xaikit.datasets.load`), attributed through :meth:`Explainer.explain_batch`
(:mod:`~xaikit.datasets.attribute`, which touches no file) in this process or on Dask
workers (:mod:`~xaikit.datasets.execute`), and saved (:mod:`~xaikit.datasets.save`: maps
and manifest) while further blocks are attributed; then finished
(:mod:`~xaikit.datasets.finish`: output CSV, errors file). Files are laid out as
:mod:`~xaikit.datasets.layout` says. The explainer's parameters (its ``seed`` too) reach
every row as given, and a row's block does not depend on where it was attributed or on a
run stopped by Ctrl-C (which saves whole blocks) and resumed: with a seed, the same data
gives the same maps, bit for bit.
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

import numpy as np

from xaikit.datasets.execute import Executor, executor
from xaikit.datasets.finish import finish
from xaikit.datasets.folder import folder_dataset
from xaikit.datasets.layout import column_name
from xaikit.datasets.load import LoadedChunk, load_chunk
from xaikit.datasets.manifest import Manifest, manifest_path, model_fingerprint
from xaikit.datasets.nnc_csv import DatasetCSV, read_dataset_csv
from xaikit.datasets.plan import Plan, plan_rows
from xaikit.datasets.progress import progress_counter
from xaikit.datasets.result import DatasetResult
from xaikit.datasets.save import RowWriter
from xaikit.engine.model import LoadedModel
from xaikit.plugin.errors import ParameterError
from xaikit.run.classes import PREDICTED
from xaikit.run.explain import check_class_index, load_model
from xaikit.run.explanation import Context
from xaikit.run.outputs import SinkParams
from xaikit.run.request import LABEL, Request, build_request

CHUNK_SIZE = 32
"""Rows per :meth:`Explainer.explain_batch` call (a block) at most, by default."""
CHUNK_BYTES = 4 * 2**20
"""Preprocessed pixels per block at most, by default: a block of large images (a ResNet's
224x224, 602 KB each) holds fewer rows, so that it travels to a worker in one piece and
the work spreads over the workers."""


def explain_dataset(
    explainer: str,
    model: Any,
    input: Union[str, "os.PathLike[str]"] = "output_result.csv",
    output: Union[str, "os.PathLike[str]", None] = None,
    input_variable: str = "x",
    label_variable: str = "y",
    overwrite: bool = False,
    progress: Optional[bool] = None,
    chunk_size: Optional[int] = None,
    sinks: Sequence[str] = (),
    sink_params: Optional[SinkParams] = None,
    labels: Union[str, "os.PathLike[str]", Sequence[str], None] = None,
    **params: Any,
) -> DatasetResult:
    """Explain every row of a dataset CSV, or every image under a folder.

    A row's class is by default the one its ``label_variable`` names: a class index, or a
    one-hot or score vector (``y__0, y__1...``) whose argmax is the class; a model with one
    output (a binary classifier), or a label vector whose width differs from the model's
    output, is explained at class 0. Rows whose map exists from an earlier run with the
    same explainer, parameters, model, image and class are kept unless ``overwrite``.

    :param explainer: an installed explainer's name.
    :param model: a :class:`LoadedModel` or anything :func:`xaikit.load_model` takes
        (with ``workers`` or ``scheduler``, a file: the workers load it themselves).
    :param input: the dataset CSV; or a folder, whose image files (recursively, sorted,
        the formats Pillow reads) are the rows, explained for their predicted class.
    :param output: the output CSV; default ``<explainer>.csv``.
    :param progress: True: a progress bar; False: silent; None: a bar when stderr is a
        terminal, else a line every 30 seconds. Notes go to stderr unless False.
    :param chunk_size: rows per :meth:`Explainer.explain_batch` call; default
        :func:`default_chunk_size`.
    :param sinks: sinks writing each row's map (default: NNC's grey PNG); see
        :func:`xaikit.write_outputs`.
    :param sink_params: the sinks' parameters by sink name.
    :param labels: class names (a file with one per line, or a list) for the output CSV
        and the panels.
    :param params: the explainer's parameters, and the run's options: ``seed``, the
        smoothing options (as :func:`xaikit.explain` takes them); ``class_index``:
        ``"label"`` (each row's label, the default for a CSV), ``"predicted"`` (the
        default for a folder) or one index for every row; ``workers``: explain on a local
        Dask cluster of this many processes, started for the run; ``scheduler``: explain
        on an existing Dask cluster, given its scheduler's address (``tcp://host:8786``)
        or a ``distributed.Client`` (both need ``pip install 'xaikit[dask]'``).
    :returns: the counts, failures and paths. A row that fails (unreadable image, bad
        label) does not stop the run; it is listed in ``<output stem>.errors.csv``.
    :raises XaikitError: before any work, for bad parameters, CSV or model; during a
        distributed run, when the scheduler is lost or a worker lacks the explainer
        (the maps finished so far are kept for the next run).
    """
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
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
                chunk_size: Optional[int] = None) -> DatasetResult:
    """Carry out a dataset request (see :func:`explain_dataset`)."""
    source, output = request.dataset, request.output
    folder = source.path.is_dir()
    if folder:
        data = folder_dataset(source.path, output, source.input_variable)
    else:
        data = read_dataset_csv(source.path, source.input_variable, source.label_variable)
    model = load_model(request.model, **request.model_options)
    classes = dataset_classes(request.classes, model, folder)
    context = Context.of(request, model)
    notes: List[str] = []

    def note(message: str) -> None:
        notes.append(message)
        if progress is not False:
            print(f"note: {message}", file=sys.stderr, flush=True)

    for message in model.notes:
        note(message)
    width = len(data.label_columns)
    if classes == LABEL and model.num_classes > 1 and width > 1 and width != model.num_classes:
        note(f"label_variable {source.label_variable!r} has {width} columns and {model.name} "
             f"{model.num_classes} outputs: every row explains class 0, as NNC does")
    settings = {"explainer": request.name, "params": request.settings(mode="json"),
                # a file with adapter options is fingerprinted as the model the API's
                # load_model(path, **options) gives, so the CLI and the API share maps
                "model": model_fingerprint(model if request.model_options else request.model,
                                           model),
                "sinks": {c.sink.name: c.params.model_dump(mode="json") for c in request.sinks},
                "labels": context.names}
    if classes != LABEL:  # label runs keep the manifests of earlier versions
        settings["classes"] = classes
    with executor(request.explainer, request.params, request.smoothing, request.model,
                  request.model_options, model, source.workers, source.scheduler,
                  note) as execute:
        manifest, redo = Manifest.load(manifest_path(output), settings, source.overwrite)
        if redo:
            note(redo)
        plan = plan_rows(data, model.num_classes, output, request.sinks, manifest, classes)
        writer = RowWriter(data, output, request.sinks, context, manifest, plan.entries)
        writer.maps.update(plan.reused)
        start = time.monotonic()
        _explain_rows(data, model, plan, writer, execute, note, request.name, progress,
                      chunk_size or default_chunk_size(model))
        seconds = time.monotonic() - start
    errors = finish(writer, column_name(request.explainer))
    failures = [writer.failures[row] for row in sorted(writer.failures)]
    maps = [writer.maps.get(row) for row in range(len(data.rows))]
    explained = sum(path is not None for path in maps) - len(plan.reused)
    settling = {row: facts for row, facts in sorted(writer.settling.items())
                if maps[row] is not None}
    return DatasetResult(output, maps, explained, len(plan.reused), failures, errors, seconds,
                         notes, settling)


def default_chunk_size(model: LoadedModel) -> int:
    """Rows per block: :data:`CHUNK_SIZE`, fewer for inputs larger than 32 KiB (a block
    holds :data:`CHUNK_BYTES` of float32 pixels at most), at least one."""
    pixels = 4 * int(np.prod(model.input_shape))
    return max(1, min(CHUNK_SIZE, CHUNK_BYTES // pixels))


def dataset_classes(classes: Union[int, str, None], model: LoadedModel,
                    folder: bool) -> Union[int, str]:
    """What a dataset run explains: :data:`~xaikit.run.request.LABEL` (each row's label),
    ``"predicted"``, or one class index for every row. A folder has no labels: by default
    its images' predicted class."""
    if classes is None:
        return PREDICTED if folder else LABEL
    if classes == LABEL and folder:
        raise ParameterError("a folder has no labels: explain 'predicted' or a class index",
                             subject="class_index")
    if isinstance(classes, int):
        check_class_index(classes, model)
    return classes


def _explain_rows(data: DatasetCSV, model: LoadedModel, plan: Plan, writer: RowWriter,
                  execute: Executor, note: Any, name: str, progress: Optional[bool],
                  size: int) -> None:
    """Attribute the rows to do block by block and save them as they come back."""
    counter = progress_counter(len(data.rows), len(data.rows) - len(plan.todo), name, progress)
    writer.manifest.begin()
    for failure in plan.failures:
        writer.fail(failure)
    pending: List[Future] = []
    try:
        # A chunk's maps are written while further chunks are attributed.
        with ThreadPoolExecutor(max_workers=1) as saving:
            try:
                for chunk, results in execute(_chunks(data, model, plan, size)):
                    pending.append(saving.submit(writer.save, chunk, results))
                    while len(pending) > 1:
                        counter.update(pending[0].result())
                        pending.pop(0)
            finally:
                for saved in pending:
                    counter.update(saved.result())
    finally:
        counter.close()
        writer.manifest.close()
        if writer.saved < len(plan.todo):  # stopped: the manifest lists every finished map
            note(f"stopped after {writer.saved} of {len(plan.todo)} rows; the same command "
                 "resumes")


def _chunks(data: DatasetCSV, model: LoadedModel, plan: Plan,
            size: int) -> Iterator[LoadedChunk]:
    """The rows to do by block of ``size`` rows, their images read as they are asked for."""
    blocks: Dict[int, List[int]] = {}
    for row in plan.todo:
        blocks.setdefault(row // size, []).append(row)
    for rows in blocks.values():
        yield load_chunk(data, rows, plan.classes, model)
