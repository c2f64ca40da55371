"""Input gradients of class scores, batched and threaded: the engine of gradient-based
explainers.

Rows are cut into passes of ``batch_size``; passes run in ``threads`` threads, each through
a graph replica of its own (see :mod:`.threads`), on a device (see :mod:`.backend`).
"""

from __future__ import annotations

import math
from typing import Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from xaikit.engine.backend import CPU, Device, nn
from xaikit.engine.model import LoadedModel, score_variable
from xaikit.engine.threads import cpu_cores, ordered_map
from xaikit.plugin.errors import ParameterError

MEMORY_BUDGET = 2**30
"""Bytes that the passes of all threads may take together at the default batch size,
as :func:`bytes_per_sample` estimates them."""
MAX_AUTO_BATCH = 256
"""Largest default batch size: larger passes run no faster."""
MAX_AUTO_THREADS = 8
"""Most threads used by default on CPU (each holds a graph replica and its buffers)."""

Classes = Union[int, Sequence[int]]


def gradient_pass(
    model: LoadedModel,
    inputs: Union[np.ndarray, "nn.NdArray"],
    class_indices: Classes,
    *,
    score: str = "output",
    replica: int = 0,
    device: Device = CPU,
    variable: Optional[str] = None,
) -> "nn.NdArray":
    """d score[i, class_indices[i]] / d inputs[i], computed and left on ``device``; with
    ``variable``, the gradient with respect to that variable of the graph instead.

    One forward and one backward pass through ``model.graph(n, replica=replica,
    device=device)``: no parameter gradients, every buffer freed as soon as the pass no
    longer needs it. Call it within ``nn.context_scope(device.context())``, holding
    ``model.lock`` in the thread that started the computation.

    :param inputs: ``(n,) + model.input_shape``: a numpy array is copied into the graph's
        input, an ``nn.NdArray`` (on the device) becomes it.
    :param class_indices: one class for every row, or one per row.
    :param variable: a key of the graph's ``variables`` (an intermediate one, say).
    :returns: the gradient array of the graph's input (or of ``variable``), valid until the
        next pass on that graph.
    """
    n = inputs.shape[0]
    graph = model.graph(n, replica=replica, device=device)
    x, s = graph.input, score_variable(model, graph, score)
    target = x if variable is None else graph.variables[variable]
    x.need_grad = True  # the path from the input makes every variable on it differentiable
    if isinstance(inputs, np.ndarray):
        x.d = inputs
    else:
        x.data = inputs
    s.forward(clear_no_need_grad=True)
    target.grad.zero()
    s.g = class_selector(s, class_indices)  # in s's own gradient: the target may be s
    kept = target.persistent
    target.persistent = True  # keep its gradient through the buffer clearing
    try:
        s.backward(None, clear_buffer=True)
    finally:
        target.persistent = kept
    return target.grad


