"""Where a dataset run's chunks are attributed: in this process, or on Dask workers
(:mod:`xaikit.datasets.distributed`). Either way the caller reads the images and writes
the files; an executor only turns chunks into results."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Tuple

from xaikit.datasets.attribute import Results, attribute_chunk
from xaikit.datasets.load import LoadedChunk
from xaikit.engine.model import LoadedModel
from xaikit.engine.noise import Smoothing
from xaikit.plugin.errors import ParameterError
from xaikit.plugin.explainer import Explainer
from xaikit.plugin.params import Params

Executor = Callable[[Iterable[LoadedChunk]], Iterator[Tuple[LoadedChunk, Results]]]
"""Attributes chunks, read lazily as it is ready for more, and yields each with its
results, in any order."""


@contextmanager
def executor(explainer: Explainer, params: Params, smoothing: Optional[Smoothing], ref: Any,
             options: Mapping[str, Any], model: LoadedModel, workers: Optional[int],
             scheduler: Any, note: Callable[[str], None]) -> Iterator[Executor]:
    """In this process with ``model``; with ``workers`` or ``scheduler``, on a Dask cluster
    whose workers load ``ref`` (what the run was given) with the adapter's ``options``
    themselves.

    :raises ParameterError: Dask is not installed.
    """
    if workers is None and scheduler is None:
        yield lambda chunks: ((chunk, attribute_chunk(explainer, params, model, chunk.inputs,
                                                      smoothing))
                              for chunk in chunks)
        return
    try:
        from xaikit.datasets.distributed import dask_executor
    except ImportError as exc:
        raise ParameterError(f"needs Dask ({exc.name or exc} is missing): pip install "
                             "'xaikit[dask]'",
                             subject="workers" if workers is not None else "scheduler") from None
    with dask_executor(explainer, params, smoothing, ref, options, workers, scheduler,
                       note) as execute:
        yield execute
