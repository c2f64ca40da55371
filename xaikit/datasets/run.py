"""Explaining every row of an NNC dataset CSV, or every image under a folder, as NNC's batch
XAI plugins do.

Each row's map goes to ``<output without extension>/<row // 1000, 4 digits>/<row>.png``
(with several sinks, ``<row>.<sink>.<ext>``, as :mod:`xaikit.run.outputs` names files); the
output CSV is the input CSV with a first column (the explainer's ``nnc_column``) holding
each map's path relative to the output CSV's folder, empty for rows that failed, a further
column per further sink (``<nnc_column>.<sink>``), and at the end the class explained, its
name when labels are given, and the model's score for it.

Rows are explained in blocks of ``chunk_size`` (rows 0 to 31, 32 to 63... for small
inputs; fewer rows per block for large ones, see :func:`default_chunk_size`), one
:meth:`Explainer.explain_batch` call for the rows of a block to do, so small inputs share
forward and backward passes, and a row's map does not depend on where its block was
explained or on an interrupted run resumed: with a seed, the same data gives the same maps,
bit for bit. The client alone reads images and writes maps, manifest and CSV; the blocks
are explained in this process or, with ``workers`` or ``scheduler``, on Dask workers
(:mod:`xaikit.datasets.distributed`).
"""

from __future__ import annotations

import os
import re
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import (
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
    Union,
)

import numpy as np

from xaikit.datasets.attribute import Attributed, Chunk, Executor, Item, Outcome, attribute_chunk
from xaikit.datasets.folder import folder_dataset
from xaikit.datasets.manifest import Manifest, manifest_path, model_fingerprint
from xaikit.datasets.nnc_csv import DatasetCSV, label_class, read_dataset_csv, write_csv
from xaikit.datasets.progress import progress_counter
from xaikit.engine.model import LoadedModel
from xaikit.plugin.errors import ImageError, ParameterError
from xaikit.plugin.explainer import Explainer
from xaikit.plugin.manager import registry
from xaikit.plugin.params import Params, RunParams, validate
from xaikit.run.classes import PREDICTED, class_names
from xaikit.run.explain import check_class_index, load_model
from xaikit.run.explanation import Explanation
from xaikit.run.images import load_image, read_image
from xaikit.run.outputs import SinkParams, choose_sinks, output_path, write_outputs

WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")
"""An absolute Windows path, as NNC on Windows writes image cells."""
MAP_SUFFIX = ".png"
"""Map names end as NNC's do; a sink that writes no PNG uses its own extension."""
CHUNK_SIZE = 32
"""Rows per :meth:`Explainer.explain_batch` call (a block) at most, by default."""
CHUNK_BYTES = 4 * 2**20
"""Preprocessed pixels per block at most, by default: a block of large images (a ResNet's
224x224, 602 KB each) holds fewer rows, so that it travels to a worker in one piece and
the work spreads over the workers."""
LABEL = "label"
"""The class of a row by default: the one its label names."""



@dataclass(frozen=True)
class RowFailure:
    """A row that has no map, and why."""

    row: int
    """0-based data row, as in map names."""
    path: str
    """The image path as the CSV writes it."""
    reason: str


