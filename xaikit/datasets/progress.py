"""Progress of long runs: a bar on a terminal, a line now and then in a log."""

from __future__ import annotations

import sys
import time
from typing import IO, Optional, Union

from tqdm import tqdm

LOG_EVERY = 30.0
"""Seconds between progress lines when stderr is not a terminal."""


class LogProgress:
    """tqdm's ``update``/``close`` for logs: a line every :data:`LOG_EVERY` seconds, no bar."""

    def __init__(self, total: int, initial: int, desc: str, file: IO[str],
                 unit: str = "row") -> None:
        self.total, self.n, self.desc, self.file, self.unit = total, initial, desc, file, unit
        self._initial = initial
        self._start = self._last = time.monotonic()

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self._last >= LOG_EVERY and self.n < self.total:
            self._last = now
            rate = (self.n - self._initial) / (now - self._start)
            left = tqdm.format_interval((self.total - self.n) / rate) if rate else "?"
            print(f"{self.desc}: {self.n}/{self.total} {self.unit}s, {rate:.1f} {self.unit}s/s, "
                  f"{left} left", file=self.file, flush=True)

    def close(self) -> None:
        """Nothing to clean up: the caller prints the summary."""


def progress_counter(
    total: int, initial: int, desc: str, show: Optional[bool] = None, unit: str = "row"
) -> Union[tqdm, LogProgress]:
    """A counter of ``total`` items (rows, maps: ``unit``), ``initial`` of them done before.

    :param show: True: a bar; False: nothing; None: a bar when stderr is a terminal,
        else :class:`LogProgress` lines.
    """
    if show is False:
        return tqdm(total=total, initial=initial, disable=True)
    if show or sys.stderr.isatty():
        return tqdm(total=total, initial=initial, desc=desc, unit=unit, file=sys.stderr,
                    dynamic_ncols=True)
    return LogProgress(total, initial, desc, sys.stderr, unit)
