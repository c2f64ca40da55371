"""Independent passes run in threads, each thread with a graph replica of its own.

nnabla's CPU kernels are single-threaded and release the GIL, so passes over separate
graphs (``model.graph(n, replica=worker)``) run on separate cores.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Deque, Dict, Iterable, Iterator, Optional, Tuple, TypeVar

J = TypeVar("J")
R = TypeVar("R")

_pools: Dict[int, Tuple[ThreadPoolExecutor, threading.local]] = {}
_pools_lock = threading.Lock()
_planned_cores: ContextVar[Optional[int]] = ContextVar("xaikit_planned_cores", default=None)


def cpu_cores() -> int:
    """The CPU cores computations plan for: those this process may run on, unless
    :func:`planned_cores` says otherwise."""
    planned = _planned_cores.get()
    if planned is not None:
        return planned
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextmanager
def planned_cores(cores: int) -> Iterator[None]:
    """Within the block (in this thread), :func:`cpu_cores` is ``cores``: a distributed
    worker plans the passes of a chunk as the client would, since the default batch size,
    and so the last bits of a map, follow the core count."""
    token = _planned_cores.set(cores)
    try:
        yield
    finally:
        _planned_cores.reset(token)


def ordered_map(work: Callable[[int, J], R], jobs: Iterable[J], threads: int) -> Iterator[R]:
    """``work(worker, job)`` for every job, in ``threads`` threads; results in job order.

    ``worker`` (0 to ``threads - 1``) names the thread, so that it can use a graph replica
    of its own; with one thread, the calling thread is worker 0. ``jobs`` is read in the
    calling thread, at most ``threads`` jobs ahead of the results. A job's exception is
    raised where its result would have been, once no job of the call is running. The
    threads are started once per thread count and kept for later calls (a forked child
    starts its own).
    """
    if threads <= 1:
        for job in jobs:
            yield work(0, job)
        return
    pool, local = _pool(threads)
    pending: Deque[Future] = deque()
    try:
        for job in jobs:
            pending.append(pool.submit(lambda job=job: work(local.worker, job)))
            if len(pending) > threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:  # on an error, let no job of this call run on after it
        for future in pending:
            future.cancel()
        wait(pending)


def _forget_pools() -> None:
    """In a forked child: the parent's pool threads do not exist here, so start anew."""
    global _pools_lock
    _pools.clear()
    _pools_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_pools)


def _pool(threads: int) -> Tuple[ThreadPoolExecutor, threading.local]:
    with _pools_lock:
        if threads not in _pools:
            ids = itertools.count()
            local = threading.local()

            def start() -> None:
                local.worker = next(ids)

            _pools[threads] = (ThreadPoolExecutor(threads, f"xaikit{threads}", start), local)
        return _pools[threads]
