"""The noisy-gradient kernel: gradients of one class score over batches of noisy copies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from xaikit import LoadedModel
from xaikit.gradients import input_gradients


@dataclass
class GradientMoments:
    """Per-pixel sums over the noisy samples: of the gradient and of its square."""

    count: int
    sum: np.ndarray
    sum_sq: np.ndarray

    def mean(self) -> np.ndarray:
        return self.sum / self.count

    def mean_sq(self) -> np.ndarray:
        return self.sum_sq / self.count


def noise_sigma(image: np.ndarray, noise_level: float) -> float:
    """SmoothGrad's noise: ``noise_level`` times the value range of the preprocessed image."""
    return float(noise_level) * float(np.max(image) - np.min(image))


def noisy_gradients(
    model: LoadedModel,
    image: np.ndarray,
    class_index: int,
    *,
    noise_level: float,
    num_samples: int,
    batch_size: int,
    seed: Optional[int] = None,
) -> GradientMoments:
    """Gradients of ``model``'s output ``class_index`` at ``num_samples`` noisy copies of ``image``.

    Copies are evaluated ``batch_size`` at a time. The noise is drawn sample by sample from
    one generator seeded with ``seed``, so a seed gives the same noise at any batch size.
    """
    rng = np.random.default_rng(seed)
    sigma = noise_sigma(image, noise_level)
    total = np.zeros(image.shape, dtype=np.float64)
    total_sq = np.zeros(image.shape, dtype=np.float64)
    done = 0
    while done < num_samples:
        n = min(batch_size, num_samples - done)
        noise = rng.standard_normal((n,) + image.shape) * sigma
        grads = input_gradients(model, (image[None] + noise).astype(np.float32), class_index)
        total += grads.sum(axis=0, dtype=np.float64)
        total_sq += np.square(grads, dtype=np.float64).sum(axis=0)
        done += n
    return GradientMoments(num_samples, total, total_sq)

