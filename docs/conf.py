"""Sphinx configuration of xaikit's documentation (``make docs``)."""

from importlib.metadata import version as _version

project = "xaikit"
author = "the xaikit authors"
copyright = "the xaikit authors"
release = _version("xaikit")
version = release

extensions = ["sphinx.ext.autodoc", "xaikit.sphinxext"]
exclude_patterns = ["_build"]
default_role = "code"

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented"

xaikit_demo_model = "../demo/digits.nnp"

html_theme = "furo"
html_title = f"xaikit {release}"
html_static_path = ["_static"]
html_css_files = ["xaikit.css"]
