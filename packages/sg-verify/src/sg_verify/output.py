"""How results leave sg-verify: a progress bar on a terminal, and JSON-ready values."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")


def progress(items: Iterable[T], total: int, label: str) -> Iterator[T]:
    """Yield ``items`` while drawing ``label [#####.....] i/total  (elapsed)`` on stderr."""
    interactive = sys.stderr.isatty()
    start = time.perf_counter()
    shown = -1.0
    for i, item in enumerate(items, 1):
        yield item
        now = time.perf_counter()
        if interactive and (now - shown > 0.1 or i == total):
            shown = now
            filled = int(28 * i / max(total, 1))
            bar = "#" * filled + "." * (28 - filled)
            sys.stderr.write(f"\r  {label:<22} [{bar}] {i}/{total}  {now - start:5.1f} s")
            sys.stderr.flush()
    if interactive:
        sys.stderr.write("\n")


def jsonable(value: Any) -> Any:
    """``value`` with numpy arrays and scalars (at any depth) as plain Python values."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
