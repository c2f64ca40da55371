"""An evaluation's report: one row per image, explainer and metric; its CSV and the table of
each metric's mean with a 95% confidence interval per explainer."""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from scipy import stats

from xaikit.run.outputs import write_atomically

COLUMNS = ("image", "explainer", "metric", "value", "class", "error", "detail")
"""The report CSV's header."""


@dataclass(frozen=True)
class ReportRow:
    """One metric's value for one explainer's map of one image."""

    image: str
    """The image as the input names it (its path, CSV cell, or path in the folder)."""
    explainer: str
    metric: str
    value: Optional[float]
    """None when the row failed."""
    class_index: Optional[int]
    """The class explained; None when the image could not be read."""
    error: str = ""
    """Why the row has no value: the explainer or metric failed on the image, or the image
    or its label is unusable. Empty for a row with a value."""
    detail: Dict[str, Any] = field(default_factory=dict)
    """What the metric found besides the value: its ``curve`` (``x``, ``y``, axis labels)
    and anything else it reported."""


def write_report(rows: Sequence[ReportRow], path: Union[str, "os.PathLike[str]"]) -> Path:
    """Write ``rows`` as CSV with :data:`COLUMNS`; ``detail`` as compact JSON."""
    path = Path(path)

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(COLUMNS)
            for row in rows:
                writer.writerow([
                    row.image, row.explainer, row.metric,
                    "" if row.value is None else repr(row.value),
                    "" if row.class_index is None else row.class_index,
                    row.error,
                    json.dumps(row.detail, separators=(",", ":")) if row.detail else "",
                ])

    write_atomically(path, write)
    return path


def read_report(path: Union[str, "os.PathLike[str]"]) -> List[ReportRow]:
    """The rows of a report CSV that :func:`write_report` wrote."""
    with open(path, encoding="utf-8", newline="") as f:
        return [ReportRow(r["image"], r["explainer"], r["metric"],
                          float(r["value"]) if r["value"] else None,
                          int(r["class"]) if r["class"] else None, r["error"],
                          json.loads(r["detail"]) if r["detail"] else {})
                for r in csv.DictReader(f)]


@dataclass(frozen=True)
class Summary:
    """One metric's values for one explainer: their mean and 95% confidence interval."""

    mean: float
    half_width: float
    """Half the width of the 95% confidence interval of the mean (Student's t); NaN for
    fewer than two values."""
    count: int
    failed: int


def summarize(rows: Sequence[ReportRow]) -> Dict[Tuple[str, str], Summary]:
    """Per ``(explainer, metric)``, the mean of the values and its 95% confidence interval."""
    values: Dict[Tuple[str, str], List[float]] = {}
    failed: Dict[Tuple[str, str], int] = {}
    for row in rows:
        key = (row.explainer, row.metric)
        values.setdefault(key, [])
        if row.value is None:
            failed[key] = failed.get(key, 0) + 1
        else:
            values[key].append(row.value)
    return {key: _summary(np.array(v), failed.get(key, 0)) for key, v in values.items()}


def _summary(values: np.ndarray, failed: int) -> Summary:
    n = len(values)
    if n == 0:
        return Summary(math.nan, math.nan, 0, failed)
    if n == 1:
        return Summary(float(values[0]), math.nan, 1, failed)
    sem = float(np.std(values, ddof=1)) / math.sqrt(n)
    return Summary(float(values.mean()), float(stats.t.ppf(0.975, n - 1)) * sem, n, failed)


def summary_table(rows: Sequence[ReportRow], directions: Dict[str, Optional[bool]]) -> str:
    """The terminal's table: an explainer per line, a metric per column, ``mean ± half-width``.

    :param directions: per metric, whether higher is better (None: neither).
    """
    explainers = list(dict.fromkeys(row.explainer for row in rows))
    metrics = list(dict.fromkeys(row.metric for row in rows))
    summaries = summarize(rows)
    arrows = {True: " ↑", False: " ↓", None: ""}
    header = [""] + [m + arrows[directions.get(m)] for m in metrics]
    table = [header]
    for explainer in explainers:
        table.append([explainer] + [_cell(summaries.get((explainer, m))) for m in metrics])
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip()
             for line in table]
    images = len(dict.fromkeys(row.image for row in rows))
    failed = sum(row.value is None for row in rows)
    lines.append(f"mean ± 95% confidence interval over {images} image"
                 f"{'s' if images != 1 else ''}; ↑ higher is better, ↓ lower is better"
                 + (f"; {failed} rows failed" if failed else ""))
    return "\n".join(lines)


def _cell(summary: Optional[Summary]) -> str:
    if summary is None or summary.count == 0:
        return "failed"
    text = f"{summary.mean:.3f}"
    text += f" ± {summary.half_width:.3f}" if not math.isnan(summary.half_width) else ""
    return text + (f" ({summary.failed} failed)" if summary.failed else "")
