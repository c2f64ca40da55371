"""How alike two maps are: what the sanity checks (randomisation, random logit) measure."""

from __future__ import annotations

import numpy as np
from scipy import stats


def magnitude(attribution: np.ndarray) -> np.ndarray:
    """A pixel's importance whatever its sign: ``|map|`` summed over channels, ``(H, W)``."""
    return np.abs(attribution.astype(np.float64)).sum(axis=0)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two maps' pixel magnitudes; 0 when either map is
    constant (its ranks say nothing)."""
    x, y = magnitude(a).ravel(), magnitude(b).ravel()
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return 0.0
    return float(stats.spearmanr(x, y)[0])


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson's correlation of two samples; 0 when either is constant."""
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Structural similarity (Wang et al., 2004) of two maps' pixel magnitudes, each scaled
    to [0, 1] by its maximum, in 7x7 windows (smaller for smaller maps)."""
    from skimage.metrics import structural_similarity  # imported when first needed: slow

    x, y = (_unit(magnitude(m)) for m in (a, b))
    side = min(x.shape)
    window = min(7, side if side % 2 else side - 1)
    if window < 3:
        return float(np.allclose(x, y))
    return float(structural_similarity(x, y, win_size=window, data_range=1.0))


def _unit(values: np.ndarray) -> np.ndarray:
    peak = values.max()
    return values / peak if peak > 0 else values