@dataclass
class DatasetResult:
    """What a dataset run did."""

    output: Path
    """The output CSV."""
    maps: List[Optional[Path]]
    """Each row's map (None where the row failed)."""
    explained: int
    """Maps made by this run."""
    reused: int
    """Maps kept from an earlier run with the same settings."""
    failures: List[RowFailure]
    errors: Optional[Path]
    """The side file listing the failures (None when no row failed)."""
    seconds: float
    """Time spent explaining (the model's loading excluded)."""
    notes: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every row has its map."""
        return not self.failures

    def summary(self) -> str:
        """One line: ``smoothgrad.csv: 40 rows: 30 explained, 8 reused, 2 failed, 9.1 rows/s``."""
        rate = f", {self.explained / self.seconds:.1f} rows/s" if self.explained else ""
        return (f"{self.output}: {len(self.maps)} rows: {self.explained} explained, "
                f"{self.reused} reused, {len(self.failures)} failed{rate}")


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
    class_index: Union[int, str, None] = None,
    workers: Optional[int] = None,
    scheduler: Any = None,
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
        (a file, for ``workers`` and ``scheduler``: workers load it themselves).
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
    :param class_index: the class to explain: None, each row's label (a folder's rows:
        the predicted class); ``"predicted"``, the class the model predicts for each row;
        an index, that class for every row.
    :param workers: explain on a local Dask cluster of this many worker processes,
        started for the run and closed after (``pip install 'xaikit[dask]'``).
    :param scheduler: explain on an existing Dask cluster: its scheduler's address
        (``tcp://host:8786``) or a ``distributed.Client``.
    :param params: the explainer's parameters.
    :returns: the counts, failures and paths. A row that fails (unreadable image, bad
        label) does not stop the run; it is listed in ``<output stem>.errors.csv``.
    :raises XaikitError: before any work, for bad parameters, CSV or model; during a
        distributed run, when the scheduler is lost or a worker lacks the explainer
        (the maps finished so far are kept for the next run).
    """
    algorithm: Explainer = registry().get("explainer", explainer)
    checked = validate(algorithm.Params, params)
    run = validate(RunParams, {"input": os.fspath(input), "input_variable": input_variable,
                               "label_variable": label_variable, "overwrite": overwrite,
                               "workers": workers,
                               "scheduler": scheduler if isinstance(scheduler, str) else None})
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ParameterError(f"chunk_size: must be a positive integer (got {chunk_size!r})")
    folder = Path(run.input).is_dir()
    out = output_csv(output, explainer, Path(run.input))
    chosen = choose_sinks(Path("map" + MAP_SUFFIX), sinks, sink_params)
    if folder:
        data = folder_dataset(Path(run.input), out, run.input_variable)
    else:
        data = read_dataset_csv(run.input, run.input_variable, run.label_variable)
    loaded = load_model(model)
    classes = dataset_classes(class_index, loaded, folder)
    names = class_names(labels, loaded.num_classes)
    notes: List[str] = []

    def note(message: str) -> None:
        notes.append(message)
        if progress is not False:
            print(f"note: {message}", file=sys.stderr, flush=True)

    for message in loaded.notes:
        note(message)
    width = len(data.label_columns)
    if (classes == LABEL and loaded.num_classes > 1 and width > 1
            and width != loaded.num_classes):
        note(f"label_variable {run.label_variable!r} has {width} columns and {loaded.name} "
             f"{loaded.num_classes} outputs: every row explains class 0, as NNC does")
    settings = {"explainer": explainer, "params": checked.model_dump(mode="json"),
                "model": model_fingerprint(model, loaded),
                "sinks": {sink.name: p.model_dump(mode="json") for sink, p in chosen},
                "labels": names}
    if classes != LABEL:  # label runs keep the manifests of earlier versions
        settings["classes"] = classes
    outputs = ([sink.name for sink, _ in chosen], {sink.name: p.model_dump() for sink, p in chosen})
    with executor(algorithm, checked, model, loaded, workers, scheduler, note) as execute:
        manifest, redo = Manifest.load(manifest_path(out), settings, run.overwrite)
        if redo:
            note(redo)
        return _Run(algorithm, checked, loaded, data, out, manifest, note, notes, outputs,
                    names, classes).run(progress, chunk_size or default_chunk_size(loaded),
                                        execute)


