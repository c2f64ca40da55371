"""The report on docs/evaluating.rst is what the command shown there produces: its table,
its CSV (docs/evaluation/report.csv) and its curves (docs/images/evaluation-curves.png)."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from xaikit.evaluation.report import read_report

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "evaluating.rst"
BLOCK = re.compile(r"^\.\. code-block:: (\w+)\n((?:   :.*\n)*)\n((?:(?:   .*)?\n)+)", re.M)
REGENERATE = "regenerate them with the command on docs/evaluating.rst, from the repository"


def page_blocks():
    """The page's code blocks: ``(language, text)``."""
    return [(m.group(1), "\n".join(line[3:] for line in m.group(3).splitlines()).strip("\n"))
            for m in BLOCK.finditer(PAGE.read_text(encoding="utf-8"))]


def report_command():
    """The command that made the committed report, and the table the page shows for it."""
    blocks = page_blocks()
    for i, (language, text) in enumerate(blocks):
        if language == "sh" and "docs/evaluation/report.csv" in text:
            return text, blocks[i + 1][1]
    raise AssertionError("docs/evaluating.rst shows no command writing docs/evaluation/")


@pytest.fixture(scope="module")
def produced(tmp_path_factory):
    """Run the page's command in a folder laid out like the repository."""
    command, _ = report_command()
    folder = tmp_path_factory.mktemp("repository")
    (folder / "demo").symlink_to(ROOT / "demo")
    (folder / "docs" / "evaluation").mkdir(parents=True)
    (folder / "docs" / "images").mkdir()
    args = shlex.split(command.replace("\\\n", " "))
    assert args[0] == "xaikit"
    xaikit = Path(sys.executable).parent / "xaikit"
    result = subprocess.run([str(xaikit)] + args[1:], cwd=folder, capture_output=True,
                            text=True, env=dict(os.environ, COLUMNS="80"))
    assert result.returncode == 0, result.stderr
    return folder, result.stdout


def test_the_page_shows_the_table_the_command_prints(produced):
    _, stdout = produced
    _, shown = report_command()
    assert stdout.splitlines()[:len(shown.splitlines())] == shown.splitlines(), (
        f"the table on docs/evaluating.rst is out of date; {REGENERATE}:\n{stdout}")


def test_the_committed_report_is_the_one_the_command_writes(produced):
    folder, _ = produced
    committed = read_report(ROOT / "docs" / "evaluation" / "report.csv")
    made = read_report(folder / "docs" / "evaluation" / "report.csv")
    assert [(r.image, r.explainer, r.metric, r.class_index, r.error) for r in committed] == [
        (r.image, r.explainer, r.metric, r.class_index, r.error) for r in made], REGENERATE
    np.testing.assert_allclose([r.value for r in committed], [r.value for r in made],
                               rtol=0, atol=1e-6, err_msg=REGENERATE)


def test_the_committed_curves_are_the_ones_the_command_draws(produced):
    folder, _ = produced
    with Image.open(ROOT / "docs" / "images" / "evaluation-curves.png") as image:
        committed = np.asarray(image.convert("RGB"))
    with Image.open(folder / "docs" / "images" / "evaluation-curves.png") as image:
        made = np.asarray(image.convert("RGB"))
    assert committed.shape == made.shape, REGENERATE
    # A curve that moved changes about 1% of the pixels; font hinting, far fewer.
    assert np.mean(np.any(committed != made, axis=-1)) < 0.002, REGENERATE
