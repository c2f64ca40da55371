"""Noise around any explainer: the run options ``smooth_samples``, ``smooth_noise_level``,
``smooth_variant`` and ``seed``, and running an explainer with them.

With ``smooth_samples`` set, an image's map is the explainer's maps of that many noisy
copies of the image reduced to one (:class:`xaikit.Smoothing`), through the explainer's
:meth:`~xaikit.Explainer.explain_smoothed`. ``seed`` is the run's: it seeds the noise, and
reaches the explainer's own ``seed`` parameter when its schema declares one.
"""

from __future__ import annotations

from typing import Any, Dict, List, Literal, Optional, Sequence, Tuple

import numpy as np
from pydantic import Field

from xaikit.engine.model import LoadedModel
from xaikit.engine.noise import Smoothing
from xaikit.plugin.explainer import Attribution, Explainer
from xaikit.plugin.params import Params, SampleCount, validate

SEED = "seed"
"""The run option that an explainer's parameter of the same name receives."""


class SmoothParams(Params):
    """Run options that smooth any explainer's map over noisy copies of the image."""

    smooth_samples: Optional[SampleCount] = Field(
        None,
        description="Explain this many noisy copies of the image (≥ 1) and reduce their "
        "maps to one (--smooth-variant): SmoothGrad's noise around any explainer; auto: "
        "as many as the map needs to reach --smooth-stability. Default: off.",
    )
    smooth_noise_level: float = Field(
        0.15,
        ge=0.0,
        le=1.0,
        allow_inf_nan=False,
        description="Noise standard deviation of the --smooth-samples copies as a fraction "
        "of the preprocessed image's value range (max - min), as SmoothGrad's noise_level.",
    )
    smooth_variant: Literal["smoothgrad", "smoothgrad_sq", "vargrad"] = Field(
        "smoothgrad",
        description="How the copies' maps make one: smoothgrad, their mean; smoothgrad_sq, "
        "the mean of their squares; vargrad, their variance.",
    )
    smooth_stability: float = Field(
        0.95,
        gt=0.0,
        lt=1.0,
        description="With --smooth-samples auto: the stability at which to stop, the "
        "correlation expected between this map and another made from other noise.",
    )
    smooth_max_samples: int = Field(
        1000,
        ge=2,
        description="With --smooth-samples auto: the most noisy copies per image.",
    )
    seed: Optional[int] = Field(
        None,
        ge=0,
        le=2**32 - 1,
        description="Seed of the noise, of --smooth-samples and of explainers that draw "
        "noise: the same seed gives the same noise at any batch size and thread count; "
        "every image of a run gets the same seed. Default: fresh noise each run.",
    )

    def smoothing(self) -> Optional[Smoothing]:
        """The noise these options ask for; None without ``smooth_samples``."""
        if self.smooth_samples is None:
            return None
        return Smoothing(self.smooth_samples, self.smooth_noise_level, self.smooth_variant,
                         self.seed, self.smooth_stability, self.smooth_max_samples)

    def recorded(self, mode: str = "python") -> Dict[str, Any]:
        """What an explanation records of these options: all of them when smoothing, else
        nothing (the explainer's own ``seed`` records the seed it used)."""
        return {} if self.smooth_samples is None else self.model_dump(mode=mode)


def split_params(explainer: Explainer, values: Dict[str, Any]) -> Tuple[Params, SmoothParams]:
    """The explainer's parameters and the smoothing options among ``values``, validated.

    The run's ``seed`` is also the explainer's when its ``Params`` declare a ``seed``.
    """
    run = validate(SmoothParams, {k: v for k, v in values.items()
                                  if k in SmoothParams.model_fields})
    own = {k: v for k, v in values.items() if k not in SmoothParams.model_fields}
    if SEED in explainer.Params.model_fields and run.seed is not None:
        own[SEED] = run.seed
    return validate(explainer.Params, own), run


def explain_image(explainer: Explainer, model: LoadedModel, image: np.ndarray,
                  class_index: int, params: Params, smooth: SmoothParams) -> Attribution:
    """The explainer's result for one preprocessed image, smoothed as ``smooth`` asks."""
    if smooth.smoothing() is None:
        return Attribution.of(explainer.explain(model, image, class_index, params))
    return explain_images(explainer, model, image[None], [class_index], params, smooth)[0]


def explain_images(explainer: Explainer, model: LoadedModel, images: np.ndarray,
                   class_indices: Sequence[int], params: Params,
                   smooth: SmoothParams) -> List[Attribution]:
    """The explainer's results for a batch of preprocessed images, smoothed as ``smooth``
    asks: through :meth:`~xaikit.Explainer.explain_smoothed`, else ``explain_batch``."""
    smoothing = smooth.smoothing()
    if smoothing is None:
        results = explainer.explain_batch(model, images, class_indices, params)
    else:
        results = explainer.explain_smoothed(model, images, class_indices, params, smoothing)
    return [Attribution.of(result) for result in results]
