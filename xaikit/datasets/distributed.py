"""Dataset runs on Dask: the chunks explained by the workers of a cluster.

The client (the process running the dataset run) reads the images, sends each chunk's
preprocessed pixels with the class to explain, and alone writes maps, manifest and CSV, so
that a distributed run resumes, overwrites and reports exactly as one in-process. Workers
need xaikit and the explainer's plugin, nothing else: no shared files. The model travels
once per worker and run, in a worker plugin (:class:`ModelOnWorkers`) that the scheduler
also hands to workers that join later; each worker process loads it once, on its first
chunk, and keeps it by content hash while any run uses it.

A worker plans a chunk's passes for the client's core count (:func:`planned_cores`), as the
default batch size follows it; with the same versions installed, a seeded run's maps are
then the in-process ones, bit for bit, however the chunks land.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import shutil
import tempfile
import threading
import time
import uuid
import warnings
from concurrent.futures import CancelledError
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple

import cloudpickle
import dask
from distributed import Client, LocalCluster, WorkerPlugin, as_completed, get_worker
from distributed.scheduler import KilledWorker

from xaikit.datasets.attribute import Results, RowInput, attribute_chunk
from xaikit.datasets.load import LoadedChunk
from xaikit.engine.model import LoadedModel
from xaikit.engine.noise import Smoothing
from xaikit.engine.threads import cpu_cores, planned_cores
from xaikit.plugin.errors import ParameterError, PluginError, XaikitError
from xaikit.plugin.explainer import Explainer
from xaikit.plugin.manager import registry
from xaikit.plugin.params import Params, validate
from xaikit.run.explain import load_model

CONNECT_TIMEOUT = 10.0
"""Seconds to reach a scheduler before giving up."""
WINDOW_PER_WORKER = 2
"""Chunks sent ahead per worker: one running, one waiting (more only costs memory)."""
CHECKED_PACKAGES = ("xaikit", "nnabla", "numpy")
"""Packages whose versions on a worker must be the client's (with the explainer's), as
they decide the last bits of a map."""


@dataclass(frozen=True)
class ModelPayload:
    """What a worker loads the model from: a file's bytes, or a picklable reference."""

    key: str
    """SHA-256 of the content and the options: the worker's cache key."""
    name: str
    """The file's name (messages and metadata name the model by it)."""
    data: bytes
    is_file: bool
    options: Tuple[Tuple[str, Any], ...] = ()
    """The model adapter's options (an ONNX model's ``mean``...), as given to the run."""

    @classmethod
    def of(cls, ref: Any, options: Optional[Mapping[str, Any]] = None) -> "ModelPayload":
        """The payload for what :func:`xaikit.load_model` takes, with ``options`` for it.

        :raises ParameterError: ``ref`` is a :class:`LoadedModel` or does not pickle.
        """
        if isinstance(ref, LoadedModel):
            raise ParameterError("workers load the model themselves: give its file (or what "
                                 "xaikit.load_model takes), not a LoadedModel", subject="model")
        given = tuple(sorted((options or {}).items()))
        is_file = isinstance(ref, (str, os.PathLike)) and Path(ref).is_file()
        try:
            data = Path(ref).read_bytes() if is_file else cloudpickle.dumps(ref)
        except Exception as exc:
            raise ParameterError(f"cannot send {type(ref).__name__} to workers: {exc}",
                                 subject="model") from None
        key = hashlib.sha256(data + repr(given).encode()).hexdigest()
        return cls(key, Path(ref).name if is_file else type(ref).__name__, data, is_file, given)


_payloads: Dict[str, Tuple[ModelPayload, int]] = {}
"""Worker side: payload and the number of runs using it, by key."""
_models: Dict[str, Tuple[LoadedModel, Optional[str]]] = {}
"""Worker side: the loaded model and its temporary folder, by key."""
_cache_lock = threading.Lock()


