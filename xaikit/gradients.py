"""Input gradients of class scores: the building block of gradient-based explainers."""

from __future__ import annotations

from typing import Iterable, Iterator, List, Sequence, Tuple, Union

import numpy as np

from .errors import ParameterError
from .model import LoadedModel


def input_gradients(
    model: LoadedModel, batch: np.ndarray, class_indices: Union[int, Sequence[int]]
) -> np.ndarray:
    """d output[i, class_indices[i]] / d input[i] for each image ``i`` of ``batch``.

    :param batch: float32 ``(n,) + model.input_shape``, preprocessed.
    :param class_indices: one class for the whole batch, or one per image.
    :returns: float32 array of ``batch``'s shape. One forward and one backward pass
        at batch size ``n``; the graph for that size is built once per model.
    """
    n = len(batch)
    graph = model.graph(n)
    x, y = graph.input, graph.output
    x.need_grad = True
    x.d = batch
    y.forward(clear_no_need_grad=True)
    seed_grad = np.zeros((n, model.num_classes), dtype=np.float32)
    seed_grad[np.arange(n), np.broadcast_to(np.asarray(class_indices), (n,))] = 1.0
    x.grad.zero()
    y.backward(seed_grad.reshape(y.shape), clear_buffer=True)
    return np.array(x.g, dtype=np.float32)


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
        yield input_gradients(model, batch, classes)
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
        seed_grad = np.zeros((n, model.num_classes), dtype=np.float32)
        seed_grad[np.arange(n), np.broadcast_to(np.asarray(class_indices), (n,))] = 1.0
        target.grad.zero()
        y.g = seed_grad.reshape(y.shape)  # in y's own gradient, so that target may be y
        y.backward(None, clear_buffer=True)
        return np.array(target.d, dtype=np.float32), np.array(target.g, dtype=np.float32)
    finally:
        target.persistent = kept
