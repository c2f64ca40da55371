"""What a dataset run reports: its counts, the rows that failed and why, its files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional


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

    @property
    def ok(self) -> bool:
        """Every row has its map."""
        return not self.failures

    def summary(self) -> str:
        """One line: ``smoothgrad.csv: 40 rows: 30 explained, 8 reused, 2 failed, 9.1 rows/s``."""
        rate = f", {self.explained / self.seconds:.1f} rows/s" if self.explained else ""
        return (f"{self.output}: {len(self.maps)} rows: {self.explained} explained, "
                f"{self.reused} reused, {len(self.failures)} failed{rate}")
