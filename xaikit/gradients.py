"""Input gradients of class scores: the building block of gradient-based explainers."""

from __future__ import annotations

from typing import Sequence, Union

import numpy as np

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
