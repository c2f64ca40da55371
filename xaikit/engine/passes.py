"""Maps of noisy copies reduced to one map per image: the smoothing kernels.

The copies of all images of a call are cut, in order, into passes of ``batch_size``
copies; a pass may hold the last copies of one image and the first of the next, each row
explained for its own image's class. Each pass is reduced to per-image sums of its maps,
or of their squares, and the host adds these in pass order, in float64: neither the thread
count nor the way passes are run can change a map.

:func:`smoothed_gradients` does it for input gradients, with the engine: passes run in
``threads`` threads, each drawing its noisy copies (see :mod:`.noise`), running them
through a graph replica of its own and reducing its gradients where they are.
:func:`smoothed_maps` does it for any function of a batch of images (an explainer's
``explain_batch``), pass after pass in the calling thread.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from xaikit.engine.backend import CPU, Device, F, nn
from xaikit.engine.gradients import default_batch_size, default_threads, gradient_pass
from xaikit.engine.model import LoadedModel
from xaikit.engine.noise import NoisyCopies, Smoothing, concatenate
from xaikit.engine.threads import ordered_map

Sums = Dict[str, np.ndarray]
"""Per wanted quantity (``sums``, ``squares``), float64 ``(segments,) + image shape``."""


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


def smoothed_gradients(
    model: LoadedModel,
    images: np.ndarray,
    class_indices: Sequence[int],
    smoothing: Smoothing,
    *,
    score: str = "output",
    batch_size: Optional[int] = None,
    threads: Optional[int] = None,
    device: Device = CPU,
    variable: Optional[str] = None,
) -> np.ndarray:
    """The gradients of the ``score`` of each image's class with respect to its input (or
    to ``variable``) at ``smoothing.samples`` noisy copies of it, reduced to one map per
    image by ``smoothing.variant``: SmoothGrad.

    :param images: float32 ``(n,) + model.input_shape``, preprocessed.
    :param class_indices: one class per image.
    :param batch_size: copies per pass; None: :func:`~.gradients.default_batch_size` of all
        the copies.
    :param threads: passes run at once; None: :func:`~.gradients.default_threads`.
    :param variable: a key of the graph's ``variables``: the gradients with respect to that
        variable (an intermediate one, say) instead of the input.
    :returns: float32 ``(n,) + model.input_shape`` (or ``variable``'s shape).
    """
    samples = smoothing.samples
    context = device.context()
    batch_size = batch_size or default_batch_size(model, len(images) * samples,
                                                  default_threads(device), score)
    threads = threads or default_threads(device)
    seeds = smoothing.seeds(len(images))
    passes = plan_passes(len(images), samples, batch_size)
    wanted = smoothing.sums
    width = max(len(segments) for segments in passes)
    host = on_host(device)
    reducers: Dict[Tuple[int, int], _Reducer] = {}
    build_lock = threading.Lock()

    def work(worker: int, segments: List[Segment]) -> Sums:
        inputs = concatenate([
            NoisyCopies(images[s.item], smoothing.noise_level, seeds[s.item], samples,
                        on_host=host).rows(s.start, s.stop)
            for s in segments])
        rows = np.concatenate([np.full(s.stop - s.start, class_indices[s.item])
                               for s in segments])
        grads = gradient_pass(model, inputs, rows, score=score, replica=worker, device=device,
                              variable=variable)
        if host:
            return _host_sums(grads.data, segments, wanted)
        key = (worker, len(rows))
        if key not in reducers:
            with build_lock:
                reducers[key] = _Reducer(grads.shape, width, wanted)
        return reducers[key](grads, segments)

    shape = images.shape if variable is None else (
        (len(images),) + model.graph(1).variables[variable].shape[1:])
    with model.lock, nn.context_scope(context):
        return _reduce(smoothing, shape, passes, ordered_map(work, passes, threads))


def smoothed_maps(
    model: LoadedModel,
    explain: Callable[[np.ndarray, np.ndarray], np.ndarray],
    images: np.ndarray,
    class_indices: Sequence[int],
    smoothing: Smoothing,
    batch_size: Optional[int] = None,
) -> np.ndarray:
    """``explain(copies, classes)``'s maps of ``smoothing.samples`` noisy copies of each
    image, reduced to one map per image by ``smoothing.variant``.

    :param explain: maps (``(k,) + model.input_shape``) of ``k`` images for one class each.
    :param images: float32 ``(n,) + model.input_shape``, preprocessed.
    :param class_indices: one class per image.
    :param batch_size: copies per call of ``explain``; None: as many as one pass of input
        gradients may hold within the memory budget (at most 256), so that memory stays
        bounded however many images and samples there are.
    :returns: float32 ``(n,) + model.input_shape``.
    """
    samples = smoothing.samples
    batch_size = batch_size or default_batch_size(model, len(images) * samples, threads=1)
    seeds = smoothing.seeds(len(images))
    passes = plan_passes(len(images), samples, batch_size)

    def run(segments: List[Segment]) -> Sums:
        copies = np.concatenate([smoothing.copies(images[s.item], seeds[s.item], s.start,
                                                  s.stop) for s in segments])
        rows = np.concatenate([np.full(s.stop - s.start, class_indices[s.item])
                               for s in segments])
        maps = np.asarray(explain(copies, rows), dtype=np.float32)
        return _host_sums(maps, segments, smoothing.sums)

    return _reduce(smoothing, images.shape, passes, map(run, passes))


def _reduce(smoothing: Smoothing, shape: Tuple[int, ...], passes: List[List[Segment]],
            partials: Iterable[Sums]) -> np.ndarray:
    """Add up the passes' per-image sums, in pass order, in float64; the maps."""
    totals = {name: np.zeros(shape, dtype=np.float64) for name in smoothing.sums}
    for segments, partial in zip(passes, partials):
        for name, values in partial.items():
            for i, s in enumerate(segments):
                totals[name][s.item] += values[i]
    return smoothing.reduce(totals)


def _host_sums(maps: np.ndarray, segments: List[Segment], wanted: Tuple[str, ...]) -> Sums:
    """The map rows of each segment of a pass added up (``sums``), or their squares
    (``squares``): per wanted quantity, float64 ``(len(segments),) + image shape``."""
    out = {name: np.empty((len(segments),) + maps.shape[1:]) for name in wanted}
    row = 0
    for i, s in enumerate(segments):
        rows = maps[row:row + s.stop - s.start]
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

    def __call__(self, grads: "nn.NdArray", segments: List[Segment]) -> Sums:
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
