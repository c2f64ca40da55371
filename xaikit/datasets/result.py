"""What a dataset run reports: its counts, the rows that failed and why, its files."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

SETTLING = ("samples", "stability", "capped")
"""What a map made from noisy samples reports of how settled it is (see
:ref:`stability`): kept per row in the manifest, written to the output CSV and summed up
in the run's summary."""


@dataclass(frozen=True)
class RowFailure:
    """A row that has no map, and why."""

    row: int
    """0-based data row, as in map names."""
    path: str
    """The image path as the CSV writes it."""
    reason: str


@dataclass
class DatasetResult:
    """What a dataset run did."""

    output: Path
    """The output CSV."""
    maps: List[Optional[Path]]
    """Each row's map (None where the row failed)."""
    explained: int
    """Maps made by this run."""
    reused: int
    """Maps kept from an earlier run with the same settings."""
    failures: List[RowFailure]
    errors: Optional[Path]
    """The side file listing the failures (None when no row failed)."""
    seconds: float
    """Time spent explaining (the model's loading excluded)."""
    notes: List[str] = field(default_factory=list)
    settling: Dict[int, Dict[str, Any]] = field(default_factory=dict)
    """For each row explained by this run whose map is made from noisy samples, what the
    map reports of them (:data:`SETTLING`): ``samples``, ``stability`` and, with
    ``num_samples="auto"``, ``capped``."""

    @property
    def ok(self) -> bool:
        """Every row has its map."""
        return not self.failures

    def summary(self) -> str:
        """One line: ``smoothgrad.csv: 40 rows: 30 explained, 8 reused, 2 failed, 9.1 rows/s``,
        then for maps made from noisy samples, how settled this run's are:
        ``; stability 0.61-0.99, median 0.97``, and with ``num_samples="auto"``
        ``; samples 16-1000, median 48, 2 at max_samples`` before it."""
        rate = f", {self.explained / self.seconds:.1f} rows/s" if self.explained else ""
        return (f"{self.output}: {len(self.maps)} rows: {self.explained} explained, "
                f"{self.reused} reused, {len(self.failures)} failed{rate}"
                + settling_summary(list(self.settling.values())))


def settling_summary(settling: List[Dict[str, Any]]) -> str:
    """How settled maps are (their :data:`SETTLING` facts): the spread of their stability,
    and with ``num_samples="auto"`` of their samples, and how many stopped at the cap."""
    auto = any("capped" in facts for facts in settling)
    samples = [facts["samples"] for facts in settling]
    stability = [facts["stability"] for facts in settling if facts["stability"] is not None]
    capped = sum(facts.get("capped", False) for facts in settling)
    return ((f"; samples {_spread(samples, '{:g}')}, {capped} at max_samples" if auto else "")
            + (f"; stability {_spread(stability, '{:.2f}')}" if stability else ""))


def _spread(values: List[float], form: str) -> str:
    """``16-1000, median 48``; one value alone when they are all the same."""
    low, high = min(values), max(values)
    if low == high:
        return form.format(low)
    return (f"{form.format(low)}-{form.format(high)}, "
            f"median {form.format(statistics.median(values))}")
