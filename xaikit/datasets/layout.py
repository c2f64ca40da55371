"""Where a dataset run's files go: the output CSV, each row's maps, the errors file, and
the output CSV's first column.

Each row's map goes to ``<output without extension>/<row // 1000, 4 digits>/<row>.png``
(with several sinks, ``<row>.<sink>.<ext>``, as :mod:`xaikit.run.outputs` names files).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Sequence, Union

from xaikit.plugin.errors import ParameterError
from xaikit.plugin.explainer import Explainer
from xaikit.run.outputs import SinkChoice, output_path

MAP_SUFFIX = ".png"
"""Map names end as NNC's do; a sink that writes no PNG uses its own extension."""


def output_csv(output: Union[str, "os.PathLike[str]", None], explainer: str, input: Path) -> Path:
    """The output CSV: ``output`` or ``<explainer>.csv``; a CSV, and not the input."""
    path = Path(output if output is not None else f"{explainer}.csv")
    if path.is_dir():
        raise ParameterError(f"is a folder; name a CSV file in it, such as "
                             f"{path / (explainer + '.csv')}", subject="output", path=path)
    if path.suffix.lower() != ".csv":
        raise ParameterError(f"a dataset run writes a .csv file (got {path})", subject="output")
    if path.resolve() == input.resolve():
        raise ParameterError(f"{path} is the input CSV; choose another output", subject="output")
    return path


def map_file(output: Path, row: int) -> Path:
    """Where ``row``'s map goes: ``smoothgrad.csv``, 1234 -> ``smoothgrad/0001/1234.png``."""
    return output.with_suffix("") / f"{row // 1000:04d}" / f"{row}{MAP_SUFFIX}"


def map_files(output: Path, row: int, sinks: Sequence[SinkChoice]) -> List[Path]:
    """``row``'s file from each sink, named as :func:`xaikit.write_outputs` names them."""
    base = map_file(output, row)
    return [output_path(base, choice.sink, several_sinks=len(sinks) > 1, made=True)
            for choice in sinks]


def errors_file(output: Path) -> Path:
    """``smoothgrad.csv`` -> ``smoothgrad.errors.csv``."""
    return output.with_suffix(".errors.csv")


def column_name(explainer: Explainer) -> str:
    """The output CSV's first column: the explainer's ``nnc_column``, else its registered
    name (a column that renaming a Python class does not change)."""
    return explainer.nnc_column or explainer.name
