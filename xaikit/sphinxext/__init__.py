"""Sphinx extension: xaikit's parameter tables and demo maps, generated at build time.

Add ``"xaikit.sphinxext"`` to ``extensions`` in ``conf.py``. It provides

- ``.. xaikit-params::``: a table of a parameter schema, read from the installed plugins;
- ``:xaikit-option:``: the CLI spellings of one parameter, inline;
- ``.. xaikit-demo::``: input images beside the maps an explainer draws for them;
- ``.. xaikit-run::``: an ``xaikit`` command run at build time, and the files it wrote.

``docs/writing-docs.rst`` describes their arguments and options.
"""

from __future__ import annotations

from typing import Any, Dict

from .demo_maps import DemoMapsDirective
from .params_tables import ParamsDirective, option_role
from .run_outputs import RunOutputsDirective


def setup(app: Any) -> Dict[str, Any]:
    app.add_config_value("xaikit_demo_model", None, "env", types=[str])
    app.add_directive("xaikit-params", ParamsDirective)
    app.add_directive("xaikit-demo", DemoMapsDirective)
    app.add_directive("xaikit-run", RunOutputsDirective)
    app.add_role("xaikit-option", option_role)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
