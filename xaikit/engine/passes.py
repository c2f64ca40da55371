"""Maps of noisy copies reduced to one map per image: the smoothing kernels.

The copies of all images of a call are cut, in order, into passes of ``batch_size``
copies; a pass may hold the last copies of one image and the first of the next, each row
explained for its own image's class. Each pass is reduced to per-image sums of its maps,
or of their squares, over all its copies and over those of even sample index (the halves
whose maps give the map's stability, :mod:`.stability`), and the host adds these in pass
order, in float64: neither the thread count nor the way passes are run can change a map.

With ``samples="auto"`` the copies come in rounds: each image still short of its target
stability gets the copies up to the next of :func:`.stability.checks`, in passes of its own
(:func:`auto_batch_size`), and leaves once its map is stable.

:func:`smoothed_gradients` does it for input gradients, with the engine: passes run in
``threads`` threads, each drawing its noisy copies (see :mod:`.noise`), running them
through a graph replica of its own and reducing its gradients where they are.
:func:`smoothed_maps` does it for any function of a batch of images (an explainer's
``explain_batch``), pass after pass in the calling thread.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from xaikit.engine.backend import CPU, Device, F, nn
from xaikit.engine.gradients import default_batch_size, default_threads, gradient_pass
from xaikit.engine.model import LoadedModel
from xaikit.engine.noise import NoisyCopies, Smoothing, concatenate
from xaikit.engine.stability import FIRST_CHECK, converged, half_counts, split_half
from xaikit.engine.threads import ordered_map

Sums = Dict[str, np.ndarray]
"""Per wanted quantity (``sums``, ``squares``), float64 ``(2, segments) + image shape``:
over all copies of each segment, and over those of even sample index."""


@dataclass(frozen=True)
class Segment:
    """Copies ``start`` to ``stop - 1`` of image ``item``: consecutive rows of a pass."""

    item: int
    start: int
    stop: int


def plan_passes(spans: Sequence[Segment], batch_size: int) -> List[List[Segment]]:
    """The copies of ``spans``, in order, cut into passes of ``batch_size`` (the last may
    be smaller); a pass may end one span and begin the next."""
    passes: List[List[Segment]] = []
    current: List[Segment] = []
    room = batch_size
    for span in spans:
        start = span.start
        while start < span.stop:
            stop = min(span.stop, start + room)
            current.append(Segment(span.item, start, stop))
            room -= stop - start
            start = stop
            if room == 0:
                passes.append(current)
                current, room = [], batch_size
    if current:
        passes.append(current)
    return passes


def auto_batch_size(model: LoadedModel, threads: int, score: str = "output") -> int:
    """Copies per pass with ``samples="auto"``: the largest power of two that splits
    :data:`~.stability.FIRST_CHECK` copies between ``threads`` within the memory budget,
    so that the copies between two checks fill whole passes of one image, and every thread
    has one."""
    return 2 ** int(math.log2(default_batch_size(model, FIRST_CHECK, threads, score)))


@dataclass(frozen=True)
class Smoothed:
    """Smoothed maps, one per image, and how settled each is."""

    maps: np.ndarray
    """float32 ``(n,) + model.input_shape`` (or the shape of the variable differentiated)."""
    samples: List[int]
    """The noisy copies each map reduces."""
    stability: List[Optional[float]]
    """Each map's split-half stability (see :mod:`.stability`); None for one copy."""
    capped: Optional[List[bool]] = None
    """With ``samples="auto"``: whether each map stopped at ``max_samples`` short of its
    target stability."""

    def metadata(self, item: int) -> Dict[str, Any]:
        """``{"samples", "stability"}`` of map ``item``, and ``"capped"`` with auto."""
        facts: Dict[str, Any] = {"samples": self.samples[item],
                                 "stability": self.stability[item]}
        if self.capped is not None:
            facts["capped"] = self.capped[item]
        return facts


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
) -> Smoothed:
    """The gradients of the ``score`` of each image's class with respect to its input (or
    to ``variable``) at ``smoothing.samples`` noisy copies of it, reduced to one map per
    image by ``smoothing.variant``: SmoothGrad.

    :param images: float32 ``(n,) + model.input_shape``, preprocessed.
    :param class_indices: one class per image.
    :param batch_size: copies per pass; None: :func:`~.gradients.default_batch_size` of all
        the copies, or :func:`auto_batch_size` with ``samples="auto"``.
    :param threads: passes run at once; None: :func:`~.gradients.default_threads`.
    :param variable: a key of the graph's ``variables``: the gradients with respect to that
        variable (an intermediate one, say) instead of the input.
    :returns: the maps (of ``variable``'s shape if given), with the copies each reduces and
        its stability.
    """
    context = device.context()
    usual = default_threads(device)
    batch_size = batch_size or (auto_batch_size(model, usual, score) if smoothing.auto else
                                default_batch_size(model, len(images) * smoothing.most,
                                                   usual, score))
    threads = threads or usual
    seeds = smoothing.seeds(len(images))
    wanted = smoothing.sums
    host = on_host(device)
    reducers: Dict[Tuple[int, int, int], _Reducer] = {}
    build_lock = threading.Lock()

    def work(worker: int, segments: List[Segment]) -> Sums:
        inputs = concatenate([
            NoisyCopies(images[s.item], smoothing.noise_level, seeds[s.item], smoothing.most,
                        on_host=host).rows(s.start, s.stop)
            for s in segments])
        rows = np.concatenate([np.full(s.stop - s.start, class_indices[s.item])
                               for s in segments])
        grads = gradient_pass(model, inputs, rows, score=score, replica=worker, device=device,
                              variable=variable)
        if host:
            return _host_sums(grads.data, segments, wanted)
        key = (worker, len(rows), len(segments))
        if key not in reducers:
            with build_lock:
                reducers[key] = _Reducer(grads.shape, len(segments), wanted)
        return reducers[key](grads, segments)

    shape = images.shape if variable is None else (
        (len(images),) + model.graph(1).variables[variable].shape[1:])
    with model.lock, nn.context_scope(context):
        return _smooth(smoothing, shape, batch_size,
                       lambda passes: ordered_map(work, passes, threads))