class ModelOnWorkers(WorkerPlugin):
    """Carries a run's model to every worker, those that join later included."""

    def __init__(self, payload: ModelPayload) -> None:
        self.payload = payload

    def setup(self, worker: Any) -> None:
        with _cache_lock:
            _, users = _payloads.get(self.payload.key, (self.payload, 0))
            _payloads[self.payload.key] = (self.payload, users + 1)

    def teardown(self, worker: Any) -> None:
        with _cache_lock:
            payload, users = _payloads.pop(self.payload.key, (self.payload, 1))
            if users > 1:
                _payloads[payload.key] = (payload, users - 1)
                return
            _, folder = _models.pop(payload.key, (None, None))
        if folder:
            shutil.rmtree(folder, ignore_errors=True)


def worker_model(key: str) -> LoadedModel:
    """The model of ``key`` in this worker process, loaded on first use."""
    with _cache_lock:
        if key in _models:
            return _models[key][0]
        if key not in _payloads:
            raise XaikitError(f"the model {key[:12]} never arrived",
                              subject=f"worker {_address()}")
        payload = _payloads[key][0]
        folder = None
        if payload.is_file:
            folder = tempfile.mkdtemp(prefix="xaikit-model-")
            path = Path(folder) / payload.name
            path.write_bytes(payload.data)
            model = load_model(path, **dict(payload.options))
        else:
            model = load_model(cloudpickle.loads(payload.data), **dict(payload.options))
        _models[key] = (model, folder)
        return model


def explain_on_worker(key: str, explainer: str, params: Dict[str, Any],
                      smoothing: Optional[Smoothing], rows: List[RowInput], cores: int,
                      versions: Dict[str, str]) -> Results:
    """The task a worker runs: :func:`attribute_chunk` with this worker's copy of the model,
    its passes planned for the client's ``cores``."""
    try:
        algorithm = registry().get("explainer", explainer)
    except XaikitError as exc:
        raise PluginError(f"{exc}; install the plugin there",
                          subject=f"worker {_address()}") from None
    for package, wanted in versions.items():
        found = _version(package)
        if found != wanted:
            raise PluginError(f"has {package} {found or 'missing'}, the client {wanted}: "
                              "install the same versions", subject=f"worker {_address()}")
    model = worker_model(key)
    with planned_cores(cores):
        return attribute_chunk(algorithm, validate(algorithm.Params, params), model, rows,
                               smoothing)


class DaskExecutor:
    """Explains chunks on a cluster, a few per worker ahead, yielding them as they finish."""

    def __init__(self, client: Client, payload: ModelPayload, algorithm: Explainer,
                 params: Params, smoothing: Optional[Smoothing], address: str) -> None:
        self.client, self.address = client, address
        self.task = (payload.key, algorithm.name, params.model_dump(), smoothing)
        self.planning = (cpu_cores(), _versions(algorithm))
        self._window = (0.0, WINDOW_PER_WORKER)

    def __call__(self, chunks: Iterable[LoadedChunk]) -> Iterator[Tuple[LoadedChunk, Results]]:
        running = as_completed()
        pending: Dict[Any, LoadedChunk] = {}
        try:
            for chunk in chunks:
                if not chunk.inputs:
                    yield chunk, []
                    continue
                future = self._submit(chunk.inputs)
                pending[future] = chunk
                running.add(future)
                while len(pending) >= self.window():
                    yield self._finished(next(running), pending)
            while pending:
                yield self._finished(next(running), pending)
        except OSError:  # a call to the scheduler failed (Dask's CommClosedError is one)
            raise self._lost() from None
        finally:
            if pending and self.client.status == "running":
                self.client.cancel(list(pending))

    def window(self) -> int:
        """Chunks in flight: :data:`WINDOW_PER_WORKER` per worker (asked every 5 s)."""
        asked, size = self._window
        if time.monotonic() - asked > 5:
            size = WINDOW_PER_WORKER * max(1, len(self.client.nthreads()))
            self._window = (time.monotonic(), size)
        return size

    def _submit(self, rows: List[RowInput]) -> Any:
        with warnings.catch_warnings():  # the pixels travel in the task, as they must
            warnings.filterwarnings("ignore", "Sending large graph")
            return self.client.submit(explain_on_worker, *self.task, rows, *self.planning,
                                      pure=False)

    def _finished(self, future: Any,
                  pending: Dict[Any, LoadedChunk]) -> Tuple[LoadedChunk, Results]:
        chunk = pending.pop(future)
        rows = f"rows {chunk.inputs[0].row}-{chunk.inputs[-1].row}"
        try:
            return chunk, future.result()
        except CancelledError:
            if self.client.status != "running":
                raise self._lost() from None
            raise XaikitError(f"{rows} were cancelled on {self.address}",
                              subject="scheduler") from None
        except KilledWorker:
            raise XaikitError(f"the workers running {rows} died, again and again; see the "
                              "workers' logs", subject="workers") from None

    def _lost(self) -> XaikitError:
        return XaikitError(f"lost the connection to {self.address}; the maps finished so "
                           "far are kept: the same command resumes", subject="scheduler")


