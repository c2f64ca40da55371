"""SmoothGrad (Smilkov et al., 2017) with the parameters of NNC's XAI/SmoothGrad plugin."""

from __future__ import annotations

from typing import List, Literal, Optional, Sequence

import numpy as np
from pydantic import Field

import xaikit
from xaikit.engine.backend import Device
from xaikit.engine.passes import MAX_AUTO_BATCH, MEMORY_BUDGET, noisy_gradient_maps


class SmoothGrad(xaikit.Explainer):
    """Average the squared input gradients of the class score over noisy copies of the image."""

    name = "smoothgrad"
    description = "SmoothGrad: input gradients averaged over noisy copies (arXiv:1706.03825)"

    class Params(xaikit.Params):
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
            description="Noisy copies whose gradients are averaged (≥ 1), or auto: draw "
            "them until the map's stability reaches --stability, at most --max-samples.",
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
            description="With --num-samples auto: the most noisy copies drawn per image.",
        )
        variant: Literal["smoothgrad_sq", "smoothgrad", "vargrad"] = Field(
            "smoothgrad_sq",
            description="The map: smoothgrad_sq, the mean squared gradient (NNC's); "
            "smoothgrad, the mean gradient; vargrad, the gradients' variance.",
        )
        score: Literal["output", "logit"] = Field(
            "output",
            description="What is differentiated: the model's output (NNC), or the logit "
            "that its final Softmax or Sigmoid turns into that output (the paper's class "
            "score).",
        )
        seed: Optional[int] = Field(
            None,
            ge=0,
            le=2**32 - 1,
            description="Seed of the noise: the same seed gives the same noise at any "
            "batch size and thread count, and a bit-identical map at any thread count; "
            "every image of a run gets the same seed. Default: fresh noise each run.",
        )
        batch_size: Optional[int] = Field(
            None,
            ge=1,
            le=65_536,
            description="Noisy copies evaluated per forward/backward pass. Default: a pass "
            "for each of the default threads, their buffers together within "
            f"{MEMORY_BUDGET // 2**20} MiB, at most {MAX_AUTO_BATCH}.",
        )
        threads: Optional[int] = Field(
            None,
            ge=1,
            le=256,
            description="Passes run at once, each in a thread with its own graph. "
            "Default: the CPU cores (at most 8); 1 on a GPU.",
        )
        device: Literal["cpu", "cuda", "cudnn"] = Field(
            "cpu",
            description="Where nnabla runs: cpu, or a GPU through nnabla's CUDA extension "
            "(pip install 'xaikit[cuda]').",
        )
        device_id: int = Field(
            0,
            ge=0,
            le=255,
            description="GPU number for cuda and cudnn.",
        )

    def explain(self, model, image, class_index, params) -> xaikit.Attribution:
        return self.explain_batch(model, image[None], [class_index], params)[0]

    def explain_batch(
        self, model, images: np.ndarray, class_indices: Sequence[int], params
    ) -> List[xaikit.Attribution]:
        """Noisy copies of all ``images`` share passes; each image gets the noise, and up
        to float rounding the map, that :meth:`explain` gives it. Each map reports its
        ``samples`` and ``stability`` (and with ``num_samples="auto"``, ``capped``)."""
        made = noisy_gradient_maps(
            model,
            images,
            [int(c) for c in class_indices],
            noise_level=params.noise_level,
            num_samples=params.num_samples,
            variant=params.variant,
            score=params.score,
            seed=params.seed,
            batch_size=params.batch_size,
            threads=params.threads,
            device=Device(params.device, params.device_id),
            stability=params.stability,
            max_samples=params.max_samples,
        )
        return [xaikit.Attribution(values, made.metadata(i)) for i, values in enumerate(made.maps)]
