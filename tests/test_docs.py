"""The docs build without warnings, and their examples run as shown.

docs/writing-docs.rst describes the conventions: python and console blocks and ``>>>``
examples run, page by page, in a folder holding the demo model and images.
"""

import ast
import doctest
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from built_docs import read_doctree
from docutils import nodes
from sphinx import addnodes

import xaikit
from xaikit.plugin import manager as plugins
from xaikit.run.images import load_image

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
OWN_RUNNER = {"plugin-guide"}
"""Pages whose examples a test of their own runs (tests/test_plugin_guide.py: the guide
builds a package step by step in one folder)."""
PAGES = sorted(path.relative_to(DOCS).with_suffix("").as_posix() for path in DOCS.rglob("*.rst")
               if "_build" not in path.parts and path.stem not in OWN_RUNNER)
CHECK = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
CODE_WIDTH = 90
"""Characters a line of a code block shows unwrapped (docs/_static/xaikit.css wraps longer
ones): furo's content column leaves 708px inside a block's padding, and its 13px monospace
font takes 7.80px a character (Liberation Mono in Chromium; Menlo, DejaVu Sans Mono 7.83px)."""
INDENTED_WIDTH = 85
"""The same for a block that something indents: 86.6 characters in an API entry, 85.6 in a
definition list, 86.1 in a block quote, 88.3 in a list item."""


@pytest.fixture(scope="session")
def nnc_csv():
    """An NNC evaluation CSV of the demo images: path, label, the model's probabilities."""
    model = xaikit.load_model(ROOT / "demo" / "digits.nnp")
    paths = [ROOT / "demo" / "images" / f"digit_{d}.png" for d in range(10)]
    probabilities = model.predict(np.stack([load_image(p, model) for p in paths]))
    header = ["x:image", "y:label"] + [f"y'__{i}" for i in range(model.num_classes)]
    rows = [[f"./{p.name}", str(d)] + [f"{v:.6f}" for v in probabilities[d]]
            for d, p in enumerate(paths)]
    return "".join(",".join(row) + "\n" for row in [header] + rows)


@pytest.fixture
def sandbox(tmp_path, nnc_csv, monkeypatch):
    """A folder like an NNC training result's, with the demo beside it; the cwd."""
    shutil.copytree(ROOT / "demo", tmp_path / "demo")
    shutil.copy(ROOT / "demo" / "digits.nnp", tmp_path / "results.nnp")
    for image in (ROOT / "demo" / "images").glob("*.png"):
        shutil.copy(image, tmp_path / image.name)
    (tmp_path / "output_result.csv").write_text(nnc_csv)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def own_plugins():
    """Unregister the plugins an example registered, should it fail before doing so."""
    before = {name for name, _ in plugins.plugin_manager().list_name_plugin()}
    yield
    for name, _ in plugins.plugin_manager().list_name_plugin():
        if name not in before:
            plugins.unregister_plugin(name)


def test_the_site_builds_without_warnings(doctrees):
    assert (doctrees.parent / "html" / "index.html").is_file()


@pytest.mark.parametrize("page", PAGES)
def test_examples_run_as_shown(page, doctrees, sandbox, own_plugins):
    namespace = {"__name__": f"docs.{page}"}
    for node in read_doctree(doctrees, page).findall(runnable):
        where = f"{node.source or f'docs/{page}.rst'}:{node.line}"
        if isinstance(node, nodes.doctest_block):
            run_doctest(node.astext(), namespace, where)
        elif node["language"] == "python":
            exec(compile(node.astext(), where, "exec"), namespace)
        else:
            run_console(node.astext(), where)


def runnable(node: nodes.Node) -> bool:
    return isinstance(node, nodes.doctest_block) or (
        isinstance(node, nodes.literal_block) and node.get("language") in ("python", "console"))


def run_doctest(text: str, namespace: dict, where: str) -> None:
    test = doctest.DocTestParser().get_doctest(text, namespace, where, None, 0)
    runner = doctest.DocTestRunner(optionflags=CHECK)
    report: list = []
    runner.run(test, out=report.append, clear_globs=False)
    namespace.update(test.globs)  # DocTest runs in a copy of the namespace
    assert not runner.failures, "".join(report)