def smoothed_maps(
    model: LoadedModel,
    explain: Callable[[np.ndarray, np.ndarray], np.ndarray],
    images: np.ndarray,
    class_indices: Sequence[int],
    smoothing: Smoothing,
    batch_size: Optional[int] = None,
) -> Smoothed:
    """``explain(copies, classes)``'s maps of ``smoothing.samples`` noisy copies of each
    image, reduced to one map per image by ``smoothing.variant``.

    :param explain: maps (``(k,) + model.input_shape``) of ``k`` images for one class each.
    :param images: float32 ``(n,) + model.input_shape``, preprocessed.
    :param class_indices: one class per image.
    :param batch_size: copies per call of ``explain``; None: as many as one pass of input
        gradients may hold within the memory budget (at most 256), so that memory stays
        bounded however many images and samples there are; with ``samples="auto"``,
        :func:`auto_batch_size` for one thread.
    :returns: the maps, with the copies each reduces and its stability.
    """
    batch_size = batch_size or (auto_batch_size(model, 1) if smoothing.auto else
                                default_batch_size(model, len(images) * smoothing.most, 1))
    seeds = smoothing.seeds(len(images))

    def run(segments: List[Segment]) -> Sums:
        copies = np.concatenate([smoothing.copies(images[s.item], seeds[s.item], s.start,
                                                  s.stop) for s in segments])
        rows = np.concatenate([np.full(s.stop - s.start, class_indices[s.item])
                               for s in segments])
        maps = np.asarray(explain(copies, rows), dtype=np.float32)
        return _host_sums(maps, segments, smoothing.sums)

    return _smooth(smoothing, images.shape, batch_size, lambda passes: map(run, passes))


def _smooth(smoothing: Smoothing, shape: Tuple[int, ...], batch_size: int,
            run: Callable[[List[List[Segment]]], Iterable[Sums]]) -> Smoothed:
    """Run the passes of each round (``run(passes)`` yields their sums in order) and add
    them up: one round of ``smoothing.samples`` copies, or with auto, rounds up to each
    check for the images whose maps are not yet stable."""
    sums = _Sums(smoothing, shape)
    active = list(range(shape[0]))
    done = 0
    for target in smoothing.checks():
        passes = plan_passes([Segment(item, done, target) for item in active], batch_size)
        for segments, partial in zip(passes, run(passes)):
            sums.add(segments, partial)
        done = target
        if smoothing.auto:
            active = [i for i in active
                      if not converged(sums.stability(i), smoothing.stability)]
            if not active:
                break
    items = range(shape[0])
    return Smoothed(np.stack([sums.map(i) for i in items]).astype(np.float32),
                    [int(sums.counts[i]) for i in items], [sums.stability(i) for i in items],
                    [i in active for i in items] if smoothing.auto else None)


