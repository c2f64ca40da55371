"""Planning a dataset run: each row's class from its label, and the rows an earlier run
with the same settings already explained (from the manifest), which are kept."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from xaikit.datasets.layout import map_files
from xaikit.datasets.manifest import Manifest
from xaikit.datasets.nnc_csv import DatasetCSV, label_class
from xaikit.datasets.result import RowFailure
from xaikit.run.outputs import SinkChoice


@dataclass
class Plan:
    """The rows to explain and what is known of the others."""

    todo: List[int] = field(default_factory=list)
    classes: Dict[int, int] = field(default_factory=dict)
    """Each row's class, for every row whose label names one."""
    reused: Dict[int, Path] = field(default_factory=dict)
    """The first map of each row kept from an earlier run."""
    failures: List[RowFailure] = field(default_factory=list)
    """Rows without an image path or with a label that names no class."""


def plan_rows(data: DatasetCSV, num_classes: int, output: Path, sinks: Sequence[SinkChoice],
              manifest: Manifest) -> Plan:
    """Check every row's label; keep the maps of rows done before with the same image
    and class whose files are all in place; plan the rest."""
    plan = Plan()
    for row in range(len(data.rows)):
        image = data.image_cell(row)
        try:
            if not image:
                raise ValueError("the image path is empty")
            plan.classes[row] = label_class(data.label_cells(row), num_classes)
        except ValueError as exc:
            plan.failures.append(RowFailure(row, image, str(exc)))
            continue
        paths = map_files(output, row, sinks)
        entry = row_entry(data, row, plan.classes[row])
        if (entry is not None and manifest.is_done(row, entry)
                and all(path.is_file() for path in paths)):
            plan.reused[row] = paths[0]
        else:
            plan.todo.append(row)
    return plan


def row_entry(data: DatasetCSV, row: int, class_index: int) -> Optional[Dict[str, Any]]:
    """What ``row``'s map depends on besides the settings: the image file and the class
    (None when the image is missing)."""
    try:
        stat = data.image_path(row).stat()
    except OSError:
        return None
    return {"image": data.image_cell(row), "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns, "class": class_index}