def class_selector(scores: "nn.Variable", class_indices: Classes) -> np.ndarray:
    """The backward seed that picks ``scores[i, class_indices[i]]``: one-hot rows of
    ``scores``' shape."""
    n = scores.shape[0]
    seed = np.zeros((n, scores.size // n), dtype=np.float32)
    seed[np.arange(n), np.broadcast_to(np.asarray(class_indices), (n,))] = 1.0
    return seed.reshape(scores.shape)


def input_gradients(
    model: LoadedModel,
    inputs: np.ndarray,
    class_indices: Classes,
    *,
    score: str = "output",
    batch_size: Optional[int] = None,
    threads: Optional[int] = None,
    device: Device = CPU,
) -> np.ndarray:
    """d score[i, class_indices[i]] / d inputs[i] for every row ``i`` of ``inputs``.

    The rows are cut, in order, into passes of ``batch_size`` (one forward and one backward
    pass each); the passes run in ``threads`` threads, each through a graph replica of its
    own, on ``device``. Graphs are built once per model, batch size, replica and device.

    :param inputs: float32 ``(n,) + model.input_shape``, preprocessed.
    :param class_indices: one class for every row, or one per row.
    :param score: ``"output"``, the model's output, or ``"logit"``, its logits.
    :param batch_size: rows per pass; None: :func:`default_batch_size`, which keeps the
        passes of the default threads within :data:`MEMORY_BUDGET`.
    :param threads: passes run at once; None: :func:`default_threads`.
    :param device: where nnabla runs (:data:`xaikit.CPU`, or ``xaikit.Device("cudnn", 0)``).
    :returns: float32 array of ``inputs``' shape.
    """
    inputs = np.ascontiguousarray(inputs, dtype=np.float32)
    n = len(inputs)
    rows = np.broadcast_to(np.asarray(class_indices), (n,))
    batch_size = batch_size or default_batch_size(model, n, default_threads(device), score)
    threads = threads or default_threads(device)

    def work(worker: int, start: int) -> np.ndarray:
        stop = min(n, start + batch_size)
        grads = gradient_pass(model, inputs[start:stop], rows[start:stop], score=score,
                              replica=worker, device=device)
        return np.array(grads.data, dtype=np.float32)  # the graph reuses its buffers

    starts = range(0, n, batch_size)
    with model.lock, nn.context_scope(device.context()):  # one pass: in the calling thread
        passes = list(ordered_map(work, starts, min(threads, len(starts))))
    return np.concatenate(passes) if passes else np.empty_like(inputs)


def bytes_per_sample(model: LoadedModel, score: str = "output") -> int:
    """Memory one sample takes in a pass: data and gradient of the input and of every
    function output up to the score. An upper bound: passes free most of it early."""
    graph = model.graph(1)
    sizes = [graph.input.size]

    def visit(function) -> None:
        sizes.extend(v.size for v in function.outputs)

    score_variable(model, graph, score).visit(visit)
    return 2 * 4 * sum(sizes)


def default_threads(device: Device = CPU) -> int:
    """Passes run at once by default: on the CPU one per core (nnabla's CPU kernels use one
    each), at most :data:`MAX_AUTO_THREADS`; on a GPU one."""
    return min(cpu_cores(), MAX_AUTO_THREADS) if device.name == "cpu" else 1


def default_batch_size(model: LoadedModel, total_rows: int, threads: int,
                       score: str = "output") -> int:
    """Rows per pass: a pass for each of ``threads``, all of them within the budget
    (:data:`MEMORY_BUDGET`, at most :data:`MAX_AUTO_BATCH` rows).

    The engine passes it the default thread count whatever the thread count asked for, so
    that asking for another one changes neither the batch size nor, therefore, the result.
    """
    by_memory = MEMORY_BUDGET // (threads * bytes_per_sample(model, score))
    return max(1, min(MAX_AUTO_BATCH, by_memory, math.ceil(total_rows / threads)))


def input_gradients_in_batches(
    model: LoadedModel,
    inputs: Iterable[np.ndarray],
    class_indices: Union[int, Sequence[int]],
    batch_size: int,
) -> Iterator[np.ndarray]:
    """:func:`input_gradients` of a stream of inputs, ``batch_size`` inputs per pass.

    :param inputs: preprocessed inputs of shape ``model.input_shape``, read lazily (a
        generator keeps only one batch of them in memory).
    :param class_indices: one class for every input, or one per input.
    :param batch_size: inputs per forward/backward pass; the last batch may be smaller.
    :returns: an iterator of float32 gradient batches ``(k,) + model.input_shape``, in
        input order.
    """
    per_input = not isinstance(class_indices, (int, np.integer))
    done = 0
    for batch in _chunks(inputs, batch_size):
        classes = class_indices[done:done + len(batch)] if per_input else class_indices
        yield input_gradients(model, batch, classes, batch_size=len(batch), threads=1)
        done += len(batch)


def _chunks(inputs: Iterable[np.ndarray], size: int) -> Iterator[np.ndarray]:
    batch: List[np.ndarray] = []
    for item in inputs:
        batch.append(item)
        if len(batch) == size:
            yield np.stack(batch).astype(np.float32, copy=False)
            batch = []
    if batch:
        yield np.stack(batch).astype(np.float32, copy=False)


def variable_gradients(
    model: LoadedModel,
    batch: np.ndarray,
    class_indices: Union[int, Sequence[int]],
    variable: str,
) -> Tuple[np.ndarray, np.ndarray]:
    """Values of an intermediate variable and d output[i, class_indices[i]] / d variable[i].

    :param batch: float32 ``(n,) + model.input_shape``, preprocessed.
    :param class_indices: one class for the whole batch, or one per image.
    :param variable: a key of ``model.graph(n).variables``, e.g. a ``model.layers`` entry's
        ``variable``.
    :returns: ``(activations, gradients)``, two float32 arrays of the variable's shape at
        batch size ``n``. One forward and one backward pass.
    :raises ParameterError: when the model has no variable of that name.
    """
    with model.lock:  # one computation at a time per model (see LoadedModel.lock)
        n = len(batch)
        graph = model.graph(n)
        target = graph.variables.get(variable)
        if target is None:
            raise ParameterError(f"variable: {model.name} has no variable named {variable!r}")
        x, y = graph.input, graph.output
        x.need_grad = True
        x.d = batch
        kept = target.persistent
        target.persistent = True  # keep its values and gradient through the buffer clearing
        try:
            y.forward(clear_no_need_grad=True)
            target.grad.zero()
            y.g = class_selector(y, class_indices)  # in y's own gradient: target may be y
            y.backward(None, clear_buffer=True)
            return np.array(target.d, dtype=np.float32), np.array(target.g, dtype=np.float32)
        finally:
            target.persistent = kept
