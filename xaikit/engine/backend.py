"""The one place xaikit imports nnabla: quietly, and with its device contexts."""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass

from xaikit.plugin.errors import ParameterError

_root = logging.getLogger()
_handlers, _level = list(_root.handlers), _root.level
logging.disable(logging.INFO)  # nnabla logs "Initializing CPU extension..." on import
try:
    import nnabla as nn
    import nnabla.functions as F
finally:
    logging.disable(logging.NOTSET)
    # nnabla's import configures the root logger (logging.basicConfig at INFO), which would
    # print every library's INFO lines (Dask's on its workers): undo that.
    _root.handlers[:], _root.level = _handlers, _level
logging.getLogger("nnabla").setLevel(logging.WARNING)

__all__ = ["CPU", "DEVICES", "Device", "F", "nn"]

DEVICES = ("cpu", "cuda", "cudnn")
"""Device names: nnabla's extension modules ``nnabla_ext.<name>``."""

CUDA_PACKAGE = "nnabla-ext-cuda120"
"""The CUDA 12 extension that ``pip install 'xaikit[cuda]'`` brings."""


@dataclass(frozen=True)
class Device:
    """Where nnabla runs a graph: ``cpu``, or ``cuda``/``cudnn`` with a GPU number."""

    name: str = "cpu"
    id: int = 0

    def context(self) -> "nn.Context":
        """nnabla's context for this device (graphs built in its scope run there).

        :raises ParameterError: the device is unknown or its extension is not installed.
        """
        if self.name not in DEVICES:
            raise ParameterError(f"device: {self.name!r} is not one of {', '.join(DEVICES)}")
        try:
            module = importlib.import_module(f"nnabla_ext.{self.name}")
        except ImportError:
            raise ParameterError(
                f"device: {self.name} needs nnabla's CUDA extension {CUDA_PACKAGE}: "
                "pip install 'xaikit[cuda]'"
            ) from None
        return module.context(device_id=str(self.id))


CPU = Device()
