"""SmoothGrad (Smilkov et al., 2017) with the parameters of NNC's XAI/SmoothGrad plugin:
the engine's input gradients of noisy copies, as ``gradient`` smoothed with
``smoothgrad_sq`` gives them."""

from __future__ import annotations

from typing import List, Literal, Optional, Sequence

import numpy as np
from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

import xaikit


class SmoothGrad(xaikit.Explainer):
    """Average the squared input gradients of the class score over noisy copies of the image."""

    name = "smoothgrad"
    description = "SmoothGrad: input gradients averaged over noisy copies (arXiv:1706.03825)"
    nnc_column = "SmoothGrad"

    class Params(xaikit.GradientParams):
        noise_level: float = Field(
            0.15,
            ge=0.0,
            le=1.0,
            allow_inf_nan=False,
            description="Noise standard deviation as a fraction of the preprocessed image's "
            "value range (max - min).",
            json_schema_extra={"aliases": ["-nl"]},
        )
        num_samples: xaikit.SampleCount = Field(
            25,
            description="Noisy copies whose gradients are averaged (1 to 1000000), or auto: "
            "draw them until the map's stability reaches --stability, at most --max-samples.",
            json_schema_extra={"aliases": ["-n"]},
        )
        stability: float = Field(
            0.95,
            gt=0.0,
            lt=1.0,
            description="With --num-samples auto: the stability at which to stop, the "
            "correlation expected between this map and another made from other noise.",
        )
        max_samples: int = Field(
            1000,
            ge=2,
            le=1_000_000,
            description="With --num-samples auto: the most noisy copies drawn per image.",
        )
        variant: Literal["smoothgrad_sq", "smoothgrad", "vargrad"] = Field(
            "smoothgrad_sq",
            description="The map: smoothgrad_sq, the mean squared gradient (NNC's); "
            "smoothgrad, the mean gradient; vargrad, the gradients' variance.",
        )
        seed: Optional[int] = Field(
            None,
            ge=0,
            le=2**32 - 1,
            description="Seed of the noise: the same seed gives the same noise at any "
            "batch size and thread count, and a bit-identical map at any thread count; "
            "every image of a run gets the same seed. Default: fresh noise each run.",
        )
        layer_index: int = Field(
            0,
            ge=0,
            description="The network variable whose gradients make the map, numbered as "
            "NNC's plugins number them: 0 is the input, then each variable a layer "
            "computes, in the model file's order. The map has that variable's shape.",
            json_schema_extra={"aliases": ["-li"]},
        )

        @field_validator("stability", "max_samples")
        @classmethod
        def _only_when_auto(cls, value: float, info: ValidationInfo) -> float:
            """Refuse a stopping rule that a fixed ``num_samples`` would ignore."""
            default = cls.model_fields[info.field_name].default
            if info.data.get("num_samples", "auto") != "auto" and value != default:
                raise PydanticCustomError("unused", "applies only with --num-samples auto")
            return value

    def explain(self, model, image, class_index, params) -> xaikit.Attribution:
        return self.explain_batch(model, image[None], [class_index], params)[0]

    def explain_batch(
        self, model, images: np.ndarray, class_indices: Sequence[int], params
    ) -> List[xaikit.Attribution]:
        """Noisy copies of all ``images`` share passes; each image gets the noise, and up
        to float rounding the map, that :meth:`explain` gives it.

        Each map reports its ``samples`` and ``stability`` (and with
        ``num_samples="auto"``, ``capped``), the variant (``method``), the score it is a
        gradient of (``differentiated``: output or logit, and its value on the image,
        ``differentiated_score``) and the variable (``variable``)."""
        variable = layer_variable(model, params.layer_index)
        smoothing = xaikit.Smoothing(params.num_samples, params.noise_level, params.variant,
                                     params.seed, params.stability, params.max_samples)
        smoothed = xaikit.smoothed_gradients(
            model, images, [int(c) for c in class_indices], smoothing,
            variable=None if params.layer_index == 0 else variable, **params.engine_options())
        return [xaikit.Attribution(values, {
            **smoothed.metadata(i), "method": params.variant, "differentiated": params.score,
            "differentiated_score": float(model.predict(image[None], params.score)[0, c]),
            "variable": variable})
            for i, (values, image, c) in enumerate(zip(smoothed.maps, images, class_indices))]


def layer_variable(model: xaikit.LoadedModel, layer_index: int) -> str:
    """The variable NNC's ``--layer_index`` names (see :attr:`LoadedModel.nnc_variables`)."""
    names = model.nnc_variables
    if layer_index < len(names):
        return names[layer_index]
    numbered = [f"{i} {name}" for i, name in enumerate(names)]
    if len(numbered) > 20:
        numbered = numbered[:10] + ["..."] + numbered[-3:]
    raise xaikit.ParameterError(f"{layer_index} is past the last variable of {model.name} "
                                f"({', '.join(numbered)})", subject="layer_index")
