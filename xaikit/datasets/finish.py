"""Finishing a dataset run: the output CSV, the errors file, the manifest compacted."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from xaikit.datasets.layout import errors_file, map_files
from xaikit.datasets.nnc_csv import write_csv
from xaikit.datasets.save import RowWriter


def finish(writer: RowWriter, column: str) -> Optional[Path]:
    """Write the output CSV, the errors file (or remove a stale one) and the manifest with
    the rows that have their files; returns the errors file, None when no row failed.

    The output CSV is the input CSV with ``column`` first, holding each row's map
    relative to the output CSV's folder (empty for a failed row), a column per further
    sink (``<column>.<sink>``), and at the end the class explained, its name when
    labels were given, the model's score for it and, for maps made from noisy samples,
    their samples and stability.
    """
    data, output, sinks = writer.data, writer.output, writer.sinks
    names = writer.context.names
    done_rows = writer.manifest.done
    relative = Path(output.name)
    noisy = any("stability" in entry for entry in done_rows.values())
    header = ([column] + [f"{column}.{choice.sink.name}" for choice in sinks[1:]]
              + data.header + ["class:explained"]
              + (["class_name:explained"] if names else []) + ["score:model output"]
              + (["samples:noisy copies", "stability:split-half"] if noisy else []))
    table = [header]
    for row, cells in enumerate(data.rows):
        done = row in writer.maps and row in done_rows
        files = ([p.as_posix() for p in map_files(relative, row, sinks)] if done
                 else [""] * len(sinks))
        recorded = done_rows[row] if done else {}
        index = recorded.get("class")
        facts = ["" if index is None else str(index)]
        if names:
            facts.append("" if index is None else names[index])
        facts.append(_cell(recorded.get("score"), "{:.6g}"))
        if noisy:
            facts += [_cell(recorded.get("samples"), "{}"),
                      _cell(recorded.get("stability"), "{:.4f}")]
        table.append(files + cells + facts)
    write_csv(output, table)
    errors = errors_file(output)
    if writer.failures:
        write_csv(errors, [["row", "path", "reason"]] + [
            [str(f.row), f.path, f.reason] for _, f in sorted(writer.failures.items())])
    elif errors.is_file():
        errors.unlink()
    writer.manifest.compact(list(range(len(data.rows))))
    return errors if writer.failures else None


def _cell(value: Optional[float], form: str) -> str:
    """A CSV cell: ``value`` in ``form``, empty for None."""
    return "" if value is None else form.format(value)
