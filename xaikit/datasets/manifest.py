"""The manifest beside a dataset run's output: which settings made which maps, for resuming.

``<output stem>.manifest.jsonl`` holds JSON lines: the run's settings first (explainer,
its parameters, the model's fingerprint, the sink), then one line per map written,
``{"row": 5, "image": "./a.png", "size": 812, "mtime_ns": ..., "class": 3}`` (the image
cell, the image file's size and time, the class), appended as soon as the map is in place.
A process killed at any point leaves a manifest that lists only finished maps (a torn
last line is ignored), so the next run with the same settings skips exactly those.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import IO, Any, Dict, List, Optional, Tuple

import numpy as np

from xaikit.engine.model import LoadedModel
from xaikit.run.outputs import write_atomically

FORMAT = 1
"""Bumped when the manifest's meaning changes; older manifests then redo every row."""


def manifest_path(output: Path) -> Path:
    """``smoothgrad.csv`` -> ``smoothgrad.manifest.jsonl``."""
    return output.with_suffix(".manifest.jsonl")


def model_fingerprint(ref: Any, model: LoadedModel) -> Dict[str, Any]:
    """What identifies the model: a file's size and SHA-256, else its scores on a fixed
    probe; and how it preprocesses images."""
    preprocessing = dataclasses.asdict(model.preprocessing)
    if isinstance(ref, (str, os.PathLike)) and Path(ref).is_file():
        digest = hashlib.sha256()
        with open(ref, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        return {"size": Path(ref).stat().st_size, "sha256": digest.hexdigest(),
                "preprocessing": preprocessing}
    probe = np.linspace(0, 1, int(np.prod(model.input_shape)), dtype=np.float32)
    scores = model.predict(probe.reshape((1,) + model.input_shape))
    return {"name": model.name, "input_shape": list(model.input_shape),
            "preprocessing": preprocessing,
            "probe_sha256": hashlib.sha256(scores.tobytes()).hexdigest()}


class Manifest:
    """The settings of this run and the maps already made with them."""

    def __init__(self, path: Path, settings: Dict[str, Any], done: Dict[int, Dict[str, Any]],
                 continued: bool):
        self.path = path
        self.settings = settings
        self.done = done
        """Row -> the image and class of each map made with these settings."""
        self._continued = continued
        self._file: Optional[IO[str]] = None

    @classmethod
    def load(
        cls, path: Path, settings: Dict[str, Any], overwrite: bool
    ) -> Tuple["Manifest", Optional[str]]:
        """The manifest to continue, and why earlier maps are redone (None: they are not).

        Earlier maps count only when the file's settings equal ``settings`` and
        ``overwrite`` is false.
        """
        settings = _plain({"format": FORMAT, **settings})
        previous, done = _read(path)
        if overwrite and done:
            return cls(path, settings, {}, False), (
                f"overwrite: redoing the {len(done)} maps made before")
        if previous != settings:
            note = None if not done else (
                f"the {len(done)} maps made before used other settings "
                f"({_difference(previous or {}, settings)}); redoing them")
            return cls(path, settings, {}, False), note
        return cls(path, settings, done, True), None

    def begin(self) -> None:
        """Open for appending; a manifest of other settings is replaced before any map is."""
        if not self._continued:
            self.compact([])
        self._file = open(self.path, "a", encoding="utf-8")

    def is_done(self, row: int, entry: Dict[str, Any]) -> bool:
        """Whether ``row``'s map was made from the same image and class (what ``entry``
        holds; the recorded entry may hold more, such as the score)."""
        done = self.done.get(row)
        return done is not None and all(done.get(k) == v for k, v in entry.items())

    def add(self, row: int, entry: Dict[str, Any]) -> None:
        """Record that ``row``'s map is in place (:meth:`flush` after a batch)."""
        self.done[row] = entry
        self._file.write(json.dumps({"row": row, **entry}) + "\n")

    def forget(self, row: int) -> None:
        """Drop ``row``, whose map is gone; the file follows at :meth:`compact`."""
        self.done.pop(row, None)

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def compact(self, rows: List[int]) -> None:
        """Rewrite the file atomically with the settings and those of ``rows`` that are done."""
        self.close()
        lines = [self.settings] + [{"row": r, **self.done[r]} for r in rows if r in self.done]
        write_atomically(self.path, lambda tmp: tmp.write_text(
            "".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8"))


def _read(path: Path) -> Tuple[Optional[Dict[str, Any]], Dict[int, Dict[str, Any]]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None, {}
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            continue  # a line torn by a killed process
    if not records or not isinstance(records[0], dict):
        return None, {}
    done = {}
    for record in records[1:]:
        if isinstance(record, dict) and isinstance(record.get("row"), int):
            row = record.pop("row")
            done[row] = record
    return records[0], done


def _plain(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists), to compare with a file."""
    return json.loads(json.dumps(value))


def _difference(old: Dict[str, Any], new: Dict[str, Any]) -> str:
    changed = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict) and key == "params":
            changed += [f"{k} {a.get(k)!r} -> {b.get(k)!r}"
                        for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        else:
            changed.append(f"{key} changed" if key != "format" else "older manifest")
    return ", ".join(changed)
