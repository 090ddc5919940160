"""Whole numbers stay whole numbers on the command line, whatever was imported first.

Lightning annotates ``limit_val_batches`` and its kin as ``Optional[Union[int, float]]``: an
``int`` is a number of batches, a ``float`` a share of them. ``typing`` caches unions and
treats ``Union[int, float]`` and ``Union[float, int]`` as equal, so when another library
(scikit-learn, for one) created the float-first union before Lightning was imported, the
Trainer's annotation *is* ``Union[float, int, None]`` and jsonargparse, trying the members
in order, reads ``--trainer.limit_val_batches 1`` as ``1.0``: all batches instead of one.
`int_before_float` rewrites such annotations as PEP 604 unions (``int | float | None``),
which ``typing`` does not cache, in the order that keeps ``1`` an ``int``.
"""

from __future__ import annotations

import functools
import operator
import typing
from collections.abc import Callable
from typing import Any


def _int_first(annotation: Any) -> Any:
    """``annotation`` with ``int`` before ``float`` if it is a union of both, else itself."""
    members = typing.get_args(annotation)
    if int not in members or float not in members or members.index(int) < members.index(float):
        return annotation
    ordered = sorted(members, key=lambda member: member is not int)  # stable: int first
    return functools.reduce(operator.or_, ordered)


def int_before_float(function: Callable[..., Any]) -> None:
    """Rewrite ``function``'s unions of ``float`` and ``int`` so that ``int`` comes first."""
    annotations = function.__annotations__
    for name, annotation in annotations.items():
        annotations[name] = _int_first(annotation)
