"""The noisy-gradient kernel: SmoothGrad's gradients over batches of noisy copies.

The samples of all images of a call are cut, in order, into passes of ``batch_size``
copies; a pass may hold the last copies of one image and the first of the next, each row
differentiated for its own image's class. Passes run in ``threads`` threads, each drawing
its noisy copies (see :mod:`.noise`) and running them through a graph replica of its own.
Each pass is reduced where its gradients are to per-image sums of the gradients and of
their squares, and the host adds these in pass order, in float64: the thread count cannot
change a map.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from xaikit import LoadedModel, ParameterError
from xaikit.engine.backend import CPU, Device, F, nn
from xaikit.engine.gradients import bytes_per_sample, gradient_pass
from xaikit.engine.noise import NoisyCopies, concatenate, fresh_seed
from xaikit.engine.threads import cpu_cores, ordered_map

VARIANTS = ("smoothgrad_sq", "smoothgrad", "vargrad")
"""Mean of squared gradients (NNC's map), mean gradient, variance of the gradients."""

MEMORY_BUDGET = 2**30
"""Bytes that the passes of all threads may take together at the default batch size,
as :func:`xaikit.engine.gradients.bytes_per_sample` estimates them."""
MAX_AUTO_BATCH = 256
"""Largest default batch size: larger passes run no faster."""
MAX_AUTO_THREADS = 8
"""Most threads used by default on CPU (each holds a graph replica and its buffers)."""


@dataclass(frozen=True)
class Segment:
    """Copies ``start`` to ``stop - 1`` of image ``item``: consecutive rows of a pass."""

    item: int
    start: int
    stop: int


def plan_passes(num_items: int, num_samples: int, batch_size: int) -> List[List[Segment]]:
    """The samples of ``num_items`` images, in order, cut into passes of ``batch_size``."""
    passes: List[List[Segment]] = []
    current: List[Segment] = []
    room = batch_size
    for item in range(num_items):
        start = 0
        while start < num_samples:
            stop = min(num_samples, start + room)
            current.append(Segment(item, start, stop))
            room -= stop - start
            start = stop
            if room == 0:
                passes.append(current)
                current, room = [], batch_size
    if current:
        passes.append(current)
    return passes


def on_host(device: Device) -> bool:
    """Whether numpy draws the noise and adds up the gradients: on the CPU, where the host
    is the device and numpy is faster than nnabla's elementwise kernels; on a GPU, nnabla
    does both there."""
    return device.name == "cpu"


def default_threads(device: Device) -> int:
    """CPU: one thread per core (nnabla's CPU kernels use one each); a GPU: one."""
    return min(cpu_cores(), MAX_AUTO_THREADS) if device.name == "cpu" else 1


def default_batch_size(model: LoadedModel, total_samples: int, threads: int,
                       score: str = "output") -> int:
    """Copies per pass: a pass for each of ``threads``, all of them within the budget.

    Runs pass it the default thread count whatever the thread count asked for, so that
    asking for another one changes neither the batch size nor, therefore, the map.
    """
    by_memory = MEMORY_BUDGET // (threads * bytes_per_sample(model, score))
    return max(1, min(MAX_AUTO_BATCH, by_memory, math.ceil(total_samples / threads)))


def noisy_gradient_maps(
    model: LoadedModel,
    images: np.ndarray,
    class_indices: Sequence[int],
    *,
    noise_level: float,
    num_samples: int,
    variant: str = "smoothgrad_sq",
    score: str = "output",
    seed: Optional[int] = None,
    batch_size: Optional[int] = None,
    threads: Optional[int] = None,
    device: Device = CPU,
    variable: Optional[str] = None,
) -> np.ndarray:
    """One SmoothGrad map per image: ``variant`` of the gradients of the ``score`` of each
    image's class at ``num_samples`` noisy copies of it, with respect to the input (or to
    ``variable``, a key of the graph's ``variables``).

    :param images: float32 ``(n,) + model.input_shape``, preprocessed.
    :param seed: seeds every image's noise (see :mod:`.noise`); None: fresh noise per image.
    :param batch_size: copies per pass; None: :func:`default_batch_size`.
    :param threads: passes run at once; None: :func:`default_threads`.
    :returns: float32 ``(n,) + model.input_shape`` (or ``variable``'s shape).
    """
    if variant not in VARIANTS:
        raise ParameterError(f"variant: {variant!r} is not one of {', '.join(VARIANTS)}")
    context = device.context()
    batch_size = batch_size or default_batch_size(model, len(images) * num_samples,
                                                  default_threads(device), score)
    threads = threads or default_threads(device)
    seeds = [fresh_seed() if seed is None else seed for _ in images]
    passes = plan_passes(len(images), num_samples, batch_size)
    wanted = {"smoothgrad_sq": ("squares",), "smoothgrad": ("sums",),
              "vargrad": ("sums", "squares")}[variant]
    width = max(len(segments) for segments in passes)
    host = on_host(device)
    reducers: Dict[Tuple[int, int], _Reducer] = {}
    build_lock = threading.Lock()

    def work(worker: int, segments: List[Segment]) -> Dict[str, np.ndarray]:
        inputs = concatenate([
            NoisyCopies(images[s.item], noise_level, seeds[s.item], num_samples,
                        on_host=host).rows(s.start, s.stop)
            for s in segments])
        rows = np.concatenate([np.full(s.stop - s.start, class_indices[s.item]) for s in segments])
        grads = gradient_pass(model, inputs, rows, score=score, replica=worker, device=device,
                              variable=variable)
        if host:
            return _host_sums(grads.data, segments, wanted)
        key = (worker, len(rows))
        if key not in reducers:
            with build_lock:
                reducers[key] = _Reducer(grads.shape, width, wanted)
        return reducers[key](grads, segments)

    shape = images.shape[1:] if variable is None else model.graph(1).variables[variable].shape[1:]
    totals = {name: np.zeros((len(images),) + shape, dtype=np.float64) for name in wanted}
    with model.lock, nn.context_scope(context):
        for segments, partials in zip(passes, ordered_map(work, passes, threads)):
            for name, partial in partials.items():
                for i, s in enumerate(segments):
                    totals[name][s.item] += partial[i]
    means = {name: total / num_samples for name, total in totals.items()}
    if variant == "vargrad":
        maps = np.maximum(means["squares"] - np.square(means["sums"]), 0.0)
    else:
        maps = means[wanted[0]]
    return maps.astype(np.float32)


def _host_sums(grads: np.ndarray, segments: List[Segment],
               wanted: Tuple[str, ...]) -> Dict[str, np.ndarray]:
    """The gradient rows of each segment of a pass added up (``sums``), or their squares
    (``squares``): per wanted quantity, float64 ``(len(segments),) + image shape``."""
    out = {name: np.empty((len(segments),) + grads.shape[1:]) for name in wanted}
    row = 0
    for i, s in enumerate(segments):
        rows = grads[row:row + s.stop - s.start]
        row += s.stop - s.start
        if "sums" in out:
            out["sums"][i] = rows.sum(axis=0, dtype=np.float64)
        if "squares" in out:
            out["squares"][i] = np.square(rows).sum(axis=0, dtype=np.float64)
    return out


class _Reducer:
    """:func:`_host_sums` as a graph on the device: products of the gradient rows, or of
    their squares, with a 0/1 segment matrix."""

    def __init__(self, shape: Tuple[int, ...], width: int, wanted: Tuple[str, ...]):
        self.grads = nn.Variable(shape)
        self.members = nn.Variable((width, shape[0]))
        self.layout: Optional[List[int]] = None
        rows = {"sums": lambda: self.grads, "squares": lambda: F.pow_scalar(self.grads, 2.0)}
        self.outputs = {name: F.affine(self.members, rows[name]()) for name in wanted}

    def __call__(self, grads: "nn.NdArray", segments: List[Segment]) -> Dict[str, np.ndarray]:
        """Per wanted quantity, float64 ``(len(segments),) + image shape``."""
        lengths = [s.stop - s.start for s in segments]
        if lengths != self.layout:
            members = np.zeros(self.members.shape, dtype=np.float32)
            for i, start in enumerate(np.cumsum([0] + lengths[:-1])):
                members[i, start:start + lengths[i]] = 1.0
            self.members.d = members
            self.layout = lengths
        self.grads.data = grads
        nn.forward_all(list(self.outputs.values()), clear_no_need_grad=True)
        return {name: np.array(v.d[:len(segments)], dtype=np.float64)
                for name, v in self.outputs.items()}
