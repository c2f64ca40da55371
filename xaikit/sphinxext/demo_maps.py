"""``.. xaikit-demo::``: input images beside the maps an explainer draws for them.

The maps are computed when the docs are built, through the Python API and the sink that
writes ``.png`` files (or ``:sink:``), so the pictures show what users get.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
from docutils import nodes
from docutils.parsers.rst import directives
from PIL import Image
from sphinx.util.docutils import SphinxDirective

from xaikit.engine.model import LoadedModel
from xaikit.plugin.errors import XaikitError
from xaikit.run.explain import explain, load_model
from xaikit.run.images import load_image

LEFT_OUT = "none"
"""A ``:vary:`` value that leaves the parameter out: its default (no smoothing for
``smooth_samples``, and then the other ``smooth_`` options, which apply only with it)."""


def _run_params(params: Dict[str, str], vary: Optional[str], value: Optional[str]
                ) -> Dict[str, str]:
    """``params`` with ``vary`` set to ``value``, or left out (:data:`LEFT_OUT`)."""
    if not vary:
        return params
    if value != LEFT_OUT:
        return {**params, vary: value}
    if vary == "smooth_samples":
        return {k: v for k, v in params.items() if not k.startswith("smooth_")}
    return {k: v for k, v in params.items() if k != vary}


class DemoMapsDirective(SphinxDirective):
    """``.. xaikit-demo:: IMAGE [IMAGE ...]``: a row per image, the input then its maps.

    Paths are relative to the document, or to the source folder with a leading ``/``.
    Options: ``:model:`` (default: the ``xaikit_demo_model`` config value), ``:explainer:``
    (default ``smoothgrad``), ``:class-index:`` (default: each image's predicted class),
    ``:params: name=value ...``, ``:vary: name value value ...`` (a map per value, a
    parameter or ``class_index``; ``none`` leaves the parameter out, and with
    ``smooth_samples`` the other ``smooth_`` parameters), ``:sink:`` and
    ``:zoom:`` (pixel size, default 4).
    A map that reports its stability has it written below.
    """

    required_arguments = 1
    optional_arguments = 99
    option_spec = {
        "model": directives.unchanged_required,
        "explainer": directives.unchanged_required,
        "class-index": directives.nonnegative_int,
        "params": directives.unchanged,
        "vary": directives.unchanged_required,
        "sink": directives.unchanged_required,
        "zoom": directives.positive_int,
    }

    def run(self) -> List[nodes.Node]:
        self.env.note_reread()  # the maps change with the explainer's code, not only with files
        try:
            return self._figure()
        except (XaikitError, ValueError) as exc:
            raise self.error(f"xaikit-demo: {exc}") from None

    def _figure(self) -> List[nodes.Node]:
        explainer = self.options.get("explainer", "smoothgrad")
        model_ref = self.options.get("model") or self.config.xaikit_demo_model
        if not model_ref:
            raise ValueError("no :model: and no xaikit_demo_model in conf.py")
        model_path = self._source_path(model_ref if "model" in self.options else "/" + model_ref)
        model = _load(model_path, model_path.stat().st_mtime)
        params = _assignments(self.options.get("params", ""))
        vary, *values = self.options.get("vary", "").split() or [None]
        if vary and not values:
            raise ValueError(f":vary: {vary} has no values")

        labels = [f"{vary}={v}" for v in values] if vary else [explainer]
        rows = [["input"] + labels]
        sink = self.options.get("sink")
        for image_ref in self.arguments:
            image_path = self._source_path(image_ref)
            class_index = self.options.get("class-index")
            if class_index is None and vary != "class_index":
                class_index = int(model.predict(load_image(image_path, model)[None]).argmax())
            runs = [{"class_index": class_index, **_run_params(params, vary, v)}
                    for v in values or [None]]
            maps = [explain(explainer, model=model, image=image_path, **run) for run in runs]
            title = image_path.name + ("" if vary == "class_index" else f", class {class_index}")
            rows.append(
                [[self._picture(_input_picture(maps[0].input, model), image_path.name),
                  nodes.paragraph(text=title)]]
                + [[self._picture(_map_picture(exp, sink), f"{label}: {image_path.name}")]
                   + _note(exp) for exp, label in zip(maps, labels)])
        given = ", ".join(f"{k}={v}" for k, v in params.items())
        caption = nodes.paragraph(text=f"{explainer} on {model.name}" +
                                  (f" with {given}" if given else "") + ".",
                                  classes=["xaikit-demo-caption"])
        return [_table(rows), caption]

    def _source_path(self, ref: str) -> Path:
        path = Path(self.env.relfn2path(ref, self.env.docname)[1])
        if not path.is_file():
            raise ValueError(f"{ref}: no such file ({path})")
        self.env.note_dependency(str(path))
        return path

    def _picture(self, picture: Image.Image, alt: str) -> nodes.image:
        """``picture`` enlarged, saved under a name made from its pixels; a node showing it."""
        zoom = self.options.get("zoom", 4)
        width, height = picture.size
        png = io.BytesIO()
        picture.resize((width * zoom, height * zoom), Image.NEAREST).save(png, format="PNG")
        digest = hashlib.sha1(png.getvalue()).hexdigest()[:20]
        out = Path(self.env.doctreedir) / "xaikit-demo" / f"{digest}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(png.getvalue())
        uri = "/" + Path(os.path.relpath(out, self.env.srcdir)).as_posix()
        return nodes.image(uri=uri, alt=alt)


@functools.lru_cache(maxsize=None)
def _load(path: Path, mtime: float) -> LoadedModel:
    return load_model(path)


def _assignments(text: str) -> Dict[str, str]:
    """``"num_samples=50 seed=0"`` -> ``{"num_samples": "50", "seed": "0"}``."""
    pairs = [word.partition("=") for word in text.split()]
    bad = [name for name, eq, _ in pairs if not (name and eq)]
    if bad:
        raise ValueError(f":params: expects name=value words, got {' '.join(bad)!r}")
    return {name: value for name, _, value in pairs}


def _note(exp: Any) -> List[nodes.Node]:
    """The map's stability under it, for a map that reports one."""
    note = exp.stability_note()
    return [nodes.paragraph(text=note, classes=["xaikit-demo-note"])] if note else []


def _input_picture(pixels: np.ndarray, model: LoadedModel) -> Image.Image:
    """The preprocessed input as the model sees it, back in 0-255."""
    scale = 1.0 if model.no_image_normalization else 255.0
    pixels = np.clip(np.round(np.asarray(pixels, np.float64) * scale), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels[0] if len(pixels) == 1 else pixels.transpose(1, 2, 0))


def _map_picture(exp: Any, sink: Optional[str]) -> Image.Image:
    """The map as the sink writes it: saved to a temporary PNG and read back."""
    with tempfile.TemporaryDirectory() as tmp:
        with Image.open(exp.save(Path(tmp) / "map.png", sink=sink)) as picture:
            return picture.convert("RGB") if picture.mode not in ("L", "RGB") else picture.copy()


def _table(rows: List[Any]) -> nodes.table:
    """A header row of labels, then rows of cells (lists of nodes)."""
    header, *body = rows
    tgroup = nodes.tgroup(cols=len(header))
    tgroup += [nodes.colspec(colwidth=1) for _ in header]
    tgroup += nodes.thead("", nodes.row("", *[nodes.entry("", nodes.paragraph(text=label))
                                            for label in header]))
    tgroup += nodes.tbody("", *[nodes.row("", *[nodes.entry("", *cell) for cell in row])
                                for row in body])
    return nodes.table("", tgroup, classes=["xaikit-demo"])
