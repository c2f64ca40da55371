"""Plugins import only ``xaikit``: the lint rule that keeps it so (ruff's TID251, through
the ruff.toml of each plugin folder), on every private module."""

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import xaikit

ROOT = Path(__file__).resolve().parent.parent
PRIVATE = sorted(module.name for module in pkgutil.iter_modules(xaikit.__path__)
                 if module.name != "testing")


def lint(path: str, code: str) -> subprocess.CompletedProcess:
    """``ruff check`` of ``code`` as if it were the file ``path`` of the repository."""
    return subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format", "concise",
                           "--stdin-filename", path, "-"], cwd=ROOT, input=code,
                          capture_output=True, text=True)


@pytest.mark.parametrize("folder,allowed", [
    ("xaikit_smoothgrad", ()),
    ("examples/xaikit-gradcam", ()),
    ("examples/xaikit-gradcam/tests", ()),
    ("xaikit/builtins/sinks", ("builtins",)),  # xaikit's plugins may import each other
])
def test_plugin_code_importing_a_private_module_fails_the_lint(folder, allowed):
    assert "engine" in PRIVATE and "plugin" in PRIVATE and "__main__" in PRIVATE
    banned = [name for name in PRIVATE if name not in allowed]
    code = "".join(f"from xaikit.{name} import thing_{i}\nprint(thing_{i})\n"
                   for i, name in enumerate(banned))
    result = lint(f"{folder}/probe.py", code)
    flagged = [line for line in result.stdout.splitlines() if "TID251" in line]
    assert len(flagged) == len(banned), result.stdout + result.stderr
    for name, line in zip(banned, flagged):
        assert f"`xaikit.{name}` is banned: private to xaikit" in line
    fine = "import xaikit\nfrom xaikit.testing import make_nnp\n\nprint(xaikit, make_nnp)\n"
    assert lint(f"{folder}/probe.py", fine).returncode == 0


def test_xaikits_own_code_and_tests_may_import_private_modules():
    code = "from xaikit.engine.backend import nn\n\nprint(nn)\n"
    for path in ("tests/probe.py", "xaikit/run/probe.py", "benchmarks/probe.py"):
        result = lint(path, code)
        assert result.returncode == 0, result.stdout

