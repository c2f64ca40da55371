"""Planning a dataset run: each row's class (from its label, or one for every row, or the
predicted one), and the rows an earlier run with the same settings already explained (from
the manifest), which are kept."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

from xaikit.datasets.layout import map_files
from xaikit.datasets.manifest import Manifest
from xaikit.datasets.nnc_csv import DatasetCSV, label_class
from xaikit.datasets.result import RowFailure
from xaikit.run.classes import PREDICTED
from xaikit.run.outputs import SinkChoice
from xaikit.run.request import LABEL


@dataclass
class Plan:
    """The rows to explain and what is known of the others."""

    todo: List[int] = field(default_factory=list)
    classes: Dict[int, Optional[int]] = field(default_factory=dict)
    """Each row's class (None: the predicted one), for every row that has one."""
    entries: Dict[int, Optional[Dict[str, Any]]] = field(default_factory=dict)
    """What each row's map depends on, as planned (:func:`row_entry`): a map made from an
    image changed after planning does not count as done."""
    reused: Dict[int, Path] = field(default_factory=dict)
    """The first map of each row kept from an earlier run."""
    failures: List[RowFailure] = field(default_factory=list)
    """Rows without an image path or with a label that names no class."""


def plan_rows(data: DatasetCSV, num_classes: int, output: Path, sinks: Sequence[SinkChoice],
              manifest: Manifest, classes: Union[int, str] = LABEL) -> Plan:
    """Check every row's label (with ``classes`` :data:`LABEL`; ``"predicted"`` and an
    index need none); keep the maps of rows done before with the same image and class
    whose files are all in place; plan the rest."""
    plan = Plan()
    for row in range(len(data.rows)):
        image = data.image_cell(row)
        try:
            if not image:
                raise ValueError("the image path is empty")
            plan.classes[row] = (label_class(data.label_cells(row), num_classes)
                                 if classes == LABEL else
                                 None if classes == PREDICTED else int(classes))
        except ValueError as exc:
            plan.failures.append(RowFailure(row, image, str(exc)))
            continue
        paths = map_files(output, row, sinks)
        entry = plan.entries[row] = row_entry(data, row, plan.classes[row])
        if (entry is not None and manifest.is_done(row, entry)
                and all(path.is_file() for path in paths)):
            plan.reused[row] = paths[0]
        else:
            plan.todo.append(row)
    return plan


def row_entry(data: DatasetCSV, row: int,
              class_index: Optional[int]) -> Optional[Dict[str, Any]]:
    """What ``row``'s map depends on besides the settings: the image file and, unless the
    model predicts it, the class (None when the image is missing)."""
    try:
        stat = data.image_path(row).stat()
    except OSError:
        return None
    entry: Dict[str, Any] = {"image": data.image_cell(row), "size": stat.st_size,
                             "mtime_ns": stat.st_mtime_ns}
    if class_index is not None:
        entry["class"] = class_index
    return entry