def default_chunk_size(model: LoadedModel) -> int:
    """Rows per block: :data:`CHUNK_SIZE`, fewer for inputs larger than 32 KiB (a block
    holds :data:`CHUNK_BYTES` of float32 pixels at most), at least one."""
    pixels = 4 * int(np.prod(model.input_shape))
    return max(1, min(CHUNK_SIZE, CHUNK_BYTES // pixels))


def dataset_classes(class_index: Union[int, str, None], model: LoadedModel,
                    folder: bool) -> Union[int, str]:
    """What a dataset run explains: :data:`LABEL` (each row's label), ``"predicted"``, or
    one class index for every row. A folder has no labels: its rows' predicted class."""
    if class_index is None:
        return PREDICTED if folder else LABEL
    if class_index == LABEL:
        if folder:
            raise ParameterError("class_index: a folder has no labels: explain 'predicted' "
                                 "or a class index")
        return LABEL
    target = validate(RunParams, {"class_index": class_index}).class_index
    if isinstance(target, list):
        raise ParameterError("class_index: a dataset run explains one class per row: "
                             "an index, 'predicted' or (for a CSV) 'label'")
    if target != PREDICTED:
        check_class_index(target, model)
    return target


@contextmanager
def executor(algorithm: Explainer, params: Params, ref: Any, model: LoadedModel,
             workers: Optional[int], scheduler: Any,
             note: Callable[[str], None]) -> Iterator[Executor]:
    """Where chunks are explained: in this process, or on Dask workers."""
    if workers is None and scheduler is None:
        yield lambda chunks: ((chunk, attribute_chunk(algorithm, params, model, chunk.items))
                              for chunk in chunks)
        return
    try:
        from xaikit.datasets.distributed import dask_executor
    except ImportError as exc:
        option = "workers" if workers is not None else "scheduler"
        raise ParameterError(f"{option}: needs Dask ({exc.name or exc} is missing): "
                             f"pip install 'xaikit[dask]'") from None
    with dask_executor(algorithm, params, ref, workers, scheduler, note) as execute:
        yield execute


def output_csv(output: Union[str, "os.PathLike[str]", None], explainer: str, input: Path) -> Path:
    """The output CSV: ``output`` or ``<explainer>.csv``; a CSV, and not the input."""
    path = Path(output if output is not None else f"{explainer}.csv")
    if path.suffix.lower() != ".csv":
        raise ParameterError(f"output: a dataset run writes a .csv file (got {path})")
    if path.resolve() == input.resolve():
        raise ParameterError(f"output: {path} is the input CSV; choose another output")
    return path


def map_file(output: Path, row: int) -> Path:
    """Where ``row``'s map goes: ``smoothgrad.csv``, 1234 -> ``smoothgrad/0001/1234.png``."""
    return output.with_suffix("") / f"{row // 1000:04d}" / f"{row}{MAP_SUFFIX}"


def map_files(output: Path, row: int, sinks: Sequence[str]) -> List[Path]:
    """``row``'s file from each sink, named as :func:`xaikit.write_outputs` names them."""
    base = map_file(output, row)
    return [output_path(base, registry().get("sink", name), several_sinks=len(sinks) > 1)
            for name in sinks]


def errors_file(output: Path) -> Path:
    """``smoothgrad.csv`` -> ``smoothgrad.errors.csv``."""
    return output.with_suffix(".errors.csv")


def column_name(explainer: Explainer) -> str:
    """The output CSV's first column: the explainer's ``nnc_column``, else its class name."""
    return explainer.nnc_column or type(explainer).__name__


class _Run:
    """One dataset run, from the rows to do to the output CSV."""

    def __init__(self, algorithm: Explainer, params: Params, model: LoadedModel,
                 data: DatasetCSV, output: Path, manifest: Manifest,
                 note: Callable[[str], None], notes: List[str],
                 outputs: Tuple[List[str], Dict[str, Dict[str, Any]]],
                 names: Optional[List[str]], classes: Union[int, str]) -> None:
        self.algorithm, self.params, self.model = algorithm, params, model
        self.data, self.output, self.manifest = data, output, manifest
        self.note, self.notes = note, notes
        self.sinks, self.sink_params = outputs
        self.names, self.mode = names, classes
        self.originals: Dict[int, Any] = {}
        self.dumped_params = params.model_dump()
        self.maps: List[Optional[Path]] = [None] * len(data.rows)
        self.failures: Dict[int, RowFailure] = {}
        self.classes: Dict[int, Optional[int]] = {}
        """Row -> the class to explain (None: the predicted one), for rows with a label."""
        self.saved = 0
        """Rows done by this run: explained, or failed."""
        self.entries: Dict[int, Optional[Dict[str, Any]]] = {}
        """Row -> what its map depends on, as planned (see :meth:`_entry`)."""

    def run(self, show: Optional[bool], chunk_size: int, execute: Executor) -> DatasetResult:
        todo = self._plan()
        reused = sum(path is not None for path in self.maps)
        counter = progress_counter(len(self.maps), len(self.maps) - len(todo),
                                   self.algorithm.name, show)
        start = time.monotonic()
        self.manifest.begin()
        pending: List[Future] = []
        try:
            # One chunk's maps are written while the next chunk is explained.
            with ThreadPoolExecutor(max_workers=1) as writer:
                try:
                    for chunk, outcomes in execute(self._chunks(todo, chunk_size)):
                        pending.append(writer.submit(self._save, chunk, outcomes))
                        while len(pending) > 1:
                            counter.update(pending[0].result())
                            pending.pop(0)
                finally:
                    for saving in pending:
                        counter.update(saving.result())
        finally:
            counter.close()
            self.manifest.close()
            if self.saved < len(todo):  # interrupted: the manifest lists every finished map
                self.note(f"stopped after {self.saved} of {len(todo)} rows; the same "
                          "command resumes")
        seconds = time.monotonic() - start
        self._finish()
        failures = [self.failures[row] for row in sorted(self.failures)]
        explained = sum(path is not None for path in self.maps) - reused
        return DatasetResult(self.output, self.maps, explained, reused, failures,
                             errors_file(self.output) if failures else None, seconds,
                             self.notes)

    def _plan(self) -> List[int]:
        """Check every row's label; keep the maps of rows done before; return the rest."""
        todo = []
        for row in range(len(self.data.rows)):
            image = self.data.image_cell(row)
            try:
                if not image:
                    raise ValueError("the image path is empty")
                self.classes[row] = self._class(row)
            except ValueError as exc:
                self._fail(row, str(exc))
                continue
            paths = map_files(self.output, row, self.sinks)
            entry = self.entries[row] = self._entry(row)
            if (entry is not None and self.manifest.is_done(row, entry)
                    and all(path.is_file() for path in paths)):
                self.maps[row] = paths[0]
            else:
                todo.append(row)
        return todo

    def _class(self, row: int) -> Optional[int]:
        if self.mode == LABEL:
            return label_class(self.data.label_cells(row), self.model.num_classes)
        return None if self.mode == PREDICTED else int(self.mode)

    def _chunks(self, todo: List[int], size: int) -> Iterator[Chunk]:
        """The rows to do, by block of ``size`` rows (rows 0 to size - 1, ...), their
        images read; a row whose image cannot be read fails here."""
        blocks: Dict[int, List[int]] = {}
        for row in todo:
            blocks.setdefault(row // size, []).append(row)
        for rows in blocks.values():
            items = []
            for row in rows:
                path = self.data.image_path(row)
                try:
                    original = read_image(path)
                    items.append(Item(row, load_image(original, self.model), self.classes[row]))
                    self.originals[row] = original  # for sinks that overlay the map on it
                except ImageError as exc:
                    self._fail(row, _reason(exc, path, self.data.image_cell(row)))
            yield Chunk(items, len(rows))

    def _save(self, chunk: Chunk, outcomes: List[Outcome]) -> int:
        """Write the maps of a chunk and record them in the manifest; returns its rows."""
        pixels = {item.row: item.pixels for item in chunk.items}
        for outcome in outcomes:
            row = outcome.row
            if not isinstance(outcome, Attributed):
                self._fail(row, outcome.reason)
                continue
            index = outcome.class_index
            explanation = Explanation(
                attribution=outcome.attribution.values, input=pixels[row], class_index=index,
                explainer=self.algorithm.name, params=self.dumped_params,
                model=self.model.name, score=outcome.score,
                class_name=self.names[index] if self.names else None,
                image=self.originals.pop(row, None),
                reported={"row": row, "image": self.data.image_cell(row),
                          **outcome.attribution.metadata},
            )
            written = write_outputs(explanation, map_file(self.output, row), self.sinks,
                                    self.sink_params)
            self.maps[row] = written[0].path
            entry = self.entries[row]  # as planned: an image changed since is redone next time
            if entry is not None:
                self.manifest.add(row, {**entry, "class": index, "score": outcome.score})
        self.manifest.flush()
        self.saved += chunk.rows
        return chunk.rows

    def _fail(self, row: int, reason: str) -> None:
        self.failures[row] = RowFailure(row, self.data.image_cell(row), reason)
        self.manifest.forget(row)
        self.originals.pop(row, None)  # a row the explainer failed keeps no image
        for stale in map_files(self.output, row, self.sinks):
            if stale.is_file():
                stale.unlink()

    def _entry(self, row: int) -> Optional[Dict[str, Any]]:
        """What ``row``'s map depends on besides the settings: the image file and, unless
        the model predicts it, the class."""
        try:
            stat = self.data.image_path(row).stat()
        except OSError:
            return None
        entry: Dict[str, Any] = {"image": self.data.image_cell(row), "size": stat.st_size,
                                 "mtime_ns": stat.st_mtime_ns}
        if self.classes[row] is not None:
            entry["class"] = self.classes[row]
        return entry

    def _finish(self) -> None:
        """Write the output CSV, the errors file (or remove a stale one), the manifest."""
        relative = Path(self.output.name)
        column = column_name(self.algorithm)
        header = ([column] + [f"{column}.{sink}" for sink in self.sinks[1:]]
                  + self.data.header + ["class:explained"]
                  + (["class_name:explained"] if self.names else []) + ["score:model output"])
        table = [header]
        for row, (path, cells) in enumerate(zip(self.maps, self.data.rows)):
            done = self.manifest.done.get(row) if path is not None else None
            files = ([p.as_posix() for p in map_files(relative, row, self.sinks)] if done
                     else [""] * len(self.sinks))
            index = done.get("class") if done else None
            facts = ["" if index is None else str(index)]
            if self.names:
                facts.append("" if index is None else self.names[index])
            score = done.get("score") if done else None
            facts.append("" if score is None else f"{score:.6g}")
            table.append(files + cells + facts)
        write_csv(self.output, table)
        errors = errors_file(self.output)
        if self.failures:
            write_csv(errors, [["row", "path", "reason"]] + [
                [str(f.row), f.path, f.reason] for _, f in sorted(self.failures.items())])
        elif errors.is_file():
            errors.unlink()
        self.manifest.compact(list(range(len(self.maps))))


def _reason(exc: ImageError, path: Path, cell: str) -> str:
    """``image: /data/a.png: no such file`` -> ``no such file``; a missing Windows path
    (NNC on Windows writes ``C:\\...``) says so."""
    text = str(exc)
    prefix = f"image: {path}: "
    reason = text[len(prefix):] if text.startswith(prefix) else text
    if reason == "no such file" and WINDOWS_DRIVE.match(cell) and os.sep == "/":
        return ("no such file: a Windows path from the machine that wrote the CSV; copy the "
                "images here and give paths relative to the CSV's folder")
    return reason
