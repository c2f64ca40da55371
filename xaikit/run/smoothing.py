"""Noise around any explainer: the run options ``smooth_samples``, ``smooth_noise_level``,
``smooth_variant``, ``smooth_stability`` and ``smooth_max_samples`` (with the run's
``seed``), and running an explainer with them.

With ``smooth_samples`` set, an image's map is the explainer's maps of that many noisy
copies of the image reduced to one (:class:`xaikit.Smoothing`), through the explainer's
:meth:`~xaikit.Explainer.explain_smoothed`; the run's ``seed`` seeds the noise.
"""

from __future__ import annotations

from typing import Any, Dict, List, Literal, Optional, Sequence

import numpy as np
from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from xaikit.engine.model import LoadedModel
from xaikit.engine.noise import VARIANTS, Smoothing
from xaikit.plugin.explainer import Attribution, Explainer
from xaikit.plugin.params import Params, SampleCount


class SmoothParams(Params):
    """Run options that smooth any explainer's map over noisy copies of the image."""

    smooth_samples: Optional[SampleCount] = Field(
        None,
        description="Explain this many noisy copies of the image (1 to 1000000) and reduce "
        "their maps to one (--smooth-variant): SmoothGrad's noise around any explainer, "
        "seeded by --seed; auto: as many as the map needs to reach --smooth-stability. "
        "Default: off.",
    )
    smooth_noise_level: float = Field(
        0.15,
        ge=0.0,
        le=1.0,
        allow_inf_nan=False,
        description="Noise standard deviation of the --smooth-samples copies as a fraction "
        "of the preprocessed image's value range (max - min), as SmoothGrad's noise_level.",
    )
    smooth_variant: Literal[VARIANTS] = Field(
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
        le=1_000_000,
        description="With --smooth-samples auto: the most noisy copies per image.",
    )

    @field_validator("smooth_noise_level", "smooth_variant", "smooth_stability",
                     "smooth_max_samples")
    @classmethod
    def _only_when_smoothing(cls, value: Any, info: ValidationInfo) -> Any:
        """Refuse a value that would be ignored: any of these without ``smooth_samples``;
        stability and max_samples without ``auto``. Their defaults pass."""
        if "smooth_samples" not in info.data or value == cls.model_fields[info.field_name].default:
            return value
        auto = info.field_name in ("smooth_stability", "smooth_max_samples")
        samples = info.data["smooth_samples"]
        if samples is None or (auto and samples != "auto"):
            raise PydanticCustomError("unused", "applies only with --smooth-samples "
                                      + ("auto" if auto else "N or auto"))
        return value

    def smoothing(self, seed: Optional[int]) -> Optional[Smoothing]:
        """The noise these options ask for, seeded with the run's ``seed``; None without
        ``smooth_samples``."""
        if self.smooth_samples is None:
            return None
        return Smoothing(self.smooth_samples, self.smooth_noise_level, self.smooth_variant,
                         seed, self.smooth_stability, self.smooth_max_samples)


def recorded(smoothing: Optional[Smoothing]) -> Dict[str, Any]:
    """What an explanation's parameters record of the smoothing: the options and the seed
    when smoothing, else nothing."""
    if smoothing is None:
        return {}
    return {"smooth_samples": smoothing.samples, "smooth_noise_level": smoothing.noise_level,
            "smooth_variant": smoothing.variant, "smooth_stability": smoothing.stability,
            "smooth_max_samples": smoothing.max_samples, "seed": smoothing.seed}


def attribute_image(explainer: Explainer, model: LoadedModel, image: np.ndarray,
                  class_index: int, params: Params,
                  smoothing: Optional[Smoothing]) -> Attribution:
    """The explainer's result for one preprocessed image, smoothed when ``smoothing``."""
    if smoothing is None:
        return Attribution.of(explainer.explain(model, image, class_index, params))
    return attribute_images(explainer, model, image[None], [class_index], params, smoothing)[0]


def attribute_images(explainer: Explainer, model: LoadedModel, images: np.ndarray,
                   class_indices: Sequence[int], params: Params,
                   smoothing: Optional[Smoothing]) -> List[Attribution]:
    """The explainer's results for a batch of preprocessed images: through
    :meth:`~xaikit.Explainer.explain_smoothed` when ``smoothing``, else ``explain_batch``."""
    if smoothing is None:
        results = explainer.explain_batch(model, images, class_indices, params)
    else:
        results = explainer.explain_smoothed(model, images, class_indices, params, smoothing)
    return [Attribution.of(result) for result in results]
