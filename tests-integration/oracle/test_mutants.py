"""The kill matrix: every mutant against every oracle (finite differences, PyTorch, and
sg's checks of itself: gradcheck properties, graph lifecycle, float32 against float64).

Deliberately wrong gradient rules (sign flipped, a factor off by 1e-3 or 1e-7, zero,
broadcasting not undone, transposed matmul operand, kink and tie conventions, a driver
that assigns instead of accumulating, a rule writing into its output gradient or
computing in float32, the wrong axis, ...) are patched in one at a time. Every mutant
must be caught, and without PyTorch: the finite differences and the self-checks need no
framework.
Run with ``pytest tests-integration/oracle/test_mutants.py -s`` to see the table.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch", reason="the oracle suite needs PyTorch (torch==2.13.0)")

from sg_verify.mutants import KINDS as ALL_KINDS
from sg_verify.mutants import MutantReport, patchable_state, run_mutants

KINDS = sorted(set(ALL_KINDS) - {"sign_flip", "scale_1e-3", "zero"})
"""Every kind but the obvious ones, which the package's own tests check on every operator
with finite differences, and the report's full kill matrix (``sg-verify report``, the
next step of ``nox -s parity``) with every oracle."""
_cache: dict[str, MutantReport] = {}
_state_before = patchable_state()


def report() -> MutantReport:
    """The full run, once, shared by the tests below."""
    if "full" not in _cache:
        _cache["full"] = run_mutants("all", seed=0, kinds=KINDS)
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


def test_the_oracles_that_need_no_framework_catch_every_mutant() -> None:
    """The extrapolated finite differences, which need only sg's own forward, catch every
    mutant PyTorch catches: the 1e-7 factors and, on the probes, the one-sided kink
    conventions (relu, leaky_relu, clip's bounds, softplus's threshold) included. What
    neither value oracle can see (a rule writing into ``g``), the properties catch."""
    r = report()
    assert r.kill_rate("without_torch") == 1.0
    assert [x.mutant.name for x in r.missed_by("fd") if "fd" not in x.mutant.blind] == []
    assert {x.mutant.name for x in r.missed_by("fd")} == {
        x.mutant.name for x in r.missed_by("torch")
    }
    for name in (
        "tensor:mul:scale_1e-7[in1]",
        "tensor:relu:kink0_right",
        "tensor:leaky_relu:kink0_right",
        "tensor:clip:kink0_left",
        "tensor:clip:kink1_right",
        "tensor:softplus:kink0_right",
        "scalar:relu:kink0_right",
        "tensor:sum:wrong_axis",
        "tensor:exp:float32[in0]",
    ):
        assert next(x for x in r.results if x.mutant.name == name).verdicts["fd"].caught, name


def test_the_properties_catch_every_contract_mutant() -> None:
    """A write into the output gradient and a float32 gradient for a float64 input are
    what the gradcheck properties see exactly, on every operator."""
    r = report()
    for x in r.results:
        if x.mutant.kind in ("in_place", "float32"):
            assert x.verdicts["props"].caught, x.mutant.name


def test_every_verdict_matches_its_stated_expectation() -> None:
    """Each mutant says which oracle should miss it and why; anything else is a finding."""
    assert report().surprises() == []


def test_wrong_values_are_caught_by_both_value_oracles_alone() -> None:
    r = report()
    for x in r.results:
        if x.mutant.kind in ("driver", "helper", "operator", "wrong_axis"):
            assert {"fd", "torch"} <= set(x.caught_by), x.mutant.name


def test_the_run_leaves_the_rule_tables_untouched() -> None:
    r = report()
    assert patchable_state() == _state_before
    print(f"\nthe mutant run took {r.seconds:.1f} s")  # timed by CI, not asserted here
    json.dumps(r.to_dict())  # the report is JSON-ready
