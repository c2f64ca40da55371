"""Independent passes run in threads, each thread with a graph replica of its own.

nnabla's CPU kernels are single-threaded and release the GIL, so passes over separate
graphs (``model.graph(n, replica=worker)``) run on separate cores.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Deque, Iterable, Iterator, TypeVar

J = TypeVar("J")
R = TypeVar("R")


def cpu_cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def ordered_map(work: Callable[[int, J], R], jobs: Iterable[J], threads: int) -> Iterator[R]:
    """``work(worker, job)`` for every job, in ``threads`` threads; results in job order.

    ``worker`` (0 to ``threads - 1``) names the thread, so that it can use a graph replica
    of its own. ``jobs`` is read in the calling thread, at most ``threads`` jobs ahead of
    the results, so inputs prepared there on the fly stay few. A job's exception is raised
    where its result would have been.
    """
    if threads <= 1:
        for job in jobs:
            yield work(0, job)
        return
    ids = itertools.count()
    local = threading.local()

    def start() -> None:
        local.worker = next(ids)

    def run(job: J) -> R:
        return work(local.worker, job)

    with ThreadPoolExecutor(threads, thread_name_prefix="xaikit", initializer=start) as pool:
        pending: Deque = deque()
        for job in jobs:
            pending.append(pool.submit(run, job))
            if len(pending) > threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
