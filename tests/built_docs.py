"""The documentation built as ``make docs`` builds it, for the tests that read it."""

import pickle
import subprocess
import sys
from pathlib import Path

from docutils import nodes

DOCS = Path(__file__).resolve().parent.parent / "docs"


def build(out: Path) -> Path:
    """Build the site into ``out``; the folder of the build's doctrees."""
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(out / "doctrees"), str(DOCS), str(out / "html")],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    return out / "doctrees"


def read_doctree(doctrees: Path, page: str) -> nodes.document:
    return pickle.loads((doctrees / f"{page}.doctree").read_bytes())
