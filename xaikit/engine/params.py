"""The engine's settings as a parameter schema, for explainers built on the engine."""

from __future__ import annotations

from typing import Any, Dict, Literal, Optional

from pydantic import Field

from xaikit.engine.backend import Device
from xaikit.engine.gradients import MAX_AUTO_BATCH, MAX_AUTO_THREADS, MEMORY_BUDGET
from xaikit.plugin.params import Params


class GradientParams(Params):
    """Parameters of explainers built on :func:`xaikit.input_gradients`: the score, the
    batch size, the threads and the device. Subclass it for an explainer's ``Params``."""

    score: Literal["output", "logit"] = Field(
        "output",
        description="What is differentiated: the model's output (NNC), or the logit "
        "that its final Softmax or Sigmoid turns into that output (the paper's class "
        "score).",
    )
    batch_size: Optional[int] = Field(
        None,
        ge=1,
        le=65_536,
        description="Inputs (noisy copies) evaluated per forward/backward pass. Default: a "
        "pass for each of the default threads, their buffers together within "
        f"{MEMORY_BUDGET // 2**20} MiB, at most {MAX_AUTO_BATCH}.",
    )
    threads: Optional[int] = Field(
        None,
        ge=1,
        le=256,
        description="Passes run at once, each in a thread with its own graph. "
        f"Default: the CPU cores (at most {MAX_AUTO_THREADS}); 1 on a GPU.",
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

    def engine_options(self) -> Dict[str, Any]:
        """The keyword arguments of :func:`xaikit.input_gradients` and
        :func:`xaikit.smoothed_gradients` that these parameters set."""
        return {"score": self.score, "batch_size": self.batch_size, "threads": self.threads,
                "device": Device(self.device, self.device_id)}
