"""The Makefile's .venv: made with a Python that nnabla supports, and made again when it
holds another (a `make demo PYTHON=python3.11` of the past) or none that runs."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def fake_python(path: Path, version: str) -> Path:
    """An executable that answers xaikit's version check as Python ``version`` would."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\necho "{version} {path}"\n')
    path.chmod(0o755)
    return path


@pytest.fixture
def checkout(tmp_path):
    """The Makefile and its script in a folder of their own."""
    shutil.copy(ROOT / "Makefile", tmp_path)
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "find-python.sh", tmp_path / "scripts")
    return tmp_path


def make(folder, *args):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHON", "MAKEFLAGS", "MAKELEVEL")}
    return subprocess.run(["make", "--no-print-directory", ".venv/pyvenv.cfg", *args],
                          cwd=folder, capture_output=True, text=True, timeout=300, env=env)


def venv_version(folder):
    return subprocess.run([str(folder / ".venv" / "bin" / "python"), "-c",
                           "import sys; print('%d.%d' % sys.version_info[:2])"],
                          capture_output=True, text=True).stdout.strip()


def test_an_unsupported_python_is_refused_before_a_venv_is_made(checkout):
    python311 = fake_python(checkout / "py311" / "python", "3.11")
    result = make(checkout, f"PYTHON={python311}")
    assert result.returncode != 0
    assert f"error: {python311} is Python 3.11; xaikit needs Python 3.10, 3.9 or 3.8" in (
        result.stderr)
    assert not (checkout / ".venv").exists()


def test_a_venv_of_the_wrong_python_is_made_again(checkout):
    fake_python(checkout / ".venv" / "bin" / "python", "3.11")
    (checkout / ".venv" / "pyvenv.cfg").write_text("version = 3.11.2\n")
    python311 = fake_python(checkout / "py311" / "python", "3.11")

    refused = make(checkout, f"PYTHON={python311}")  # asked for 3.11 again: say so, keep it
    assert refused.returncode != 0 and "is Python 3.11" in refused.stderr
    assert (checkout / ".venv" / "pyvenv.cfg").read_text() == "version = 3.11.2\n"

    remade = make(checkout, f"PYTHON={sys.executable}")
    assert remade.returncode == 0, remade.stderr
    assert (".venv has Python 3.11, which nnabla does not support: making it again with "
            in remade.stdout)
    assert venv_version(checkout) == "%d.%d" % sys.version_info[:2]
    assert "creating" not in make(checkout).stdout  # now it is kept


def test_a_venv_whose_python_no_longer_runs_is_made_again(checkout):
    (checkout / ".venv" / "bin").mkdir(parents=True)
    (checkout / ".venv" / "bin" / "python").symlink_to(checkout / "removed-python")
    (checkout / ".venv" / "pyvenv.cfg").write_text("version = 3.10.1\n")
    result = make(checkout, f"PYTHON={sys.executable}")
    assert result.returncode == 0, result.stderr
    assert ".venv has no Python that runs, which nnabla does not support" in result.stdout
    assert venv_version(checkout) == "%d.%d" % sys.version_info[:2]
