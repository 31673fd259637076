"""``jobs=``: the mutants and the operator checks shared out to worker processes give
the same results, in the same order, as one process."""

from __future__ import annotations

from typing import Any

import pytest

from sg_verify.mutants import run_mutants
from sg_verify.mutants.source import run_source_mutants
from sg_verify.ops import run_ops
from sg_verify.workers import job_count, named

OPERATORS = ("mul", "maximum")


def _without_seconds(data: Any) -> Any:
    """``data`` without the timings, which differ from run to run."""
    if isinstance(data, dict):
        return {k: _without_seconds(v) for k, v in data.items() if k != "seconds"}
    if isinstance(data, list):
        return [_without_seconds(v) for v in data]
    return data


def test_mutants_in_two_processes_give_the_matrix_of_one() -> None:
    kwargs: dict[str, Any] = {"oracles": ("fd", "props"), "operators": OPERATORS}
    alone = run_mutants("all", **kwargs)
    seen: list[tuple[int, int]] = []
    shared = run_mutants("all", **kwargs, jobs=2, progress=lambda d, n, r: seen.append((d, n)))
    assert len(alone.results) > 10
    assert [r.mutant.name for r in shared.results] == [r.mutant.name for r in alone.results]
    assert _without_seconds(shared.to_dict()) == _without_seconds(alone.to_dict())
    total = len(alone.results)
    assert seen == [(done, total) for done in range(1, total + 1)]


def test_operator_checks_in_two_processes_give_the_report_of_one() -> None:
    alone = run_ops(with_torch=False, operators=("mul", "exp"), points=1)
    shared = run_ops(with_torch=False, operators=("mul", "exp"), points=1, jobs=2)
    assert {(r.engine, r.op) for r in alone.rows} == {
        (engine, op) for engine in ("tensor", "scalar") for op in ("mul", "exp")
    }
    assert shared.to_dict() == alone.to_dict()
    assert [repr((r.oracle, r.worst, r.where)) for r in shared.results] == [
        repr((r.oracle, r.worst, r.where)) for r in alone.results
    ]  # (repr: nan is itself)


def test_source_mutants_in_two_processes_give_the_matrix_of_one() -> None:
    kwargs: dict[str, Any] = {"sample": 6, "oracles": ("fd",), "parity": 0, "groups": ("rules",)}
    alone = run_source_mutants(**kwargs, seed=3)
    shared = run_source_mutants(**kwargs, seed=3, jobs=2)
    assert len(alone.results) == 6
    assert _without_seconds(shared.to_dict()) == _without_seconds(alone.to_dict())


@pytest.mark.parametrize("jobs", [-1, True, 1.5, "2"])
def test_a_job_count_is_an_int_of_at_least_one_or_zero(jobs: Any) -> None:
    with pytest.raises(ValueError, match="jobs must be an int >= 1, or 0 for one per CPU"):
        job_count(jobs, 10)
    with pytest.raises(ValueError, match="jobs must be"):
        run_mutants("scalar", oracles=("fd",), operators=("mul",), jobs=jobs)


def test_zero_jobs_is_one_per_cpu_and_never_more_than_the_items() -> None:
    assert job_count(0, 10_000) >= 1
    assert job_count(8, 3) == 3
    assert job_count(1, 0) == 1


def test_a_worker_that_sees_another_registry_says_so() -> None:
    items = ["mul", "exp"]
    assert named(items, 1, "exp", "run_ops", str) == "exp"
    with pytest.raises(RuntimeError, match=r"run_ops: .*'relu'.*run with jobs=1"):
        named(items, 1, "relu", "run_ops", str)
    with pytest.raises(RuntimeError, match="run with jobs=1"):
        named(items, 5, "exp", "run_ops", str)


def test_run_ops_refuses_an_operator_it_does_not_know() -> None:
    with pytest.raises(ValueError, match=r"no registered operator is called \['mull'\]"):
        run_ops(with_torch=False, operators=("mul", "mull"))
    one = run_ops(with_torch=False, operators="exp", points=1, second_order=False)
    assert {r.op for r in one.rows} == {"exp"}
