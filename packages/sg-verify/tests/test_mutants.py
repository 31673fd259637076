"""Mutation testing with the finite-difference oracle alone (no PyTorch needed).

The full kill matrix with both oracles is in ``tests-integration/oracle/test_mutants.py``.
Here: every operator gets its generic mutants, finite differences catch the obvious ones
(sign flip, a 1e-3 factor, a zero gradient) for every operator of both rule tables, the
mutants are always patched out again, and the runner reports wrong shapes and exceptions
as kills instead of crashing.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np
import pytest

import sg_scalar
import sg_tensor
from sg_scalar import graph
from sg_scalar.declare import Kink, Tie
from sg_verify.mutants import (
    GENERIC_KINDS,
    KINDS,
    SEAMS,
    Mutant,
    MutantReport,
    Patch,
    all_mutants,
    patchable_state,
    run_mutants,
)
from sg_verify.oracles import sg_vjp
from sg_verify.registry import SCALAR_SPECS, TENSOR_SPECS, OpSpec, declarations

OBVIOUS = ("sign_flip", "scale_1e-3", "zero")
_cache: dict[str, MutantReport] = {}


def obvious_report() -> MutantReport:
    """One FD-only run of the obvious mutants of both engines, shared by the tests."""
    if "obvious" not in _cache:
        _cache["obvious"] = run_mutants("all", oracles=("fd",), kinds=OBVIOUS)
    return _cache["obvious"]


def test_every_operator_of_both_tables_has_its_generic_mutants() -> None:
    mutants = all_mutants()
    names = {m.name for m in mutants}
    assert len(names) == len(mutants), "mutant names must be unique"
    for engine, table in (("tensor", sg_tensor.OPS), ("scalar", sg_scalar.OPS)):
        for op in table:
            for kind in GENERIC_KINDS:
                assert f"{engine}:{op}:{kind}[in0]" in names
    for op in ("add", "sub", "mul", "div", "pow", "maximum", "minimum", "where", "matmul"):
        assert f"tensor:{op}:sign_flip[in1]" in names
    for op in ("add", "mul", "pow", "maximum", "minimum"):
        assert f"scalar:{op}:zero[in1]" in names
    assert {m.kind for m in mutants} == set(KINDS)
    for m in mutants:
        assert m.description, m.name
        assert m.specs(), f"{m.name} has nothing to run on"


def test_every_declared_kink_and_tie_has_a_mutant_and_a_probe() -> None:
    by_operator: dict[tuple[str, str], list[Mutant]] = {}
    for m in all_mutants():
        by_operator.setdefault((m.engine, m.operator), []).append(m)
    for engine in ("tensor", "scalar"):
        for decl in declarations(engine):
            if decl.op is None:  # a composite has no rule of its own to mutate
                continue
            kinks = [e for e in decl.edges if isinstance(e, Kink)]
            ties = [e for e in decl.edges if isinstance(e, Tie)]
            mine = by_operator.get((engine, decl.name), [])
            assert len([m for m in mine if m.kind == "kink"]) == len(kinks), decl.name
            if ties:
                assert any(m.kind == "tie" for m in mine), decl.name
            if kinks or ties:
                assert all(m.probes for m in mine), decl.name


def test_fd_catches_the_obvious_mutants_of_every_operator() -> None:
    report = obvious_report()
    missed = [r.mutant.name for r in report.missed_by("fd")]
    assert missed == []
    caught_ops = {(r.mutant.engine, r.mutant.operator) for r in report.results}
    assert caught_ops == {("tensor", op) for op in sg_tensor.OPS} | {
        ("scalar", op) for op in sg_scalar.OPS
    }
    assert report.kill_rate("fd") == 1.0
    print(f"\nFD caught {len(report.results)} obvious mutants in {report.seconds:.1f} s")


def test_the_rule_tables_are_unchanged_after_a_run() -> None:
    before = patchable_state()
    obvious_report()
    run_mutants("all", oracles=("fd",), kinds=("driver", "helper"))
    assert patchable_state() == before


def test_every_mutant_changes_something_and_is_always_restored() -> None:
    before = patchable_state()
    for mutant in all_mutants():
        with mutant.applied():
            assert patchable_state() != before, mutant.name
        assert patchable_state() == before, mutant.name
        with pytest.raises(RuntimeError, match="boom"), mutant.applied():
            raise RuntimeError("boom")
        assert patchable_state() == before, mutant.name


class Abort(BaseException):
    """Not an Exception: the runner must let it through (and still restore)."""


def _raising(error: BaseException) -> Patch:
    def vjp(*args: Any, **kwargs: Any) -> tuple[Any, ...]:
        raise error

    return Patch(sg_tensor.OPS["exp"], "vjp", lambda original: vjp)


def _custom(name: str, *patches: Patch) -> Mutant:
    return Mutant(
        name=name,
        operator="exp",
        engine="tensor",
        kind="operator",
        description="a test mutant",
        patches=patches,
        spec_ops=frozenset({"exp"}),
    )


def test_a_run_restores_everything_when_a_check_aborts() -> None:
    before = patchable_state()
    with pytest.raises(Abort):
        run_mutants(mutants=[_custom("abort", _raising(Abort()))], oracles=("fd",))
    assert patchable_state() == before


def test_a_run_restores_everything_when_progress_raises() -> None:
    before = patchable_state()

    def progress(done: int, total: int, result: Any) -> None:
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        run_mutants("scalar", oracles=("fd",), kinds=("sign_flip",), progress=progress)
    assert patchable_state() == before


def test_an_exception_in_the_mutated_code_counts_as_caught_with_its_reason() -> None:
    report = run_mutants(mutants=[_custom("raises", _raising(ValueError("bad shape")))],
                         oracles=("fd",))  # fmt: skip
    (result,) = report.results
    assert result.caught_by == ("fd",)
    assert "raised ValueError: bad shape" in result.verdicts["fd"].witness


def test_broadcasting_not_undone_is_reported_not_crashing() -> None:
    report = run_mutants("tensor", oracles=("fd",), kinds=("helper",))
    assert {r.mutant.name for r in report.results} == {
        "tensor:<unbroadcast>:leading_axes_only",
        "tensor:<unbroadcast>:fit_skipped",
    }
    for result in report.results:
        verdict = result.verdicts["fd"]
        assert verdict.caught, result.mutant.name
        # equal shapes hide the mutant: only broadcasting specs kill it
        assert all("3x4|3x4" not in spec for spec in verdict.killed_on), result.mutant.name


def _identity_seams_mutant() -> Mutant:
    """Every seam of the driver replaced by a copy that does the same thing."""
    return Mutant(
        name="faithful-seams",
        operator="<driver>",
        engine="tensor",
        kind="driver",
        description="the driver's seams, replaced by equivalent ones",
        patches=(
            Patch(graph, "accumulate", lambda original: lambda a, b: a + b),
            Patch(graph, "seed", lambda original: lambda root, g: g),
            Patch(graph, "topological_order", lambda original: lambda *r: original(*r)),
        ),
        spec_ops=None,
    )


def test_driver_mutants_patch_the_real_driver_through_its_seams() -> None:
    """The seams are what the real driver calls: replacing them with equivalents gives its
    gradients bit for bit, so a driver mutant's kill comes from its mutation."""
    rng = np.random.default_rng(0)
    cases = [(spec, spec.sample(rng)) for spec in TENSOR_SPECS + SCALAR_SPECS]
    expected = []
    for spec, arrays in cases:
        cotangent = rng.standard_normal(_output_shape(spec, arrays))
        expected.append((cotangent, sg_vjp(spec.engine, spec.sg, arrays, cotangent)[1]))
    with _identity_seams_mutant().applied():
        for (spec, arrays), (cotangent, grads) in zip(cases, expected):
            _, got = sg_vjp(spec.engine, spec.sg, arrays, cotangent)
            for g, e in zip(got, grads):
                np.testing.assert_array_equal(g, e, err_msg=spec.name)
    report = run_mutants(mutants=[_identity_seams_mutant()], oracles=("fd",), samples=1)
    assert report.uncaught() == report.results
    for mutant in all_mutants():
        if mutant.kind == "driver":
            assert {p.attribute for p in mutant.patches} <= set(SEAMS), mutant.name
            assert all(p.target is graph for p in mutant.patches), mutant.name