def run_console(text: str, where: str) -> None:
    env = dict(os.environ, COLUMNS="80",
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    for command, shown in console_commands(text):
        result = subprocess.run(command, shell=True, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        failed = result.returncode != 0
        assert failed == shown.startswith("error:"), f"{where}: $ {command}\n{result.stdout}"
        if shown:
            checker = doctest.OutputChecker()
            assert checker.check_output(shown, result.stdout, CHECK), (
                f"{where}: $ {command}\nshown:\n{shown}got:\n{result.stdout}")


def console_commands(text: str) -> list:
    """``(command, output shown)`` per ``$`` line; a trailing ``\\`` continues a command."""
    commands: list = []
    lines = iter(text.splitlines())
    for line in lines:
        if line.startswith("$ "):
            command = line[2:]
            while command.endswith("\\"):
                command += "\n" + next(lines)
            commands.append([command, ""])
        else:
            assert commands, f"console block starts with output, not a $ command: {line}"
            commands[-1][1] += line + "\n"
    return [tuple(c) for c in commands]


def test_python_lines_fit_their_code_blocks(doctrees):
    too_long = [f"{where}: {len(line)} characters, more than {width}: {line}"
                for where, width, lines in python_blocks(doctrees) + readme_python_blocks()
                for line in lines if len(line) > width]
    assert not too_long, "break these lines as black would:\n" + "\n".join(too_long)


def python_blocks(doctrees: Path) -> list:
    """``(where, width, lines of Python)`` for each code block of the site."""
    found = []
    for path in sorted(doctrees.rglob("*.doctree")):
        page = path.relative_to(doctrees).with_suffix("").as_posix()
        for node in read_doctree(doctrees, page).findall(
                lambda n: isinstance(n, (nodes.literal_block, nodes.doctest_block))):
            found.append((f"{node.source or f'docs/{page}.rst'}:{node.line}",
                          INDENTED_WIDTH if indented(node) else CODE_WIDTH, python_lines(node)))
    return found


def indented(node: nodes.Node) -> bool:
    """Whether something between the block and its section (not a caption's container)
    indents it."""
    parent = node.parent
    while not isinstance(parent, (nodes.section, nodes.document)):
        if not isinstance(parent, nodes.container):
            return True
        parent = parent.parent
    return False


def python_lines(node: nodes.Element) -> list:
    """A python block's lines, a doctest's input lines, and those of a ``::`` block (Sphinx
    highlights them as Python) that parses as Python."""
    text = node.astext()
    if isinstance(node, nodes.doctest_block):
        return [line for line in text.splitlines() if line.startswith((">>>", "..."))]
    language = node.get("language")
    if language == "python" or (language is None and parses(text)):
        return text.splitlines()
    return []


def parses(text: str) -> bool:
    try:
        ast.parse(text)
    except SyntaxError:
        return False
    return True


def readme_python_blocks() -> list:
    """``(where, width, lines)`` for the python blocks of the READMEs package pages show."""
    found = []
    for readme in [ROOT / "README.md", *sorted(ROOT.glob("examples/*/README.md"))]:
        text = readme.read_text()
        for match in re.finditer(r"^```python\n(.*?)^```", text, re.M | re.S):
            where = f"{readme.relative_to(ROOT)}:{text.count(chr(10), 0, match.start()) + 2}"
            found.append((where, CODE_WIDTH, match.group(1).splitlines()))
    return found


def test_every_public_name_is_in_the_api_reference(doctrees):
    documented = {i for sig in read_doctree(doctrees, "api").findall(addnodes.desc_signature)
                  for i in sig["ids"]}
    missing = [name for name in xaikit.__all__ if f"xaikit.{name}" not in documented]
    assert not missing, f"add these to docs/api.rst: {missing}"


def test_every_function_in_the_api_reference_has_an_example(doctrees):
    without = [desc.next_node(addnodes.desc_signature)["ids"][0]
               for desc in read_doctree(doctrees, "api").findall(addnodes.desc)
               if desc["objtype"] == "function" and not any(desc.findall(runnable))]
    assert not without, f"give these an example in docs/api.rst: {without}"