@contextmanager
def dask_executor(algorithm: Explainer, params: Params, smoothing: Optional[Smoothing],
                  ref: Any, options: Mapping[str, Any], workers: Optional[int],
                  scheduler: Any, note: Callable[[str], None]) -> Iterator[DaskExecutor]:
    """An executor on a new local cluster of ``workers`` processes or on ``scheduler``'s,
    with the model registered on its workers; the cluster started here is closed after.
    ``workers`` and an address are validated already (``RunParams``)."""
    if workers is not None and scheduler is not None:
        raise ParameterError("give --workers (a cluster for the run) or --scheduler (an "
                             "existing one), not both", subject="workers")
    payload = ModelPayload.of(ref, options)
    with _quiet(), _client(workers, scheduler) as (client, address):
        plugin = f"xaikit-model-{payload.key[:16]}-{uuid.uuid4().hex[:8]}"
        client.register_plugin(ModelOnWorkers(payload), name=plugin)
        if not client.nthreads():
            note(f"no workers on {address} yet: the run waits for some")
        try:
            yield DaskExecutor(client, payload, algorithm, params, smoothing, address)
        finally:
            if client.status == "running":
                with suppress(OSError):  # the scheduler went meanwhile: nothing to undo
                    client.unregister_worker_plugin(plugin)


@contextmanager
def _client(workers: Optional[int], scheduler: Any) -> Iterator[Tuple[Client, str]]:
    """A client of a new local cluster, of the scheduler at an address, or as given."""
    if isinstance(scheduler, Client):
        yield scheduler, scheduler.scheduler.address
    elif workers is not None:
        with _local_cluster(workers) as cluster, Client(cluster) as client:
            yield client, "the local cluster"
    else:
        if not isinstance(scheduler, str) or not scheduler.strip():
            raise ParameterError(f"expected an address such as tcp://host:8786 or a "
                                 f"distributed.Client (got {scheduler!r})", subject="scheduler")
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT)
        except OSError:  # refused, unknown host, timed out: Dask tries until the timeout
            raise XaikitError(f"cannot reach {scheduler} (tried for {CONNECT_TIMEOUT:g} s)",
                              subject="scheduler") from None
        except ValueError as exc:  # not an address
            raise ParameterError(str(exc).splitlines()[0], subject="scheduler",
                                 path=scheduler) from None
        with client:
            yield client, scheduler


def _local_cluster(workers: int) -> LocalCluster:
    """``workers`` processes of one thread on loopback, without a dashboard.

    They fork from a server process that has imported xaikit once, which takes a fraction
    of the time of each importing it (spawn, Dask's default); the scheduler's HTTP server
    takes any free port.
    """
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() \
        else "spawn"
    with dask.config.set({"distributed.worker.multiprocessing-method": method}):
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                            host="127.0.0.1", dashboard_address=None,
                            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                            silence_logs=logging.CRITICAL)


@contextmanager
def _quiet() -> Iterator[None]:
    """Dask's own logging off on the client while it runs: its errors reach the user as
    one line each (Dask's configuration sets levels on its loggers one by one)."""
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)
               if name == "distributed" or name.startswith("distributed.")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _versions(algorithm: Explainer) -> Dict[str, str]:
    """The client's versions of :data:`CHECKED_PACKAGES` and of the explainer's package."""
    package = registry().items["explainer"][algorithm.name].package
    found = {name: _version(name) for name in CHECKED_PACKAGES + (package,)}
    return {name: v for name, v in found.items() if v is not None}


def _version(package: str) -> Optional[str]:
    try:
        return version(package)
    except (PackageNotFoundError, ValueError):
        return None


def _address() -> str:
    try:
        return get_worker().address
    except ValueError:  # not on a worker
        return "?"
