"""A small progress bar for long work, drawn only when stderr is a terminal."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

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
