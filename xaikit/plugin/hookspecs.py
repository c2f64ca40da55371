"""Hook specifications: the four ways a plugin adds to xaikit.

Each hook receives a ``register`` callable and calls it once per object it
contributes. xaikit calls every hook once, the first time it needs its plugins
(a CLI command or a Python API call); the objects registered then serve every
later call in the process. Implementations are marked with :data:`xaikit.hookimpl`::

    import xaikit

    @xaikit.hookimpl
    def register_explainers(register):
        register(MyExplainer())
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("xaikit")
hookimpl = pluggy.HookimplMarker("xaikit")


@hookspec
def register_explainers(register):
    """Register explainers: the algorithms that attribute a class score to input pixels.

    Called once per process, before the first explainer is looked up.

    :param register: call ``register(explainer)`` with an instance of a
        :class:`xaikit.Explainer` subclass, once per explainer. Its ``name`` is
        what users type after ``xaikit run``; a name another plugin already
        registered is an error that names both plugins.
    :returns: nothing; the return value is ignored.
    """


@hookspec
def register_model_adapters(register):
    """Register model adapters: loaders that turn a model reference into a
    :class:`xaikit.LoadedModel` that explainers can differentiate.

    Called once per process, before the first model is loaded.

    :param register: call ``register(adapter)`` with an instance of a
        :class:`xaikit.ModelAdapter` subclass, once per adapter. When a model is
        loaded, adapters are asked latest registered first (so plugins come before
        the built-ins, which take any path) and the first whose ``accepts(ref)`` is
        true loads it.
    :returns: nothing; the return value is ignored.
    """


@hookspec
def register_sinks(register):
    """Register sinks: writers that save an :class:`xaikit.Explanation` somewhere.

    Called once per process, before the first sink is looked up.

    :param register: call ``register(sink)`` with an instance of a
        :class:`xaikit.Sink` subclass, once per sink. A sink is chosen by its
        ``name`` (``--sink``) or by the output file's extension when it is the only
        sink whose ``extensions`` include it (``.png`` is ``grey``'s).
    :returns: nothing; the return value is ignored.
    """


@hookspec
def register_metrics(register):
    """Register metrics: numbers saying how far an explainer's maps can be trusted
    (does deleting the pixels a map ranks highest destroy the class score?).

    Called once per process, before the first metric is looked up.

    :param register: call ``register(metric)`` with an instance of a
        :class:`xaikit.Metric` subclass, once per metric. Its ``name`` is what users
        type after ``xaikit evaluate --metric``; a name another plugin already
        registered is an error that names both plugins.
    :returns: nothing; the return value is ignored.
    """
