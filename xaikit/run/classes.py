"""Which classes a run explains (an index, the predicted class, a list) and their names."""

from __future__ import annotations

import operator
import os
from pathlib import Path
from typing import Any, List, Literal, Optional, Sequence, Union

import numpy as np
from pydantic import BeforeValidator, NonNegativeInt
from pydantic_core import PydanticCustomError
from typing_extensions import Annotated

from xaikit.plugin.errors import ParameterError

PREDICTED = "predicted"


def parse_class_target(value: Any) -> Any:
    """Read ``3``, ``"3"``, ``"predicted"``, ``"3,5,7"`` or ``[3, 5, 7]``.

    Returns an int, ``"predicted"`` or a list of distinct ints in the order given;
    anything else, or a negative index, is one error naming no other type.
    """
    if isinstance(value, str):
        text = value.strip()
        if text == PREDICTED:
            return PREDICTED
        try:
            parts = [int(part) for part in text.split(",")]
        except ValueError:
            raise PydanticCustomError(
                "class_target", "expected a class index, 'predicted' or indices like 3,5,7"
            ) from None
        value = parts if "," in text else parts[0]
    if isinstance(value, (list, tuple)):
        if not value:
            raise PydanticCustomError("class_target", "the list of classes is empty")
        return list(dict.fromkeys(_index(v) for v in value))
    return _index(value)


def _index(value: Any) -> int:
    if isinstance(value, (bool, float)):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    try:
        index = operator.index(value)  # ints and numpy integers
    except TypeError:
        raise PydanticCustomError(
            "class_target", "expected a class index, 'predicted' or indices like 3,5,7"
        ) from None
    if index < 0:
        raise PydanticCustomError("greater_than_equal",
                                  "Input should be greater than or equal to 0")
    return index


ClassTarget = Annotated[
    Union[NonNegativeInt, Literal["predicted"], List[NonNegativeInt]],
    BeforeValidator(parse_class_target),
]
"""What ``class_index`` accepts: an index, ``"predicted"`` or a list of indices."""


def resolve_classes(target: Union[int, str, List[int]], scores: np.ndarray) -> List[int]:
    """The class indices ``target`` names; ``"predicted"`` is the argmax of ``scores``."""
    if target == PREDICTED:
        return [int(np.argmax(scores))]
    return list(target) if isinstance(target, list) else [int(target)]


def class_names(
    labels: Union[str, "os.PathLike[str]", Sequence[str], None], num_classes: int
) -> Optional[List[str]]:
    """One name per class, from a labels file (one name per line) or a sequence of names.

    :raises ParameterError: the file is missing or unreadable, a name is empty, or the
        count differs from ``num_classes``.
    """
    if labels is None:
        return None
    if isinstance(labels, (str, os.PathLike)):
        names = read_labels(Path(labels))
        source = str(labels)
    else:
        names = [str(name) for name in labels]
        source = "the list"
    if len(names) != num_classes:
        raise ParameterError(f"labels: {source} names {len(names)} classes; the model has "
                             f"{num_classes}")
    return names


def read_labels(path: Path) -> List[str]:
    """Names from a text file, one per line (UTF-8, with or without a byte-order mark)."""
    if path.is_dir():
        raise ParameterError("is a folder, not a text file", subject="labels", path=path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ParameterError("no such file", subject="labels", path=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ParameterError(f"cannot read: {exc}", subject="labels", path=path) from None
    names = [line.strip() for line in text.splitlines()]
    while names and not names[-1]:
        names.pop()
    if "" in names:
        raise ParameterError(f"line {names.index('') + 1} is empty", subject="labels", path=path)
    return names
