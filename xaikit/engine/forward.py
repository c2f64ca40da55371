"""Class scores of many inputs: forward passes only, batched and run in threads."""

from __future__ import annotations

import itertools
from typing import Iterable, Iterator, Optional, Sequence, Union

import numpy as np

from xaikit.engine.backend import CPU, Device, nn
from xaikit.engine.gradients import default_threads, score_variable
from xaikit.engine.model import LoadedModel
from xaikit.engine.threads import ordered_map
from xaikit.plugin.errors import ParameterError


def class_scores(
    model: LoadedModel,
    inputs: Iterable[np.ndarray],
    class_indices: Union[int, Sequence[int]],
    *,
    batch_size: int = 64,
    score: str = "output",
    threads: Optional[int] = None,
    device: Device = CPU,
) -> np.ndarray:
    """``score[i, class_indices[i]]`` for each input: what perturbation metrics measure.

    :param inputs: preprocessed inputs of shape ``model.input_shape``, read lazily (a
        generator keeps only the batches in flight in memory).
    :param class_indices: one class for every input, or one per input.
    :param batch_size: inputs per forward pass; a score does not depend on it.
    :param score: ``"output"`` or ``"logit"`` (see :data:`xaikit.engine.gradients.SCORES`).
    :param threads: passes run at once, each through a graph replica of its own;
        None: one per CPU core (at most 8), one on a GPU.
    :returns: float32 ``(k,)`` for ``k`` inputs.
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ParameterError(f"must be a positive integer (got {batch_size!r})",
                             subject="batch_size")
    threads = threads or default_threads(device)

    def work(worker: int, batch: np.ndarray) -> np.ndarray:
        graph = model.graph(len(batch), replica=worker, device=device)
        target = score_variable(model, graph, score)
        graph.input.d = batch
        target.forward(clear_buffer=True)
        return np.array(target.d, dtype=np.float32).reshape(len(batch), -1)

    with model.lock, nn.context_scope(device.context()):
        outputs = list(ordered_map(work, _batches(inputs, batch_size), threads))
    if not outputs:
        return np.zeros(0, dtype=np.float32)
    table = np.concatenate(outputs)
    rows = np.arange(len(table))
    return table[rows, np.broadcast_to(np.asarray(class_indices), rows.shape)]


def _batches(inputs: Iterable[np.ndarray], size: int) -> Iterator[np.ndarray]:
    items = iter(inputs)
    while True:
        chunk = list(itertools.islice(items, size))
        if not chunk:
            return
        yield np.stack(chunk).astype(np.float32, copy=False)
