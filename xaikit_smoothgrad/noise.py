"""SmoothGrad's noisy copies of an image, drawn on the device that evaluates them.

Seeds: sample ``j`` of an image is row ``j % B`` of noise block ``j // B``, drawn with a
seed derived from ``(seed, j // B)``; ``B`` (:func:`block_samples`) depends on the image
size only. So an image's noise depends on the seed and the sample index alone: not on the
batch size, the thread count or the other images of a call. Every image of a seeded call
gets the same seed.

On a GPU, nnabla's ``randn`` draws the noise there, and no noisy copy crosses to the host.
On the CPU, the device is the host, and numpy's generator draws it (twice as fast as
nnabla's CPU ``randn``). The two generators differ, so a seeded map differs between the
CPU and a GPU.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np

from xaikit.nnabla_backend import CPU, F, nn

NOISE_BLOCK_BYTES = 4 * 2**20
"""Noise drawn at a time for one image (fewer, longer draws are faster)."""


def noise_sigma(image: np.ndarray, noise_level: float) -> float:
    """SmoothGrad's noise: ``noise_level`` times the value range of the preprocessed image."""
    return float(noise_level) * float(np.max(image) - np.min(image))


def block_samples(image_shape: Tuple[int, ...]) -> int:
    """Noisy copies per noise block of an image of ``image_shape``."""
    return max(1, NOISE_BLOCK_BYTES // (4 * int(np.prod(image_shape))))


def block_seed(seed: int, block: int) -> int:
    """nnabla's seed for noise block ``block`` of an image explained with ``seed``."""
    state = np.random.SeedSequence([seed, block]).generate_state(1)[0]
    return int(state) & 0x7FFFFFFF


def fresh_seed() -> int:
    """A seed for a run without one."""
    return int(np.random.SeedSequence().entropy)


class NoisyCopies:
    """The noisy copies of one image, drawn as they are asked for, one block at a time; ask
    for them in increasing sample order, within the nnabla context that evaluates them.

    :param on_host: draw with numpy (for the CPU) rather than with nnabla's ``randn`` on the
        current device (for a GPU).
    """

    def __init__(self, image: np.ndarray, noise_level: float, seed: int, num_samples: int, *,
                 on_host: bool):
        self.shape = tuple(image.shape)
        self.sigma = noise_sigma(image, noise_level)
        self.seed = seed
        self.num_samples = num_samples
        self.block = block_samples(self.shape)
        self.on_host = on_host
        self._host_image = np.ascontiguousarray(image, dtype=np.float32)
        self._image = None if self.on_host else nn.NdArray.from_numpy_array(image[None])
        self._drawn: Tuple[Optional[int], Optional["nn.NdArray"]] = (None, None)

    def rows(self, start: int, stop: int) -> List["nn.NdArray"]:
        """Copies ``start`` to ``stop - 1``, as pieces to concatenate."""
        pieces = []
        while start < stop:
            index = start // self.block
            block = self._block(index)
            first = start - index * self.block
            last = min(stop - index * self.block, block.shape[0])
            if first == 0 and last == block.shape[0]:
                pieces.append(block)
            else:
                pieces.append(F.slice(block, (first,) + (0,) * len(self.shape),
                                      (last,) + self.shape))
            start = index * self.block + last
        return pieces

    def _block(self, index: int) -> "nn.NdArray":
        if self._drawn[0] != index:
            shape = (min(self.block, self.num_samples - index * self.block),) + self.shape
            seed = block_seed(self.seed, index)
            if self.on_host:
                noise = np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)
                noise *= np.float32(self.sigma)
                noise += self._host_image
                block = nn.NdArray.from_numpy_array(noise)
            elif self.sigma > 0:
                noise = F.randn(0.0, self.sigma, shape, seed=seed)
                noise.forward()
                block = F.add2(noise.data, self._image)
            else:  # nnabla's randn refuses sigma 0
                block = F.broadcast(self._image, shape)
            self._drawn = (index, block)
        return self._drawn[1]


def host_copies(image: np.ndarray, noise_level: float, seed: int, num_samples: int, *,
                on_host: bool = True) -> np.ndarray:
    """The noisy copies the kernel evaluates for ``image`` (on the CPU by default), copied
    to the host (for tests)."""
    with nn.context_scope(CPU.context()):
        copies = NoisyCopies(image, noise_level, seed, num_samples, on_host=on_host)
        return np.concatenate([np.array(p.data) for p in copies.rows(0, num_samples)])
