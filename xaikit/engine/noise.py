"""Seeded noisy copies of images (SmoothGrad's noise), drawn on the device that evaluates
them, and :class:`Smoothing`, which says how many and how their maps make one.

Seeds: sample ``j`` of an image is row ``j % B`` of noise block ``j // B``, drawn with a
seed derived from ``(seed, j // B)``; ``B`` (:func:`block_samples`) depends on the image
size and the generator only. So an image's noise depends on the seed and the sample index
alone: not on the batch size, the thread count or the other images of a call. Every image
of a seeded call gets the same seed.

On a GPU, nnabla's ``randn`` draws the noise there, and no noisy copy crosses to the host.
On the CPU, the device is the host, and numpy's generator draws it (twice as fast as
nnabla's CPU ``randn``). The two generators differ, so a seeded map differs between the
CPU and a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple, Union

import numpy as np

from xaikit.engine.backend import CPU, F, nn
from xaikit.engine.stability import checks
from xaikit.plugin.errors import ParameterError

NOISE_BLOCK_BYTES = {True: 64 * 2**10, False: 4 * 2**20}
"""Noise drawn at a time for one image, on the host (numpy) and on the device (nnabla):
a pass that needs part of a block draws all of it, and each draw on the device costs
nnabla some 0.2 ms."""

Array = Union[np.ndarray, "nn.NdArray"]

VARIANTS = ("smoothgrad", "smoothgrad_sq", "vargrad")
"""How the maps ``m_1 ... m_n`` of an image's noisy copies make one map: their mean
(SmoothGrad), the mean of their squares (SmoothGrad-SQ, NNC's SmoothGrad map) or their
variance, 1/n (VarGrad)."""

_SUMS = {"smoothgrad": ("sums",), "smoothgrad_sq": ("squares",),
         "vargrad": ("sums", "squares")}


AUTO = "auto"
"""``Smoothing.samples`` that draws copies until the map is stable."""


@dataclass(frozen=True)
class Smoothing:
    """Noise around an explainer: its maps of ``samples`` noisy copies of each image,
    reduced to one map by ``variant`` (see :data:`VARIANTS`).

    Copy ``j`` of an image ``x`` is ``x`` plus Gaussian noise of standard deviation
    ``noise_level * (max(x) - min(x))``, drawn from the image's seed and ``j`` alone: the
    copies do not depend on how they are batched or threaded. ``seed`` seeds every image's
    noise; None gives each image fresh noise.

    ``samples="auto"`` draws copies until the map's stability (see
    :mod:`xaikit.engine.stability`) reaches ``stability``, or ``max_samples`` copies;
    with a number of samples, those two are not used.
    """

    samples: Union[int, str]
    noise_level: float = 0.15
    variant: str = "smoothgrad"
    seed: Optional[int] = None
    stability: float = 0.95
    max_samples: int = 1000

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ParameterError(f"variant: {self.variant!r} is not one of "
                                 f"{', '.join(VARIANTS)}")
        if not self.auto and not (isinstance(self.samples, int) and self.samples >= 1):
            raise ParameterError(f"samples: {self.samples!r} is neither at least 1 nor "
                                 f"{AUTO!r}")
        if not self.noise_level >= 0:
            raise ParameterError(f"noise_level: {self.noise_level} is not at least 0")
        if self.auto and not 0 < self.stability < 1:
            raise ParameterError(f"stability: {self.stability} is not between 0 and 1")
        if self.auto and not self.max_samples >= 2:
            raise ParameterError(f"max_samples: {self.max_samples} is not at least 2")

    @property
    def auto(self) -> bool:
        """Whether the copies are drawn until the map is stable."""
        return self.samples == AUTO

    @property
    def most(self) -> int:
        """The most copies an image may get: ``samples``, or ``max_samples`` with auto."""
        return self.max_samples if self.auto else int(self.samples)

    def checks(self) -> List[int]:
        """The copies after which the maps' stability is measured, the last one ending it:
        ``[samples]``, or :func:`.stability.checks` with auto."""
        return checks(self.max_samples) if self.auto else [int(self.samples)]

    def seeds(self, n: int) -> List[int]:
        """The noise seed of each of ``n`` images: ``seed``, or fresh ones."""
        return [fresh_seed() if self.seed is None else self.seed for _ in range(n)]

    def copies(self, image: np.ndarray, seed: int, start: int = 0,
               stop: Optional[int] = None) -> np.ndarray:
        """Copies ``start`` to ``stop - 1`` (default: to the last) of ``image`` with the
        noise of ``seed``: float32 ``(stop - start,) + image.shape``, drawn on the host."""
        stop = self.most if stop is None else stop
        return NoisyCopies(image, self.noise_level, seed, self.most,
                           on_host=True).rows(start, stop)

    @property
    def sums(self) -> Tuple[str, ...]:
        """What :meth:`map` needs per image: ``"sums"`` of the maps, ``"squares"``."""
        return _SUMS[self.variant]

    def map(self, totals: Dict[str, np.ndarray], count: int) -> np.ndarray:
        """The map (float64) of ``count`` copies from their float64 ``totals``: for each
        name of :attr:`sums`, the sum of the copies' maps or of their squares."""
        means = {name: total / count for name, total in totals.items()}
        if self.variant == "vargrad":
            return np.maximum(means["squares"] - np.square(means["sums"]), 0.0)
        return means[self.sums[0]]


