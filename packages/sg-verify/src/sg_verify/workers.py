"""Long runs of independent checks (the mutants, the operators) shared out to worker
processes: ``jobs=`` of :func:`~sg_verify.mutants.run_mutants` and
:func:`~sg_verify.ops.run_ops`.

The caller's list of items (mutants, specs) holds functions, which do not travel between
processes: each worker builds the same list from the registry and is sent positions in
it, with each item's name to check that it sees what the caller sees. Results come back
by position, so the caller folds them in the order a run in one process would.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from typing import Any, TypeVar

__all__ = ["Share", "job_count", "named", "run_shared"]

Share = list[tuple[int, str]]
"""Positions in the list of items, each with the item's name there."""
T = TypeVar("T")
P = TypeVar("P", bound=Hashable)

PARTS_PER_JOB = 4
"""Each worker gets its items in this many parts: the caller hears of progress as each
part comes back, and a worker whose part ran quickly takes another."""


def job_count(jobs: int, items: int) -> int:
    """The processes to use: ``jobs`` (0: one per CPU), at most one per item."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 0:
        raise ValueError(f"jobs must be an int >= 1, or 0 for one per CPU; got {jobs!r}")
    return max(1, min(jobs or os.cpu_count() or 1, items))


def run_shared(
    task: Callable[[P, Share], list[tuple[int, Any]]], plan: P,
    names: Sequence[str], jobs: int, take: Callable[[int, Any], None],
) -> None:  # fmt: skip
    """Run ``task(plan, share)`` in ``jobs`` processes over interleaved shares of the
    positions of ``names``; ``take(position, value)`` gets each result in the caller's
    process as its share comes back (in the order the shares finish). ``task`` must be
    a module-level function. The workers are started with ``spawn``: a script calling
    this at its top level needs ``if __name__ == "__main__":``, as any script using
    multiprocessing."""
    parts = min(len(names), jobs * PARTS_PER_JOB)
    shares = [[(i, names[i]) for i in range(k, len(names), parts)] for k in range(parts)]
    # spawn, not fork: a forked copy of a process running PyTorch's threads may hang.
    # The workers keep PyTorch's default thread count: with another, some of its sums
    # differ in the last bit, and the report would not be the one-process report.
    context = get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=context) as pool:
        try:
            for future in as_completed([pool.submit(task, plan, share) for share in shares]):
                for position, value in future.result():
                    take(position, value)
        except BaseException:  # a share failed, or Ctrl-C: drop the shares not started
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def named(
    items: Sequence[T], position: int, name: str, caller: str, label: Callable[[T], str]
) -> T:
    """``items[position]`` in a worker, once its ``label`` is ``name`` as in the caller."""
    if position >= len(items) or label(items[position]) != name:
        raise RuntimeError(
            f"{caller}: a worker process does not see {name!r} where the caller does "
            "(operators registered while the caller ran are not registered in a new "
            "process): run with jobs=1"
        )
    return items[position]