class _Sums:
    """Per image, float64 sums of the maps of its copies (or of their squares), over all of
    them and over those of even sample index, added pass by pass in pass order."""

    def __init__(self, smoothing: Smoothing, shape: Tuple[int, ...]):
        self.smoothing = smoothing
        self.all = {name: np.zeros(shape) for name in smoothing.sums}
        self.even = {name: np.zeros(shape) for name in smoothing.sums}
        self.counts = np.zeros(shape[0], dtype=np.int64)

    def add(self, segments: List[Segment], partial: Sums) -> None:
        """Add a pass's sums (see :data:`Sums`)."""
        for i, s in enumerate(segments):
            self.counts[s.item] += s.stop - s.start
            for name, values in partial.items():
                self.all[name][s.item] += values[0, i]
                self.even[name][s.item] += values[1, i]

    def map(self, item: int) -> np.ndarray:
        """Image ``item``'s map, float64."""
        return self.smoothing.map({n: t[item] for n, t in self.all.items()},
                                  int(self.counts[item]))

    def stability(self, item: int) -> Optional[float]:
        """The split-half stability of image ``item``'s map; None below two copies."""
        evens, odds = half_counts(int(self.counts[item]))
        if odds == 0:
            return None
        even = {n: t[item] for n, t in self.even.items()}
        odd = {n: self.all[n][item] - t for n, t in even.items()}
        return split_half(self.smoothing.map(even, evens), self.smoothing.map(odd, odds))


def _host_sums(maps: np.ndarray, segments: List[Segment], wanted: Tuple[str, ...]) -> Sums:
    """The map rows of each segment of a pass added up (``sums``), or their squares
    (``squares``), all of them and those of even sample index: see :data:`Sums`."""
    out = {name: np.empty((2, len(segments)) + maps.shape[1:]) for name in wanted}
    row = 0
    for i, s in enumerate(segments):
        rows = maps[row:row + s.stop - s.start]
        row += s.stop - s.start
        for name in wanted:
            values = rows if name == "sums" else np.square(rows)
            out[name][0, i] = values.sum(axis=0, dtype=np.float64)
            out[name][1, i] = values[s.start % 2::2].sum(axis=0, dtype=np.float64)
    return out


class _Reducer:
    """:func:`_host_sums` as a graph on the device: products of the gradient rows, or of
    their squares, with a 0/1 matrix of the rows of each segment and of its rows of even
    sample index."""

    def __init__(self, shape: Tuple[int, ...], width: int, wanted: Tuple[str, ...]):
        self.grads = nn.Variable(shape)
        self.members = nn.Variable((2 * width, shape[0]))
        self.layout: Optional[List[Tuple[int, int]]] = None
        rows = {"sums": lambda: self.grads, "squares": lambda: F.pow_scalar(self.grads, 2.0)}
        self.outputs = {name: F.affine(self.members, rows[name]()) for name in wanted}

    def __call__(self, grads: "nn.NdArray", segments: List[Segment]) -> Sums:
        layout = [(s.start, s.stop) for s in segments]
        if layout != self.layout:
            width = len(segments)
            members = np.zeros(self.members.shape, dtype=np.float32)
            first = 0
            for i, (start, stop) in enumerate(layout):
                members[i, first:first + stop - start] = 1.0
                members[width + i, first + start % 2:first + stop - start:2] = 1.0
                first += stop - start
            self.members.d = members
            self.layout = layout
        self.grads.data = grads
        nn.forward_all(list(self.outputs.values()), clear_no_need_grad=True)
        return {name: np.array(v.d, dtype=np.float64).reshape((2, len(segments)) + v.shape[1:])
                for name, v in self.outputs.items()}
