"""``.. xaikit-run::``: an ``xaikit`` command, run when the docs are built, and what it wrote.

The page shows the command and its output as a console block (which the docs' tests run
again), then the files it wrote: pictures displayed, other files described. Documented
outputs therefore always come from the code that builds the docs.
"""

from __future__ import annotations

import hashlib
import io
import os
import shlex
import shutil
from pathlib import Path
from typing import List

import numpy as np
from docutils import nodes
from docutils.parsers.rst import directives
from PIL import Image
from sphinx.util.docutils import SphinxDirective

from xaikit.testing import run_cli

SMALL = 128
"""Pictures narrower than this many pixels are enlarged, without smoothing, to at least it."""


class RunOutputsDirective(SphinxDirective):
    """``.. xaikit-run::`` with the command as content (``\\`` continues a line).

    The command runs in a fresh folder that holds a copy of each ``:copy:`` path (relative
    to the document, or to the source folder with a leading ``/``), under its own name.
    """

    has_content = True
    option_spec = {"copy": directives.unchanged}

    def run(self) -> List[nodes.Node]:
        self.env.note_reread()  # the outputs change with the code, not only with files
        command = "\n".join(self.content).strip()
        args = shlex.split(command.replace("\\\n", " "))
        if args[:1] != ["xaikit"]:
            raise self.error(f"xaikit-run: the command starts with xaikit, not {args[:1]}")
        folder = Path(self.env.doctreedir) / "xaikit-run" / self.env.docname / str(self.lineno)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for ref in self.options.get("copy", "").split():
            self._copy(ref, folder)
        here = os.getcwd()
        os.chdir(folder)
        try:
            result = run_cli(args[1:])
        finally:
            os.chdir(here)
        if result.exit_code != 0:
            raise self.error(f"xaikit-run: {command}\n{result.output}")
        console = nodes.literal_block(text=f"$ {command}\n{result.stdout}", language="console")
        written = [folder / line for line in result.stdout.splitlines() if line.strip()]
        shown = [self._figure(p) if _is_picture(p) else nodes.paragraph(
            "", "", nodes.literal(text=p.name), nodes.Text(f": {_describe(p)}"))
            for p in written]
        return [console, nodes.container("", *shown, classes=["xaikit-run"])]

    def _copy(self, ref: str, folder: Path) -> None:
        source = Path(self.env.relfn2path(ref, self.env.docname)[1]).resolve()
        if not source.exists():
            raise self.error(f"xaikit-run: {ref}: no such file or folder ({source})")
        if source.is_dir():
            shutil.copytree(source, folder / source.name)
        else:
            self.env.note_dependency(str(source))
            shutil.copy2(source, folder / source.name)

    def _figure(self, path: Path) -> nodes.figure:
        """The picture under its file name and size."""
        with Image.open(path) as picture:
            zoom = _zoom(picture.size)
            note = f"{picture.width}x{picture.height}" + (f", shown x{zoom}" if zoom > 1 else "")
            shown = picture.convert("RGB" if picture.mode not in ("L", "RGB") else picture.mode)
            shown = shown.resize((picture.width * zoom, picture.height * zoom), Image.NEAREST)
        caption = nodes.caption("", "", nodes.literal(text=path.name), nodes.Text(f" ({note})"))
        image = self._image(shown, path.name)
        if zoom > 1:
            image["classes"].append("xaikit-enlarged")
        return nodes.figure("", image, caption, classes=["xaikit-run"])

    def _image(self, picture: Image.Image, alt: str) -> nodes.image:
        """``picture`` saved as a PNG under a name made from its pixels; a node showing it."""
        png = io.BytesIO()
        picture.save(png, format="PNG")
        digest = hashlib.sha1(png.getvalue()).hexdigest()[:20]
        out = Path(self.env.doctreedir) / "xaikit-run" / "pictures" / f"{digest}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(png.getvalue())
        uri = "/" + Path(os.path.relpath(out, self.env.srcdir)).as_posix()
        return nodes.image(uri=uri, alt=alt)


def _is_picture(path: Path) -> bool:
    try:
        with Image.open(path):
            return True
    except OSError:
        return False


def _zoom(size) -> int:
    return max(1, -(-SMALL // max(size)))  # whole factor: pixels stay square


def _describe(path: Path) -> str:
    if path.suffix == ".npy":
        array = np.load(path)
        return f"a {array.dtype} array of shape {array.shape}"
    return f"{path.stat().st_size} bytes"
