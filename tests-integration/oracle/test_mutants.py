"""The kill matrix: every mutant against both oracles (finite differences and PyTorch).

Deliberately wrong gradient rules (sign flipped, a factor off by 1e-3 or 1e-7, zero,
broadcasting not undone, transposed matmul operand, kink and tie conventions, a driver
that assigns instead of accumulating, ...) are patched in one at a time. Every mutant
must be caught, and by each oracle alone: the finite differences need no framework.
Run with ``pytest tests-integration/oracle/test_mutants.py -s`` to see the table.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch", reason="the oracle suite needs PyTorch (torch==2.13.0)")

from sg_verify.mutants import MutantReport, patchable_state, run_mutants

TIME_BUDGET = 60.0  # seconds for the full run with both oracles
_cache: dict[str, MutantReport] = {}
_state_before = patchable_state()


def report() -> MutantReport:
    """The full run, once, shared by the tests below."""
    if "full" not in _cache:
        _cache["full"] = run_mutants("all", oracles=("fd", "torch"), seed=0)
        print("\n" + _cache["full"].format_table())
    return _cache["full"]


def test_every_mutant_is_caught_by_at_least_one_oracle() -> None:
    r = report()
    rates = r.kill_rates()
    print(
        f"\nkill rates over {len(r.results)} mutants: "
        + ", ".join(f"{oracle} {100 * rate:.1f}%" for oracle, rate in rates.items())
    )
    uncaught = [f"{x.mutant.name}: {x.mutant.description}" for x in r.uncaught()]
    assert uncaught == [], "mutants no oracle catches (a gap in the registry):\n" + "\n".join(
        uncaught
    )
    assert rates["either"] == 1.0


def test_the_oracle_that_needs_no_framework_catches_every_mutant_alone() -> None:
    """The extrapolated finite differences, which need only sg's own forward, catch every
    mutant PyTorch catches: the 1e-7 factors and, on the probes, the one-sided kink
    conventions (relu, leaky_relu, clip's bounds, softplus's threshold) included."""
    r = report()
    assert r.missed_by("fd") == []
    assert r.missed_by("torch") == []
    for name in (
        "tensor:mul:scale_1e-7[in1]",
        "tensor:relu:kink0_right",
        "tensor:leaky_relu:kink0_right",
        "tensor:clip:kink0_left",
        "tensor:clip:kink1_right",
        "tensor:softplus:kink0_right",
        "scalar:relu:kink0_right",
    ):
        assert next(x for x in r.results if x.mutant.name == name).verdicts["fd"].caught, name


def test_every_verdict_matches_its_stated_expectation() -> None:
    """Each mutant says which oracle should miss it and why; anything else is a finding."""
    assert report().surprises() == []


def test_obvious_mutants_are_caught_by_both_oracles() -> None:
    r = report()
    for x in r.results:
        if x.mutant.kind in ("sign_flip", "scale_1e-3", "zero", "driver", "helper"):
            assert set(x.caught_by) == {"fd", "torch"}, x.mutant.name


def test_the_full_run_is_fast_and_leaves_the_rule_tables_untouched() -> None:
    r = report()
    assert patchable_state() == _state_before
    assert r.seconds < TIME_BUDGET, f"the mutant run took {r.seconds:.1f} s"
    json.dumps(r.to_dict())  # the report is JSON-ready
