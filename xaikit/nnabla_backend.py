"""The one place xaikit imports nnabla: quietly, and with its device contexts."""

from __future__ import annotations

import logging

logging.disable(logging.INFO)  # nnabla logs "Initializing CPU extension..." on import
try:
    import nnabla as nn
    import nnabla.functions as F
finally:
    logging.disable(logging.NOTSET)
logging.getLogger("nnabla").setLevel(logging.WARNING)

__all__ = ["nn", "F"]