def noise_sigma(image: np.ndarray, noise_level: float) -> float:
    """SmoothGrad's noise: ``noise_level`` times the value range of the preprocessed image."""
    return float(noise_level) * float(np.max(image) - np.min(image))


def block_samples(image_shape: Tuple[int, ...], on_host: bool = True) -> int:
    """Noisy copies per noise block of an image of ``image_shape``."""
    return max(1, NOISE_BLOCK_BYTES[on_host] // (4 * int(np.prod(image_shape))))


def block_seed(seed: int, block: int) -> int:
    """nnabla's seed for noise block ``block`` of an image explained with ``seed``."""
    state = np.random.SeedSequence([seed, block]).generate_state(1)[0]
    return int(state) & 0x7FFFFFFF


def fresh_seed() -> int:
    """A seed for a run without one."""
    return int(np.random.SeedSequence().entropy)


class NoisyCopies:
    """The noisy copies of one image, drawn block by block as they are asked for.

    :param on_host: draw with numpy, as numpy arrays (for the CPU), rather than with
        nnabla's ``randn`` on the current device, as ``nn.NdArray`` (for a GPU).
    """

    def __init__(self, image: np.ndarray, noise_level: float, seed: int, num_samples: int, *,
                 on_host: bool):
        self.image = np.ascontiguousarray(image, dtype=np.float32)
        self.sigma = noise_sigma(image, noise_level)
        self.seed = seed
        self.num_samples = num_samples
        self.block = block_samples(image.shape, on_host)
        self.on_host = on_host

    def rows(self, start: int, stop: int) -> Array:
        """Copies ``start`` to ``stop - 1``: ``(stop - start,) + image.shape``."""
        pieces = []
        while start < stop:
            index = start // self.block
            block = self._block(index)
            first = start - index * self.block
            last = min(stop - index * self.block, block.shape[0])
            pieces.append(block if (first, last) == (0, block.shape[0]) else block[first:last])
            start = index * self.block + last
        return concatenate(pieces)

    def _block(self, index: int) -> Array:
        shape = (min(self.block, self.num_samples - index * self.block),) + self.image.shape
        seed = block_seed(self.seed, index)
        if self.on_host:
            noise = np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)
            noise *= np.float32(self.sigma)
            noise += self.image
            return noise
        image = nn.NdArray.from_numpy_array(self.image[None])
        if self.sigma == 0:  # nnabla's randn refuses sigma 0
            return F.broadcast(image, shape)
        noise = F.randn(0.0, self.sigma, shape, seed=seed)
        noise.forward()
        return F.add2(noise.data, image)


def concatenate(pieces: List[Array]) -> Array:
    """Arrays of copies, end to end (numpy's or nnabla's, as they are)."""
    if len(pieces) == 1:
        return pieces[0]
    if isinstance(pieces[0], np.ndarray):
        return np.concatenate(pieces)
    return F.concatenate(*pieces, axis=0)


def host_copies(image: np.ndarray, noise_level: float, seed: int, num_samples: int, *,
                on_host: bool = True) -> np.ndarray:
    """The noisy copies the kernel evaluates for ``image`` (on the CPU by default), on the
    host (for tests)."""
    with nn.context_scope(CPU.context()):
        copies = NoisyCopies(image, noise_level, seed, num_samples, on_host=on_host).rows(
            0, num_samples)
        return copies if on_host else np.array(copies.data)
