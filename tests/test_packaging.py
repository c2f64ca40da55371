"""The wheel: its licence, metadata and modules; the version the package reports."""

import email
import importlib.metadata
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

import xaikit

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ["pyproject.toml", "README.md", "LICENSE", "_xaikit_pytest.py", "xaikit",
           "xaikit_smoothgrad"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel ``pip wheel --no-deps .`` builds, from a copy of the sources."""
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", str(source),
                    "-w", str(out)], check=True, timeout=300, capture_output=True)
    (path,) = out.glob("xaikit-*.whl")
    return zipfile.ZipFile(path)


def dist_info(wheel, name):
    (member,) = [n for n in wheel.namelist() if re.fullmatch(rf"xaikit-[^/]+\.dist-info/{name}", n)]
    return wheel.read(member).decode()


def test_the_licence_is_in_the_repository_and_the_wheel(wheel):
    text = (ROOT / "LICENSE").read_text()
    assert text.split()[:3] == ["Apache", "License", "Version"]
    assert "END OF TERMS AND CONDITIONS" in text
    assert dist_info(wheel, "licenses/LICENSE") == text


def test_metadata_has_the_licence_classifiers_and_urls(wheel):
    metadata = email.message_from_string(dist_info(wheel, "METADATA"))
    assert metadata["License-Expression"] == "Apache-2.0"
    classifiers = metadata.get_all("Classifier")
    assert "Topic :: Scientific/Engineering :: Image Recognition" in classifiers
    versions = {c.rsplit(" ", 1)[1] for c in classifiers
                if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)}
    allowed = SpecifierSet(metadata["Requires-Python"])
    assert versions == {f"3.{minor}" for minor in range(6, 15) if f"3.{minor}" in allowed}
    urls = metadata.get_all("Project-URL")
    assert urls and all(re.fullmatch(r"[^,]+, https://\S+", url) for url in urls)


def test_the_wheel_holds_the_pytest_plugin_and_registers_it(wheel):
    assert "_xaikit_pytest.py" in wheel.namelist()
    entry_points = dist_info(wheel, "entry_points.txt")
    assert re.search(r"\[pytest11\]\s+xaikit = _xaikit_pytest", entry_points)
    assert re.search(r"\[xaikit\]\s+smoothgrad = xaikit_smoothgrad", entry_points)


def test_version_comes_from_the_package_metadata():
    assert xaikit.__version__ == importlib.metadata.version("xaikit")
    declared = re.search(r'^version = "(.+)"$', (ROOT / "pyproject.toml").read_text(), re.M)
    assert xaikit.__version__ == declared.group(1)
