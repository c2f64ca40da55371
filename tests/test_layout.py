"""The layout: no module imports a module that imports it back, even lazily inside a
function or only for type checking."""

import ast
from pathlib import Path

import graphlib
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("xaikit", "xaikit_smoothgrad")
MODULES = ("_xaikit_pytest",)
"""Top-level modules of the distribution (the pytest plugin)."""


def modules():
    """Every module of the packages, by dotted name: its file."""
    found = {name: ROOT / f"{name}.py" for name in MODULES}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported(name, path, known):
    """The known modules that ``name`` (at ``path``) imports anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            candidates = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                          for alias in node.names]
        else:
            continue
        found.update(c for c in candidates if c in known and c != name)
    return found


def import_graph():
    known = modules()
    return {name: imported(name, path, known) for name, path in known.items()}


def test_the_graph_sees_lazy_and_type_checking_imports():
    graph = import_graph()
    assert "xaikit.cli.main" in graph["xaikit.testing"]  # imported inside run_cli
    assert "xaikit.engine.model" in graph["_xaikit_pytest"]  # under TYPE_CHECKING


def test_no_import_cycles():
    try:
        graphlib.TopologicalSorter(import_graph()).prepare()
    except graphlib.CycleError as exc:
        pytest.fail("import cycle: " + " -> ".join(reversed(exc.args[1])))


def test_a_cycle_would_be_found():
    graph = import_graph()
    graph["xaikit.plugin.errors"] = {"xaikit.run.images"}
    with pytest.raises(graphlib.CycleError):
        graphlib.TopologicalSorter(graph).prepare()
