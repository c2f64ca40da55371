"""Saving a dataset run as it goes: each attributed row's files through the sinks and its
line in the manifest, and the files of failed rows removed."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Sequence, Union

from xaikit.datasets.attribute import Attributed, Refused
from xaikit.datasets.layout import map_file, map_files
from xaikit.datasets.load import LoadedChunk
from xaikit.datasets.manifest import Manifest
from xaikit.datasets.nnc_csv import DatasetCSV
from xaikit.datasets.plan import row_entry
from xaikit.datasets.result import RowFailure
from xaikit.run.explanation import Context, write_explanations
from xaikit.run.outputs import SinkChoice


class RowWriter:
    """Writes the rows of one dataset run and records them: :attr:`maps` and
    :attr:`failures` are what the output CSV and the errors file list."""

    def __init__(self, data: DatasetCSV, output: Path, sinks: Sequence[SinkChoice],
                 context: Context, manifest: Manifest) -> None:
        self.data, self.output, self.sinks = data, output, sinks
        self.context, self.manifest = context, manifest
        self.maps: Dict[int, Path] = {}
        """Each row's first file, for rows that have their files."""
        self.failures: Dict[int, RowFailure] = {}

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
            written = write_explanations(explanation, map_file(self.output, row), self.sinks)
            self.maps[row] = written[0].path
            entry = row_entry(self.data, row, result.class_index)
            if entry is not None:  # else the image vanished meanwhile: redo the row next time
                self.manifest.add(row, {**entry, "score": result.score})
        self.manifest.flush()
        return len(chunk.inputs) + len(chunk.failures)

    def fail(self, failure: RowFailure) -> None:
        """Record a failed row: it leaves the manifest and its files from earlier runs go."""
        self.failures[failure.row] = failure
        self.manifest.forget(failure.row)
        for stale in map_files(self.output, failure.row, self.sinks):
            if stale.is_file():
                stale.unlink()