def _output_shape(spec: OpSpec, arrays: list[np.ndarray]) -> tuple[int, ...]:
    if spec.engine == "scalar":
        return ()
    with sg_scalar.no_grad():
        return tuple(spec.sg(*[sg_tensor.Tensor(a) for a in arrays]).shape)


def test_driver_mutants_show_only_where_a_node_is_reused() -> None:
    report = run_mutants("scalar", oracles=("fd",), kinds=("driver",))
    by_name = {r.mutant.name: r.verdicts["fd"] for r in report.results}
    assign = by_name["scalar:<driver>:assign_not_accumulate"]
    assert assign.caught
    # only checks that use a node twice see it: the reuse probes
    assert all(spec.startswith("probe:reuse[") for spec in assign.killed_on), assign.killed_on
    # a node running before all its consumers: only a diamond shows it
    assert by_name["scalar:<driver>:preorder"].killed_on == ["probe:reuse[diamond]"]
    assert by_name["scalar:<driver>:seed_ignored"].caught


def test_extrapolated_differences_catch_the_subtle_factor_and_the_kink_conventions() -> None:
    """A gradient off by a relative 1e-7 and the other side of a kink: a plain central
    difference sees neither; the extrapolated differences, held to their own error
    estimate and taken from the declared side on a kink, catch both, without PyTorch."""
    report = run_mutants(
        "all", oracles=("fd",), kinds=("scale_1e-7", "kink"), operators=("mul", "relu", "abs")
    )
    assert report.missed_by("fd") == []
    by_name = {r.mutant.name: r for r in report.results}
    for name in ("tensor:mul:scale_1e-7[in1]", "scalar:relu:scale_1e-7[in0]"):
        assert by_name[name].verdicts["fd"].caught
    for name in ("tensor:relu:kink0_right", "scalar:relu:kink0_right"):
        assert by_name[name].verdicts["fd"].killed_on == ["probe:relu[kink0;case 0]"]
    # on the kink the oracle takes the declared side: the right rule passes its probe
    assert "probe:relu[kink0;case 0]" not in report.invalid_witnesses["fd"]
    assert report.surprises() == []


