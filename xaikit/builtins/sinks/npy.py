"""The raw attribution: a float32 (channels, height, width) NumPy file, for analysis."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xaikit import Explanation, Params, Sink, hookimpl


class NpySink(Sink):
    name = "npy"
    description = "the raw float32 attribution (channels, height, width), for numpy.load"
    extensions = (".npy",)

    def write(self, explanation: Explanation, path: Path, params: Params) -> None:
        with open(path, "wb") as f:  # a file object: np.save would append .npy to a name
            np.save(f, np.asarray(explanation.attribution, dtype=np.float32))


@hookimpl
def register_sinks(register):
    register(NpySink())
