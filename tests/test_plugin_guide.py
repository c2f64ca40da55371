"""docs/plugin-guide.rst, run as a reader would: every snippet, in order, in an empty folder.

``python`` blocks with a ``:caption:`` are files to write under that name (as is the
``toml`` one); other ``python`` blocks run in one namespace. In ``console`` blocks, each
``$ xaikit ...`` and ``$ pytest ...`` runs as a subprocess and must succeed and print the
lines shown under it (``...`` elides); ``$ pip install -e`` installs the folder's package
as pip would for the entry points: a ``.dist-info`` on the path, built from the
``pyproject.toml`` (xaikit's plugins are loaded once per process, so this process
registers the entry point's module itself). The guide may hold no other literal blocks.
"""

import os
import re
import shlex
import subprocess
import sys
import textwrap
from importlib import import_module
from pathlib import Path

import pytest

from xaikit.plugin import manager as plugins

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "plugin-guide.rst"
DIRECTIVE = re.compile(r"^\.\. code-block:: *(\w+)\s*$")


def snippets(text):
    """(line, language, caption, code) for each code block of the page, in order."""
    lines = text.splitlines()
    found = []
    for i, line in enumerate(lines):
        match = DIRECTIVE.match(line)
        if not match:
            assert not line.rstrip().endswith("::") or line.startswith(".. "), (
                f"line {i + 1}: a literal block the test would not run; use code-block")
            continue
        caption, j = None, i + 1
        while j < len(lines) and lines[j].strip().startswith(":"):
            option, _, value = lines[j].strip()[1:].partition(":")
            caption = value.strip() if option == "caption" else caption
            j += 1
        body = []
        for line in lines[j:]:
            if line.strip() and not line.startswith(" "):
                break
            body.append(line)
        code = textwrap.dedent("\n".join(body)).strip("\n")
        found.append((i + 1, match.group(1), caption, code))
    return found


def test_every_snippet_of_the_guide_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path)] + sys.path)}
    namespace = {"__name__": "guide"}
    before = set(dict(plugins.plugin_manager().list_name_plugin()))
    kinds = set()
    try:
        for line, language, caption, code in snippets(GUIDE.read_text(encoding="utf-8")):
            kinds.add(language)
            if caption:
                (tmp_path / caption).parent.mkdir(parents=True, exist_ok=True)
                (tmp_path / caption).write_text(code + "\n")
            elif language == "python":
                exec(compile(code, f"{GUIDE.name}, the snippet at line {line}", "exec"),
                     namespace)
            elif language == "console":
                run_console(code, tmp_path, env)
            else:
                pytest.fail(f"line {line}: a {language} block without a caption runs nowhere")
    finally:
        for name in set(dict(plugins.plugin_manager().list_name_plugin())) - before:
            plugins.unregister_plugin(name)
        for name, module in list(sys.modules.items()):
            if str(getattr(module, "__file__", "")).startswith(str(tmp_path)):
                del sys.modules[name]
    assert kinds == {"python", "toml", "console"}


def run_console(block, folder, env):
    commands = re.split(r"^\$ ", block, flags=re.M)[1:]
    for command in commands:
        line, _, expected = command.partition("\n")
        args = shlex.split(line)
        if args[:3] == ["pip", "install", "-e"]:
            install(folder)
            continue
        assert args[0] in ("xaikit", "pytest"), f"the guide runs {line!r}: teach this test"
        proc = subprocess.run([sys.executable, "-m"] + args, cwd=folder, env=env,
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 0, f"$ {line}\n{proc.stdout}{proc.stderr}"
        said = " ".join(proc.stdout.split())
        for want in expected.splitlines():
            want = " ".join(want.split())
            assert want == "..." or want in said, f"$ {line}: no {want!r} in\n{proc.stdout}"


def install(folder):
    """What ``pip install -e .`` does for xaikit: entry points in a .dist-info on the path."""
    project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
    name, version = project["name"], project["version"]
    info = folder / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    groups = project["entry-points"]
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items())
        for group, eps in groups.items()))
    for plugin, module in groups["xaikit"].items():
        plugins.register_plugin(import_module(module), name=plugin, package=name)
