"""Hook specifications: the four ways a plugin adds to xaikit.

Each hook receives a ``register`` callable and calls it once per object it
contributes. xaikit calls every hook once, the first time it needs its plugins
(a CLI command or a Python API call); the objects registered then serve every
later call in the process. Implementations are marked with :data:`xaikit.hookimpl`
and named exactly as below; a marked function whose name is not a hook's
(``register_explainer``) is reported as a warning, since it would never be called::

    import xaikit

    @xaikit.hookimpl
    def register_explainers(register):
        register(MyExplainer())

A name that two plugins register is a warning naming both packages. When one of them is
xaikit itself, xaikit's keeps the name and the other is ignored; otherwise neither is
usable, and using the name is an error with the same message.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("xaikit")
hookimpl = pluggy.HookimplMarker("xaikit")


@hookspec
def register_explainers(register):
    """Register explainers: the algorithms that attribute a class score to input pixels.

    Called once per process, before the first explainer is looked up.

    An explainer is an :class:`xaikit.Explainer` with a ``name`` (what users type after
    ``xaikit run``), a ``description`` and a nested ``Params`` schema (a
    :class:`xaikit.Params` pydantic model). ``explain(model, image, class_index, params)``
    returns a float32 map of the model's input shape, or an :class:`xaikit.Attribution`
    holding the map and ``metadata`` (plain values) that becomes the explanation's
    ``metadata``. Dataset runs call ``explain_batch(model, images, class_indices, params)``
    on chunks of rows; by default it calls ``explain`` per image (override it to share
    passes, keeping each image's map what ``explain`` gives it) and returns an
    ``(n,) + input_shape`` array or a list of one result per image. A dataset run's output
    CSV names its first column after the explainer's ``nnc_column``, by default its
    ``name``.

    A parameter may not have the name of a run option (``input``, ``labels``,
    ``output``...: :data:`xaikit.plugin.params.RUN_OPTIONS`): such an explainer is not
    registered, with a warning naming the plugin and the parameter. ``seed`` is the
    exception: an explainer that declares one receives the run's ``--seed``.

    :param register: call ``register(explainer)`` with an instance of a
        :class:`xaikit.Explainer` subclass, once per explainer.
    :returns: nothing; the return value is ignored.
    """


@hookspec
def register_model_adapters(register):
    """Register model adapters: loaders that turn a model reference into a
    :class:`xaikit.LoadedModel` that explainers can differentiate.

    Called once per process, before the first model is loaded.

    ``accepts(ref)`` says whether the adapter loads ``ref``; ``load(ref, params)``
    returns a :class:`xaikit.LoadedModel`, ``params`` being the options of
    ``xaikit.load_model(ref, **options)`` validated by the adapter's ``Params`` schema. An
    adapter whose ``extensions`` name the model files it reads gets its parameters on the
    command line as ``--<adapter>-<parameter>`` (``--onnx-mean``). When a model is loaded,
    adapters are asked latest registered first (so plugins come before the built-ins:
    ``.onnx`` files, then ``.nnp`` and any other path) and the first that accepts it loads
    it. The model's ``build(batch_size)`` returns an
    :class:`xaikit.Graph` whose ``variables`` hold every intermediate variable by a name
    that does not depend on the batch size (the model file's names) and whose ``layers``
    list the network's functions in forward order as :class:`xaikit.Layer`
    ``(variable, function)`` pairs (``LoadedModel.layers``): the ``.nnp`` adapter takes
    both from ``net.nntxt``, the ``.onnx`` one from the network nnabla's importer makes;
    the Python-function adapter names variables as NNC names layers (``Convolution``,
    ``Convolution_2``...).

    :param register: call ``register(adapter)`` with an instance of a
        :class:`xaikit.ModelAdapter` subclass, once per adapter.
    :returns: nothing; the return value is ignored.
    """


@hookspec
def register_sinks(register):
    """Register sinks: writers that save an :class:`xaikit.Explanation` somewhere.

    Called once per process, before the first sink is looked up.

    A sink is chosen by its ``name`` (``--sink``) or by the output file's extension: its
    ``extensions`` are the ones it writes, its usual one first, and an extension only one
    sink writes selects it (``.png``, written by several, selects ``grey``).
    ``write(explanation, path, params)`` writes to a temporary path that xaikit renames
    into place. Its ``Params`` become the options ``--<sink>-<parameter>``. xaikit's own
    sinks (``grey``, ``heatmap``, ``panel``, ``npy``) are registered this way.

    :param register: call ``register(sink)`` with an instance of a
        :class:`xaikit.Sink` subclass, once per sink.
    :returns: nothing; the return value is ignored.
    """


@hookspec
def register_metrics(register):
    """Register metrics: numbers saying how far the maps of an explainer can be trusted
    (does deleting the pixels a map ranks highest destroy the class score?).

    Called once per process, before the first metric is looked up.

    :param register: call ``register(metric)`` with an instance of a
        :class:`xaikit.Metric` subclass, once per metric. Its ``name`` is what users
        type after ``xaikit evaluate --metric``; a name another plugin already
        registered is an error that names both plugins.
    :returns: nothing; the return value is ignored.
    """