def test_tie_mutants_are_caught_by_fd_at_two_way_ties() -> None:
    report = run_mutants("all", oracles=("fd",), kinds=("tie",))
    # maximum, minimum (both engines), max, min, norm, max_pool2d
    assert len(report.results) == 8
    for result in report.results:
        assert result.verdicts["fd"].caught, result.mutant.name
        assert all("[tie" in s for s in result.verdicts["fd"].killed_on), result.mutant.name


def test_report_is_json_and_a_readable_table() -> None:
    report = run_mutants("scalar", oracles=("fd",), operators=("mul",))
    data = json.loads(json.dumps(report.to_dict()))
    assert data["mutants"] == len(report.results)
    assert set(data["kill_rates"]) == {"fd", "either"}
    assert data["missed_by"]["fd"] == [r.mutant.name for r in report.missed_by("fd")]
    row = data["results"][0]
    assert {"name", "kind", "caught_by", "verdicts", "description"} <= set(row)
    table = report.format_table(verbose=True)
    assert "kill rate" in table
    assert "scalar:mul:sign_flip[in0]" in table


def test_runs_without_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # any `import torch` now fails
    report = run_mutants("tensor", oracles=("fd",), kinds=("sign_flip",), operators=("relu",))
    assert report.kill_rate("fd") == 1.0
    with pytest.raises(ImportError, match="sg-verify\\[torch\\]"):
        run_mutants("tensor", oracles=("fd", "torch"), operators=("relu",))


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="engine"):
        all_mutants("gpu")
    with pytest.raises(ValueError, match="oracles"):
        run_mutants(oracles=("fd", "oracle-of-delphi"))
    with pytest.raises(ValueError, match="kinds"):
        run_mutants(oracles=("fd",), kinds=("typo",))


def test_contract_mutants_are_derived_from_the_declarations() -> None:
    names = {m.name for m in all_mutants()}
    # "return g" is what add's rule does (and what the fit makes of linear's bias): no mutant
    assert "tensor:add:alias[in0]" not in names
    assert "tensor:add:alias[in1]" not in names
    assert "tensor:linear:alias[in2]" not in names
    assert {"tensor:mul:alias[in1]", "scalar:mul:alias[in1]", "tensor:add:in_place[in0]"} <= names
    assert "scalar:exp:in_place[in0]" not in names  # a float cannot be written into
    axis = {d.name for d in declarations("tensor") if any("axis" in c.params for c in d.cases)}
    assert {"sum", "softmax", "cumsum", "concatenate"} <= axis
    assert {m.operator for m in all_mutants() if m.kind == "wrong_axis"} == axis & set(
        sg_tensor.OPS
    )


def test_the_contract_mutants_are_caught_without_torch() -> None:
    chosen = {
        "tensor:exp:in_place[in0]",
        "tensor:sum:in_place[in0]",
        "tensor:mul:float32[in1]",
        "tensor:sum:wrong_axis",
        "tensor:softmax:wrong_axis",
        "tensor:mul:alias[in0]",
        "scalar:mul:alias[in1]",
    }
    mutants = [m for m in all_mutants() if m.name in chosen]
    assert len(mutants) == len(chosen)
    report = run_mutants(mutants=mutants, oracles=("fd", "props"))
    assert report.uncaught() == []
    verdicts = {x.mutant.name: x.verdicts for x in report.results}
    for name in ("tensor:exp:in_place[in0]", "tensor:mul:float32[in1]"):
        assert verdicts[name]["props"].caught, name  # exact: the rule is called directly
    for name in ("tensor:sum:wrong_axis", "tensor:mul:float32[in1]", "scalar:mul:alias[in1]"):
        assert verdicts[name]["fd"].caught, name  # float32's 6e-8 included
    assert not verdicts["tensor:exp:in_place[in0]"]["fd"].caught  # the values are right
    assert report.surprises() == []
