"""The report's curves: each metric's mean curve per explainer, drawn with matplotlib."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from xaikit.evaluation.report import ReportRow
from xaikit.plugin.errors import ParameterError
from xaikit.run.outputs import write_atomically

PANEL_INCHES = (4.2, 3.4)
"""Width and height of one metric's panel."""
LINE_STYLES = ("-", "--", "-.", ":")
"""Explainer after explainer, so that curves that coincide (the controls') stay visible."""


def plot_curves(
    rows: Sequence[ReportRow],
    path: Union[str, "os.PathLike[str]"],
    directions: Optional[Dict[str, Optional[bool]]] = None,
) -> Path:
    """A panel per metric that reports curves (deletion, insertion, randomization), a line
    per explainer: the mean over the images of its curves; one legend below them.

    :raises ParameterError: no row has a curve (the metrics chosen draw none).
    """
    from matplotlib.figure import Figure  # no pyplot: no global state, no display needed

    curves: Dict[str, Dict[str, List[dict]]] = {}
    for row in rows:
        if "curve" in row.detail:
            curves.setdefault(row.metric, {}).setdefault(row.explainer, []).append(
                row.detail["curve"])
    if not curves:
        raise ParameterError("none of the metrics draws a curve (deletion, insertion and "
                             "randomization do)", subject="plot")
    arrows = {True: " (higher is better)", False: " (lower is better)", None: ""}
    figure = Figure(figsize=(PANEL_INCHES[0] * len(curves), PANEL_INCHES[1]),
                    layout="constrained")
    axes = figure.subplots(1, len(curves), squeeze=False)[0]
    for ax, (metric, by_explainer) in zip(axes, curves.items()):
        first = next(iter(by_explainer.values()))[0]
        x = first["x"]
        numeric = all(isinstance(v, (int, float)) for v in x)
        positions = x if numeric else list(range(len(x)))
        for index, (explainer, items) in enumerate(by_explainer.items()):
            ys = [item["y"] for item in items if item["x"] == x]
            ax.plot(positions, np.mean(ys, axis=0), label=explainer,
                    marker=None if numeric else "o", linestyle=LINE_STYLES[index % 4])
        if not numeric:
            ax.set_xticks(positions, [str(v) for v in x], rotation=30, ha="right",
                          fontsize="small")
        ax.set_title(metric + arrows[(directions or {}).get(metric)])
        ax.set_xlabel(first.get("x_label", ""))
        ax.set_ylabel(first.get("y_label", ""))
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=len(labels))
    path = Path(path)
    write_atomically(path, lambda tmp: figure.savefig(tmp, dpi=100, format=_format(path),
                                                      metadata=_metadata(path)))
    return path


def check_plot_path(path: Union[str, "os.PathLike[str]"]) -> None:
    """Refuse, before any work, a file type matplotlib does not write."""
    from matplotlib.backend_bases import FigureCanvasBase

    kinds = FigureCanvasBase.get_supported_filetypes()
    if _format(Path(path)) not in kinds:
        suffix = Path(path).suffix or "files without an extension"
        raise ParameterError(f"matplotlib does not write {suffix} (it writes "
                             f".{', .'.join(sorted(kinds))})", subject="plot")


def _format(path: Path) -> str:
    return path.suffix.lower().lstrip(".") or "png"


def _metadata(path: Path) -> Optional[dict]:
    """No software version in PNGs: the same figure gives the same file."""
    return {"Software": None} if _format(path) == "png" else None
