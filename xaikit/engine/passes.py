"""The noisy-gradient kernel: SmoothGrad's gradients over batches of noisy copies.

The samples of all images of a call are cut, in order, into passes of ``batch_size``
copies; a pass may hold the last copies of one image and the first of the next, each row
differentiated for its own image's class. Passes run in ``threads`` threads, each drawing
its noisy copies (see :mod:`.noise`) and running them through a graph replica of its own.
Each pass is reduced where its gradients are to per-image sums of the gradients or of
their squares, over all its rows and over those of even sample index (the two halves
whose maps give the stability, :mod:`.stability`), and the host adds these in pass order,
in float64: the thread count cannot change a map.

With ``num_samples="auto"`` the samples come in rounds: every image still unsettled gets
the samples up to the next of :func:`.stability.checks`, in whole passes of its own, and
leaves once its map's stability reaches the target.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from xaikit import LoadedModel, ParameterError
from xaikit.engine.backend import CPU, Device, F, nn
from xaikit.engine.gradients import bytes_per_sample, gradient_pass
from xaikit.engine.noise import NoisyCopies, concatenate, fresh_seed
from xaikit.engine.stability import FIRST_CHECK, checks, converged, half_counts, split_half
from xaikit.engine.threads import cpu_cores, ordered_map

VARIANTS = ("smoothgrad_sq", "smoothgrad", "vargrad")
"""Mean of squared gradients (NNC's map), mean gradient, variance of the gradients."""
QUANTITIES = {"smoothgrad_sq": ("squares",), "smoothgrad": ("sums",),
              "vargrad": ("sums", "squares")}
"""What each variant adds up over the gradients: the gradients, their squares."""
AUTO = "auto"
"""``num_samples`` that draws samples until the map is stable."""

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


def on_host(device: Device) -> bool:
    """Whether numpy draws the noise and adds up the gradients: on the CPU, where the host
    is the device and numpy is faster than nnabla's elementwise kernels; on a GPU, nnabla
    does both there."""
    return device.name == "cpu"


def default_threads(device: Device) -> int:
    """CPU: one thread per core (nnabla's CPU kernels use one each); a GPU: one."""
    return min(cpu_cores(), MAX_AUTO_THREADS) if device.name == "cpu" else 1


def memory_batch_size(model: LoadedModel, threads: int, score: str = "output") -> int:
    """Most copies per pass that keep the passes of ``threads`` threads within the budget."""
    return max(1, MEMORY_BUDGET // (threads * bytes_per_sample(model, score)))


def default_batch_size(model: LoadedModel, total_samples: int, threads: int,
                       score: str = "output") -> int:
    """Copies per pass: a pass for each of ``threads``, all of them within the budget.

    Runs pass it the default thread count whatever the thread count asked for, so that
    asking for another one changes neither the batch size nor, therefore, the map.
    """
    return max(1, min(MAX_AUTO_BATCH, memory_batch_size(model, threads, score),
                      math.ceil(total_samples / threads)))


def auto_batch_size(model: LoadedModel, threads: int, score: str = "output") -> int:
    """Copies per pass of ``num_samples="auto"``: the largest power of two that divides
    :data:`~.stability.FIRST_CHECK` among ``threads`` and stays within the budget, so that
    the samples between two checks fill whole passes of one image each."""
    most = min(memory_batch_size(model, threads, score), max(1, FIRST_CHECK // threads))
    return 2 ** int(math.log2(most))


@dataclass(frozen=True)
class NoisyMaps:
    """What :func:`noisy_gradient_maps` made: a map per image and how settled each is."""

    maps: np.ndarray
    """float32 ``(n,) + model.input_shape``."""
    samples: List[int]
    """Noisy copies each map averages."""
    stability: List[Optional[float]]
    """Each map's split-half stability (see :mod:`.stability`); None for one sample."""
    capped: Optional[List[bool]] = None
    """With ``num_samples="auto"``: whether each map stopped at ``max_samples`` short of
    the stability asked for."""

    def metadata(self, item: int) -> Dict[str, Any]:
        """``{"samples", "stability"}`` (and ``"capped"`` with ``auto``) of map ``item``."""
        facts: Dict[str, Any] = {"samples": self.samples[item],
                                 "stability": self.stability[item]}
        if self.capped is not None:
            facts["capped"] = self.capped[item]
        return facts


def noisy_gradient_maps(
    model: LoadedModel,
    images: np.ndarray,
    class_indices: Sequence[int],
    *,
    noise_level: float,
    num_samples: Union[int, str],
    variant: str = "smoothgrad_sq",
    score: str = "output",
    seed: Optional[int] = None,
    batch_size: Optional[int] = None,
    threads: Optional[int] = None,
    device: Device = CPU,
    stability: float = 0.95,
    max_samples: int = 1000,
) -> NoisyMaps:
    """One SmoothGrad map per image: ``variant`` of the gradients of the ``score`` of each
    image's class at ``num_samples`` noisy copies of it, with its stability.

    :param images: float32 ``(n,) + model.input_shape``, preprocessed.
    :param num_samples: copies per image, or ``"auto"``: copies drawn a few passes at a
        time per image until its map's stability reaches ``stability``, or
        ``max_samples``; the stability is measured at :func:`.stability.checks`.
    :param seed: seeds every image's noise (see :mod:`.noise`); None: fresh noise per image.
    :param batch_size: copies per pass; None: :func:`default_batch_size`, or
        :func:`auto_batch_size` for ``"auto"``.
    :param threads: passes run at once; None: :func:`default_threads`.
    """
    if variant not in VARIANTS:
        raise ParameterError(f"variant: {variant!r} is not one of {', '.join(VARIANTS)}")
    auto = num_samples == AUTO
    drawn = max_samples if auto else int(num_samples)
    usual_threads = default_threads(device)
    if auto:
        batch_size = batch_size or auto_batch_size(model, usual_threads, score)
    else:
        batch_size = batch_size or default_batch_size(model, len(images) * drawn,
                                                      usual_threads, score)
    threads = threads or usual_threads
    seeds = [fresh_seed() if seed is None else seed for _ in images]
    wanted = QUANTITIES[variant]
    host = on_host(device)
    reducers: Dict[Tuple[int, int, int], _Reducer] = {}
    build_lock = threading.Lock()

    def work(worker: int, segments: List[Segment]) -> Dict[str, np.ndarray]:
        inputs = concatenate([
            NoisyCopies(images[s.item], noise_level, seeds[s.item], drawn,
                        on_host=host).rows(s.start, s.stop)
            for s in segments])
        rows = np.concatenate([np.full(s.stop - s.start, class_indices[s.item]) for s in segments])
        grads = gradient_pass(model, inputs, rows, score=score, replica=worker, device=device)
        if host:
            return _host_sums(grads.data, segments, wanted)
        key = (worker, len(rows), len(segments))
        if key not in reducers:
            with build_lock:
                reducers[key] = _Reducer(grads.shape, len(segments), wanted)
        return reducers[key](grads, segments)

    sums = _Sums(images.shape, wanted)
    active = list(range(len(images)))
    done = 0
    with model.lock, nn.context_scope(device.context()):
        for target in checks(max_samples) if auto else [drawn]:
            passes = plan_passes([Segment(item, done, target) for item in active], batch_size)
            for segments, partials in zip(passes, ordered_map(work, passes, threads)):
                sums.add(segments, partials)
            done = target
            if auto:
                active = [i for i in active if not converged(sums.stability(variant, i), stability)]
                if not active:
                    break
    maps = np.stack([sums.map(variant, i) for i in range(len(images))]).astype(np.float32)
    settled = [sums.stability(variant, i) for i in range(len(images))]
    return NoisyMaps(maps, [int(n) for n in sums.counts], settled,
                     [item in active for item in range(len(images))] if auto else None)


def variant_map(variant: str, totals: Dict[str, np.ndarray], count: int) -> np.ndarray:
    """The ``variant`` map of ``count`` gradients from their ``totals`` (float64)."""
    means = {name: total / count for name, total in totals.items()}
    if variant == "vargrad":
        return np.maximum(means["squares"] - np.square(means["sums"]), 0.0)
    return means[QUANTITIES[variant][0]]


class _Sums:
    """Per image, float64 sums of the wanted quantities over its gradients and over those
    of even sample index, added pass by pass in pass order."""

    def __init__(self, shape: Tuple[int, ...], wanted: Tuple[str, ...]):
        self.all = {name: np.zeros(shape) for name in wanted}
        self.even = {name: np.zeros(shape) for name in wanted}
        self.counts = np.zeros(shape[0], dtype=np.int64)

    def add(self, segments: List[Segment], partials: Dict[str, np.ndarray]) -> None:
        """Add a pass's sums: per quantity, ``(2, len(segments)) + image shape``, over all
        rows of each segment and over its rows of even sample index."""
        for i, s in enumerate(segments):
            self.counts[s.item] += s.stop - s.start
            for name, partial in partials.items():
                self.all[name][s.item] += partial[0, i]
                self.even[name][s.item] += partial[1, i]

    def map(self, variant: str, item: int) -> np.ndarray:
        return variant_map(variant, {n: t[item] for n, t in self.all.items()},
                           int(self.counts[item]))

    def stability(self, variant: str, item: int) -> Optional[float]:
        """The split-half stability of ``item``'s map; None below two samples."""
        evens, odds = half_counts(int(self.counts[item]))
        if odds == 0:
            return None
        even = {n: t[item] for n, t in self.even.items()}
        odd = {n: self.all[n][item] - t for n, t in even.items()}
        return split_half(variant_map(variant, even, evens), variant_map(variant, odd, odds))


def _host_sums(grads: np.ndarray, segments: List[Segment],
               wanted: Tuple[str, ...]) -> Dict[str, np.ndarray]:
    """The gradient rows of each segment of a pass added up (``sums``), or their squares
    (``squares``), all of them and those of even sample index: per wanted quantity, float64
    ``(2, len(segments)) + image shape``."""
    out = {name: np.empty((2, len(segments)) + grads.shape[1:]) for name in wanted}
    row = 0
    for i, s in enumerate(segments):
        rows = grads[row:row + s.stop - s.start]
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

    def __call__(self, grads: "nn.NdArray", segments: List[Segment]) -> Dict[str, np.ndarray]:
        """Per wanted quantity, float64 ``(2, len(segments)) + image shape``."""
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
