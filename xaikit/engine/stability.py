"""How settled a map made from noisy samples is, and when to stop drawing samples.

A map made from ``n`` noisy samples is a function of per-pixel means over them (the mean
gradient, the mean squared gradient, the variance of the gradients). Its samples of even
and of odd index make two independent maps of ``n / 2`` samples each; their Pearson
correlation ``r`` (over the pixels of the maps summed over channels) says how well two
half-count maps agree, and Spearman-Brown's ``2r / (1 + r)`` carries it to ``n`` samples:
the **stability** of the map, the correlation it is expected to have with another map of
the same image made from other noise. It is the map's reliability in the psychometric
sense; the correlation with the map of infinitely many samples is about its square root.

Even and odd halves rather than first and second: each pass adds to both, so the halves
cost no extra pass and stay defined as samples are added.
"""

from __future__ import annotations

import math
from typing import List, Optional

import numpy as np

FIRST_CHECK = 16
"""Samples drawn before ``num_samples="auto"`` first measures the stability; later checks
are multiples of it too."""
GROWTH = 4
"""Each further check adds about ``1 / GROWTH`` of the samples drawn so far (at least
:data:`FIRST_CHECK`), so ``auto`` draws at most some 25% more samples than it needs."""


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two arrays, in float64; 1 for two equal constant arrays and
    0 when only one of them is constant."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    a, b = a - a.mean(), b - b.mean()
    norm = math.sqrt(float(a @ a) * float(b @ b))
    if norm == 0:
        return 1.0 if np.array_equal(a, b) else 0.0
    return float(np.clip((a @ b) / norm, -1.0, 1.0))


def spearman_brown(r: float) -> float:
    """The correlation ``r`` of two half-count maps carried to the full count:
    ``2r / (1 + r)``; 0 for ``r <= 0`` (two maps of the same image do not disagree on
    average: a negative ``r`` is noise)."""
    return 2 * r / (1 + r) if r > 0 else 0.0


def split_half(even: np.ndarray, odd: np.ndarray) -> float:
    """The stability of a map whose samples of even and odd index make the maps ``even``
    and ``odd`` (``(C, H, W)``, or an intermediate variable's ``(C, L)`` or ``(units,)``):
    their correlation summed over channels (a map of one axis as it is), Spearman-Brown
    corrected."""
    def pixels(m: np.ndarray) -> np.ndarray:
        return np.sum(m, axis=0) if m.ndim > 1 else m

    return spearman_brown(pearson(pixels(even), pixels(odd)))


def half_counts(samples: int) -> tuple:
    """Samples of even and of odd index among ``samples``."""
    return (samples + 1) // 2, samples // 2


def checks(max_samples: int) -> List[int]:
    """The sample counts at which ``num_samples="auto"`` measures the stability: multiples
    of :data:`FIRST_CHECK` growing by about ``1 / GROWTH`` each time, then ``max_samples``.

    They depend on ``max_samples`` alone, so a seed gives the same stopping point whatever
    the batch size, thread count or other images of a call.
    """
    counts = []
    count = FIRST_CHECK
    while count < max_samples:
        counts.append(count)
        count += FIRST_CHECK * math.ceil(count / (GROWTH * FIRST_CHECK))
    return counts + [max_samples]


def converged(stability: Optional[float], target: float) -> bool:
    """Whether a map of ``stability`` needs no more samples."""
    return stability is not None and stability >= target
