"""Saving a dataset run as it goes: each attributed row's files through the sinks and its
line in the manifest, and the files of failed rows removed."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Union

from xaikit.datasets.attribute import Attributed, Refused
from xaikit.datasets.layout import map_file, map_files
from xaikit.datasets.load import LoadedChunk
from xaikit.datasets.manifest import Manifest
from xaikit.datasets.nnc_csv import DatasetCSV
from xaikit.datasets.result import SETTLING, RowFailure
from xaikit.run.explanation import Context, write_explanations
from xaikit.run.outputs import SinkChoice


class RowWriter:
    """Writes the rows of one dataset run and records them: :attr:`maps` and
    :attr:`failures` are what the output CSV and the errors file list."""

    def __init__(self, data: DatasetCSV, output: Path, sinks: Sequence[SinkChoice],
                 context: Context, manifest: Manifest,
                 entries: Mapping[int, Optional[Dict[str, Any]]]) -> None:
        self.data, self.output, self.sinks = data, output, sinks
        self.context, self.manifest, self.entries = context, manifest, entries
        self.maps: Dict[int, Path] = {}
        """Each row's first file, for rows that have their files."""
        self.failures: Dict[int, RowFailure] = {}
        self.saved = 0
        """Rows of the chunks saved: written, or failed."""
        self.settling: Dict[int, Dict[str, Any]] = {}
        """What the maps made from noisy samples report of them, by row."""

    def save(self, chunk: LoadedChunk, results: Sequence[Union[Attributed, Refused]]) -> int:
        """Write the files of a chunk and record them in the manifest; returns the
        chunk's number of rows."""
        for failure in chunk.failures:
            self.fail(failure)
        pixels = {item.row: item.pixels for item in chunk.inputs}
        for result in results:
            row = result.row
            if isinstance(result, Refused):
                self.fail(RowFailure(row, self.data.image_cell(row), result.reason))
                continue
            explanation = self.context.explanation(
                pixels[row], result.class_index, result.attribution, result.score,
                image=chunk.originals.get(row),
                facts={"row": row, "image": self.data.image_cell(row)})
            written = write_explanations(explanation, map_file(self.output, row), self.sinks,
                                         made=True)
            self.maps[row] = written[0].path
            metadata = result.attribution.metadata
            settling = {k: metadata[k] for k in SETTLING if k in metadata}
            if "samples" in settling:
                self.settling[row] = settling
            entry = self.entries.get(row)  # as planned (see Plan.entries)
            if entry is not None:  # else the image vanished meanwhile: redo the row next time
                self.manifest.add(row, {**entry, "class": result.class_index,
                                        "score": result.score, **settling})
        self.manifest.flush()
        rows = len(chunk.inputs) + len(chunk.failures)
        self.saved += rows  # here, in the saving thread: the count is the manifest's
        return rows

    def fail(self, failure: RowFailure) -> None:
        """Record a failed row: it leaves the manifest and its files from earlier runs go."""
        self.failures[failure.row] = failure
        self.manifest.forget(failure.row)
        for stale in map_files(self.output, failure.row, self.sinks):
            if stale.is_file():
                stale.unlink()
