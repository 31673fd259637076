"""Source mutation testing without PyTorch: the points, the patches, the kills, the skips.

The full run with both oracles and the parity check is ``nox -s mutants_source``; a
sample of it runs in ``tests-integration/oracle/test_source_mutants.py``.
"""

from __future__ import annotations

import ast
import json
import time
from types import SimpleNamespace
from typing import Any

import pytest

import sg_scalar
import sg_tensor
from sg_scalar import graph
from sg_tensor.tensor import Tensor
from sg_verify.cli import main
from sg_verify.mutants import patchable_state, run_mutants
from sg_verify.mutants import source as source_module
from sg_verify.mutants.runner import ORACLES
from sg_verify.mutants.source import (
    GROUPS,
    MutantTimeoutError,
    Skipped,
    SourceMutant,
    SourcePoint,
    Target,
    build_mutant,
    build_mutants,
    default_oracles,
    run_source_mutants,
    sample_points,
    select_points,
    source_points,
    source_state,
    target_points,
    targets,
)
from sg_verify.mutants.source_checks import SurvivorChecks, scenarios
from sg_verify.mutants.source_equivalents import CLASSIFIED, EQUIVALENT, LIMIT
from sg_verify.mutants.source_operators import Mutation, apply, mutations

_points: list[SourcePoint] = []


def points() -> list[SourcePoint]:
    if not _points:
        found, skipped = source_points()
        assert skipped == []
        _points.extend(found)
    return _points


def point(point_id: str) -> SourcePoint:
    matches = [p for p in points() if p.id == point_id]
    assert matches, f"no mutation point {point_id}"
    return matches[0]


def mutant(point_id: str) -> SourceMutant:
    built = build_mutant(point(point_id))
    assert isinstance(built, SourceMutant), built
    return built


# ---------------------------------------------------------------------------------------
# Mutation points
# ---------------------------------------------------------------------------------------
def test_the_points_are_stable_unique_and_cover_every_group() -> None:
    again, _ = source_points()
    ids = [p.id for p in points()]
    assert ids == [p.id for p in again], "enumeration must be deterministic"
    assert len(set(ids)) == len(ids), "ids must be unique"
    assert {p.target.group for p in points()} == set(GROUPS)
    for p in points():
        module, function, line, col, label = p.id.split(":", 4)
        assert (module, function) == tuple(p.target.label.split(":"))
        assert int(line) == p.mutation.line >= 1
        assert int(col) == p.mutation.col >= 0
        assert label.startswith(p.mutation.label)
    # every operator's rule of both engines is a target; a few give no operator a place
    labels = {p.target.label for p in points()}
    rules = {t.label for t in targets() if t.rule}
    for table in (sg_tensor.OPS, sg_scalar.OPS):
        for op in table.values():
            assert f"{op.vjp.__module__}:{op.vjp.__qualname__}" in rules
    assert rules - labels == {
        "sg_tensor.elementwise:add",  # return g, g
        "sg_scalar.rules:add",  # return g, g
        "sg_tensor.shapes:scatter",  # return (g[index],)
        "sg_tensor.shapes:transpose",  # return (g.transpose(tuple(np.argsort(axes).tolist())),)
    }
    for expected in (
        "sg_tensor.elementwise:sin:3:12:Mult->Div",
        "sg_tensor.elementwise:sin:3:16:Call:cos->sin",
        "sg_scalar.rules:sin_:3:12:Mult->Div",
        "sg_tensor.tensor:Tensor._fit_gradient:7:4:Delete:Assign",
        "sg_scalar.graph:accumulate:3:11:Add->Sub",
    ):
        assert expected in ids, expected


def test_each_operator_kind_is_applied() -> None:
    labels = {p.mutation.label.split(":")[0] for p in points()} | {
        p.mutation.label for p in points()
    }
    for kind in (
        "Mult->Div", "Add->Sub", "Sub->Add", "Div->Mult", "Pow->Mult", "Add->Left",
        "Add->Right", "Const", "Lt->LtE", "Eq->NotEq", "Negate", "Delete", "Drop",
        "keepdims->not", "axis->None", "Swap", "Return", "Call", "where", "Is->IsNot",
    ):  # fmt: skip
        assert kind in labels, kind


def test_the_rule_only_operators_apply_to_rules_alone() -> None:
    for p in points():
        if p.mutation.label.startswith(("Swap:", "Return:")):
            assert p.target.rule, p.id


def test_decorators_and_error_paths_are_never_mutated() -> None:
    definition = ast.parse(
        "@op('x', forward)\n"
        "def rule(g, out, x):\n"
        "    '''Doc 2 * 3.'''\n"
        "    if x > 0:\n"
        "        raise ValueError(f'bad {x + 1}')\n"
        "    return (g * 2,)\n"
    ).body[0]
    assert isinstance(definition, ast.FunctionDef)
    definition.decorator_list = []
    found = mutations(definition, rule=True)
    lines = {m.line for m in found}
    assert 4 not in lines  # the raise (its f-string) is left alone
    assert 3 in lines  # the condition that leads to it is mutated
    assert {m.label for m in found if m.line == 3} >= {"Gt->GtE", "Gt->LtE", "Negate:If"}
    mutated = apply(definition, next(m for m in found if m.label == "Const:2->3"))
    assert "g * 3" in ast.unparse(mutated)
    assert "g * 2" in ast.unparse(definition)


def test_the_sample_is_deterministic_and_stratified() -> None:
    chosen = sample_points(points(), 150, seed=0)
    assert [p.id for p in chosen] == [p.id for p in sample_points(points(), 150, seed=0)]
    assert len(chosen) == 150
    assert {p.target.label for p in chosen} == {p.target.label for p in points()}
    assert [p.id for p in chosen] != [p.id for p in sample_points(points(), 150, seed=1)]
    few = sample_points(points(), 5, seed=3)
    assert len(few) == len({p.target.label for p in few}) == 5
    assert sample_points(points(), 10**6) == points()


# ---------------------------------------------------------------------------------------
# Patching and restoring
# ---------------------------------------------------------------------------------------
def first_of(label: str) -> SourceMutant:
    """The first mutant of the function ``label``."""
    built, _ = build_mutants([next(p for p in points() if p.target.label == label)])
    return built[0]


def test_applying_and_restoring_leaves_everything_as_it_was() -> None:
    before, before_source = patchable_state(), source_state()
    chosen = [
        mutant("sg_tensor.elementwise:sin:3:12:Mult->Div"),
        mutant("sg_scalar.rules:sin_:3:12:Mult->Div"),
        mutant("sg_scalar.graph:accumulate:3:11:Add->Sub"),
        first_of("sg_tensor.op:unbroadcast"),
        first_of("sg_tensor.tensor:Tensor._fit_gradient"),
    ]
    for m in chosen:
        with m.applied():
            changed = {k for k, v in patchable_state().items() if v != before[k]}
            changed |= {k for k, v in source_state().items() if v is not before_source[k]}
            assert changed, f"{m.name} patched nothing"
        with pytest.raises(RuntimeError, match="inside"), m.applied():
            raise RuntimeError("a failure inside the block")
        assert patchable_state() == before, m.name  # functions compare by identity
        assert all(v is before_source[k] for k, v in source_state().items()), m.name
    unbroadcast = chosen[3]
    assert {(p.target.__name__, p.attribute) for p in unbroadcast.patches} >= {
        ("sg_tensor.op", "unbroadcast"),
        ("sg_tensor.shapes", "unbroadcast"),
    }
    fit = chosen[4]
    with fit.applied():
        assert isinstance(vars(Tensor)["_fit_gradient"], staticmethod)
    # the driver's alias that tells a replaced accumulate from the default is left alone
    assert all(p.attribute != "_add" for m in chosen for p in m.patches)
    assert graph._add is graph.accumulate


def test_the_patch_reaches_the_code_that_runs() -> None:
    x = sg_tensor.Tensor([0.3, -1.2], requires_grad=True)
    with mutant("sg_tensor.elementwise:sin:3:16:Call:cos->sin").applied():
        x.sin().sum().backward()
    import numpy as np

    assert np.allclose(x.grad, np.sin(x.data))
    with mutant("sg_scalar.graph:accumulate:3:11:Add->Sub").applied():
        v = sg_scalar.Value(2.0)
        (v * v).backward()
    assert v.grad == 0.0  # x * x: the two contributions subtracted instead of added


# ---------------------------------------------------------------------------------------
# Kills, skips, hangs
# ---------------------------------------------------------------------------------------
def test_known_mutations_are_killed_by_finite_differences() -> None:
    chosen = [
        mutant("sg_tensor.elementwise:sin:3:12:Mult->Div"),
        mutant("sg_tensor.elementwise:sin:3:16:Call:cos->sin"),
        mutant("sg_scalar.rules:sin_:3:12:Mult->Div"),
    ]
    report = run_mutants(mutants=chosen, oracles=("fd",))
    assert [r.caught_by for r in report.results] == [("fd",)] * len(chosen)
    assert all(r.mutant.kind == "source" for r in report.results)


def _sample_function(values: Any, scale: float) -> Any:
    total = 0.0
    for v in values:
        total += v * scale
    return total


def _holder_target(function: Any, holder: Any, rule: bool = False) -> Target:
    return Target(
        group="rules", label=f"tests:{function.__name__}", function=function, engine="tensor",
        operator="sin", slots=((holder, function.__name__),), spec_ops=frozenset({"sin"}),
        rule=rule,
    )  # fmt: skip


def test_a_mutant_that_does_not_compile_is_skipped_with_its_reason() -> None:
    holder = SimpleNamespace(_sample_function=_sample_function)
    target = _holder_target(_sample_function, holder)
    broken = Mutation(
        path=(("body", 0),), line=2, col=4, label="Break", before="total = 0.0",
        after="break", replace=lambda node: ast.Break(),
    )  # fmt: skip
    result = build_mutant(SourcePoint("tests:_sample_function:2:4:Break", target, broken))
    assert isinstance(result, Skipped)
    assert result.what == "tests:_sample_function:2:4:Break"
    assert "does not compile" in result.reason
    assert "outside loop" in result.reason
    fine = target_points(target)
    assert fine
    assert all(isinstance(build_mutant(p), SourceMutant) for p in fine)


def test_a_closure_is_rebuilt_and_an_unreadable_one_skipped() -> None:
    factor = 3.0

    def scaled(x: float) -> float:
        return x * factor

    holder = SimpleNamespace(scaled=scaled)
    target = _holder_target(scaled, holder)
    add = next(p for p in target_points(target) if p.mutation.label == "Mult->Add")
    built = build_mutant(add)
    assert isinstance(built, SourceMutant)
    with built.applied():
        assert holder.scaled(2.0) == 5.0  # 2 + factor, the closure's value
    assert holder.scaled(2.0) == 6.0

    def later() -> float:
        return unset  # bound below, after the function is made

    assert source_module._closure_problem(later) is not None
    unset = 1.0
    assert source_module._closure_problem(later) is None


def test_a_hanging_mutant_is_stopped_and_counts_as_raising(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def spin(n: int) -> int:
        i = 0
        while i < n:
            i += 1
        return i

    monkeypatch.setattr(source_module, "HANG_SECONDS", 0.3)
    holder = SimpleNamespace(spin=spin)
    target = _holder_target(spin, holder)
    hang = next(p for p in target_points(target) if p.mutation.label == "Delete:AugAssign")
    built = build_mutant(hang)
    assert isinstance(built, SourceMutant)
    start = time.perf_counter()
    with built.applied():
        with pytest.raises(MutantTimeoutError):
            holder.spin(5)
        with pytest.raises(MutantTimeoutError, match="earlier"):
            holder.spin(5)  # at once: the mutant already hung
    assert time.perf_counter() - start < 5.0
    assert holder.spin(5) == 5


def test_a_small_run_reports_kill_rates_and_classifications() -> None:
    report = run_source_mutants(sample=12, seed=0, oracles=("fd",), parity=0, groups=("rules",))
    assert len(report.results) == 12
    assert report.points["rules"] == sum(p.target.group == "rules" for p in points())
    rates = report.kill_rates()
    assert set(rates) == {"fd", "contract", "special", "second", "either"}
    assert report.runner_oracles == ("fd",)
    assert 0.0 <= rates["either"] <= 1.0
    killed = sum(r.caught for r in report.results)
    assert killed >= 6, report.format()
    assert report.by_group()["rules"]["mutants"] == 12
    text = report.format(verbose=True)
    assert "Kill rate of the" in text
    assert "Every mutant:" in text
    json.dumps(report.to_dict())


def test_classifications_are_well_formed() -> None:
    ids = {p.id for p in points()}
    for mutant_id, (category, reason) in CLASSIFIED.items():
        assert category in (EQUIVALENT, LIMIT), mutant_id
        assert reason.strip(), mutant_id
        assert mutant_id in ids, f"{mutant_id}: no such mutation point (the code moved?)"


def test_the_cli_runs_a_sample_without_torch(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["mutants", "--source", "--sample", "4", "--no-torch"])
    out = capsys.readouterr().out
    assert code in (0, 1)
    assert "Source mutants: a sample of 4" in out


def test_targets_are_found_where_the_code_looks_them_up() -> None:
    found = {t.label: t for t in targets()}
    walk = found["sg_scalar.graph:_walk"]
    assert (graph, "_walk") in walk.slots
    assert found["sg_tensor.elementwise:sin"].slots == ((sg_tensor.OPS["sin"], "vjp"),)
    assert found["sg_tensor.tensor:Tensor._fit_gradient"].static
    extremum = found["sg_tensor.reductions:_extremum_rule"]
    assert extremum.spec_ops == frozenset({"max", "min", "norm"})  # norm at p = +-inf
    with pytest.raises(ValueError, match="unknown groups"):
        targets(("rules", "nonsense"))


# ---------------------------------------------------------------------------------------
# Defaults and selection
# ---------------------------------------------------------------------------------------
def test_every_available_oracle_runs_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_oracles(torch=False) == tuple(o for o in ORACLES if o != "torch")
    assert {"fd", "props", "lifecycle"} <= set(default_oracles(torch=False))
    # PyTorch's joins where it is installed (asked without importing it here)
    monkeypatch.setattr(source_module, "torch_available", lambda: True)
    assert default_oracles() == tuple(ORACLES)
    monkeypatch.setattr(source_module, "torch_available", lambda: False)
    assert default_oracles() == default_oracles(torch=False)


def test_points_are_selected_by_id_or_by_function() -> None:
    one = "sg_tensor.elementwise:sin:3:12:Mult->Div"
    assert [p.id for p in select_points(points(), [one])] == [one]
    by_function = select_points(points(), ["sg_scalar.graph:accumulate"])
    assert by_function
    assert all(p.target.label == "sg_scalar.graph:accumulate" for p in by_function)
    assert len(by_function) == sum(
        p.target.label == "sg_scalar.graph:accumulate" for p in points()
    )
    with pytest.raises(ValueError, match="no mutation point"):
        select_points(points(), [one, "sg_tensor.elementwise:sin:99:0:Gone"])


# ---------------------------------------------------------------------------------------
# The survivor checks
# ---------------------------------------------------------------------------------------
def test_every_contract_scenario_holds_on_the_real_code() -> None:
    found = scenarios()
    assert len({s.name for s in found}) == len(found) >= 50
    failing = []
    for scenario in found:
        try:
            scenario.run()
        except Exception as error:
            failing.append(f"{scenario.name}: {error}")
    assert failing == []


@pytest.mark.parametrize(
    ("point_id", "scenario"),
    [
        ("sg_scalar.graph:_walk:48:12:Delete:Assign", "retained gradients"),  # Value's .grad
        ("sg_scalar.graph:_walk:11:10:Negate:IfExp", "seams"),  # accumulate ignored
        ("sg_scalar.graph:_walk:58:16:Delete:Assign", "needs[y]"),  # 1-input needs_input_grad
        ("sg_scalar.graph:_walk:140:20:Delete:Assign", "fit[3]"),  # no fit for 3+ inputs
        ("sg_scalar.graph:_walk:46:12:Delete:Continue", "none[1]"),  # a rule ran on None
        ("sg_scalar.graph:backward:22:8:Delete:Assign", "create_graph"),  # graph freed
        ("sg_tensor.op:unbroadcast:15:81:Const:1->0", "empty axis"),
        ("sg_tensor.tensor:_reduces_to:5:17:Sub->Add", "invalid[shape;1 inputs;input 0]"),
        ("sg_tensor.tensor:Tensor._fit_gradient:32:8:Delete:Assign", "fit[1]"),  # no cast
        ("sg_tensor.reductions:expand:5:26:Mult->Left", "0-d reductions"),
    ],
)
def test_the_contract_kills_what_the_oracles_cannot_see(point_id: str, scenario: str) -> None:
    verdict = SurvivorChecks(torch=False).contract(mutant(point_id))
    assert verdict.caught, verdict
    assert scenario in verdict.killed_on, verdict.killed_on
    assert verdict.skipped == 0  # every scenario is a valid witness on the real code


def test_special_values_and_second_order_kill_without_torch() -> None:
    checks = SurvivorChecks(torch=False)
    at_one = checks.special(mutant("sg_scalar.rules:pow_:8:30:Const:0->1"))  # y == 1
    assert at_one.caught, at_one
    assert "=" in at_one.witness, at_one  # the y-gradient at y = 1 (or 0)
    all_zero = checks.special(mutant("sg_tensor.reductions:prod:6:12:Eq->NotEq"))
    assert all_zero.caught, all_zero
    assert "every element=0" in all_zero.witness, all_zero
    # x**2 differentiated twice runs x**1: p == 1 treated as p == 0 shows there only
    twice = checks.second(mutant("sg_scalar.rules:pow_const:8:12:Const:0->1"))
    assert twice.caught, twice
    assert twice.witness.startswith("fd2"), twice
    # std at a constant slice: the cotangent's part of the second derivative (nan)
    spread = checks.second(mutant("sg_tensor.reductions:std:10:11:Negate:IfExp"))
    assert spread.caught, spread
    assert "zerospread" in spread.witness, spread
    # an equivalent mutant stays alive through all three
    alive = mutant("sg_tensor.linalg:matmul:22:35:Const:2->1")
    assert not any(checks.run(c, alive).caught for c in ("special", "second"))


def test_the_spread_probes_sit_on_constant_slices() -> None:
    import numpy as np

    from sg_verify.oracles import fd_check
    from sg_verify.probes import all_probes, spread_probes

    probes = spread_probes("tensor")
    assert probes
    assert {p.op for p in probes} == {"std"}
    assert not {p.name for p in probes} & {p.name for p in all_probes("tensor")}
    for probe in probes[:4]:
        (x,) = probe.sample(np.random.default_rng(0))
        axis = probe.example.case.params["dim"]  # type: ignore[union-attr]
        spread = np.std(x, axis=axis)
        assert ((spread == 0).any() and (spread != 0).any()) or np.ndim(spread) == 0
        assert fd_check(probe, [x], 0).passed
        t = Tensor(x, requires_grad=True)
        probe.sg(t).sum().backward()
        constant = np.broadcast_to(np.std(x, axis=axis, keepdims=True) == 0, x.shape)
        assert np.all(t.grad[constant] == 0)


def _outputs(m: SourceMutant | None, specs: list[Any]) -> list[tuple[list[Any], list[Any]]]:
    """The forward and gradients, and the second-order gradients, of each spec at two
    samples (each then mirrored through its kinks), with ``m`` applied or not."""
    import warnings
    from contextlib import nullcontext

    import numpy as np

    from sg_verify.oracles import draw_cotangent, sg_vjp
    from sg_verify.second_order import SecondOrderProblem, sg_second_order

    found = []
    for spec in specs:
        for k in range(4):
            arrays = spec.sample(np.random.default_rng(k // 2))
            arrays = spec.other_side(arrays) if k % 2 else arrays
            cotangent = draw_cotangent(spec.engine, spec.sg, arrays, np.random.default_rng(k))
            with (
                m.applied() if m is not None else nullcontext(),
                np.errstate(all="ignore"),
                warnings.catch_warnings(),
            ):
                warnings.simplefilter("ignore")
                out, grads = sg_vjp(spec.engine, spec.sg, arrays, cotangent)
                seconds = sg_second_order(SecondOrderProblem(spec.engine, spec.sg, arrays, k))
            found.append(([out, *grads], seconds))
    return found


def test_equivalent_mutants_compute_the_same() -> None:
    """Each mutant classified equivalent gives bit for bit the forward and gradients of
    the real code, on a dozen of its specs and probes spread over them (every spec of
    both engines for the driver's), and the same second derivatives: bit for bit too,
    but for the dot product's fast path, whose general twin sums the same products in
    another order on nodes (a rounding, which its reason states)."""
    import numpy as np

    from sg_verify.oracles import scale_aware

    rounding = set()
    for mutant_id, (category, reason) in CLASSIFIED.items():
        if category != EQUIVALENT:
            continue
        m = mutant(mutant_id)
        specs = m.specs()
        specs = specs[:: max(1, len(specs) // 12)]
        for real, mutated in zip(_outputs(None, specs), _outputs(m, specs), strict=True):
            for a, b in zip(real[0], mutated[0], strict=True):
                assert np.array_equal(a, b, equal_nan=True), mutant_id
            for a, b in zip(real[1], mutated[1], strict=True):
                if not np.array_equal(a, b, equal_nan=True):
                    assert float(np.max(scale_aware(b, a))) <= 1e-15, mutant_id
                    assert "rounding" in reason, mutant_id
                    rounding.add(mutant_id)
    assert rounding == {
        "sg_tensor.linalg:matmul:10:17:Const:1->0",
        "sg_tensor.linalg:matmul:10:33:Const:1->0",
    }


# ---------------------------------------------------------------------------------------
# The report: stale classifications, exit status
# ---------------------------------------------------------------------------------------
def test_stale_and_unknown_classifications_fail_the_report() -> None:
    killed = "sg_tensor.elementwise:sin:3:12:Mult->Div"
    report = run_source_mutants(ids=[killed], oracles=("fd",), parity=0)
    assert report.ok
    assert report.misclassified() == []
    assert report.unknown() == []
    report.classified = {**report.classified, killed: (EQUIVALENT, "wrongly")}
    assert [r.mutant.name for r in report.misclassified()] == [killed]
    assert not report.ok
    report.classified = {**CLASSIFIED, "sg_tensor.elementwise:sin:99:0:Gone": (LIMIT, "moved")}
    assert report.unknown() == ["sg_tensor.elementwise:sin:99:0:Gone"]
    assert not report.ok
    data = report.to_dict()
    assert data["unknown"] == ["sg_tensor.elementwise:sin:99:0:Gone"]
    assert data["ok"] is False
    assert data["mutants"] == 1
    assert data["killed"] == 1
    assert data["non_equivalent"] == 1
    assert data["killed_by"]["fd"] == 1
    assert data["runner_oracles"] == ["fd"]


def test_survivors_are_reported_with_their_classification() -> None:
    equivalent = "sg_tensor.linalg:matmul:22:35:Const:2->1"
    limit = "sg_tensor.reductions:logsumexp:9:52:Const:0.0->1.0"
    report = run_source_mutants(ids=[equivalent, limit], oracles=("fd",), parity=0)
    assert not any(r.caught for r in report.results), report.format()
    assert [r.mutant.name for r in report.equivalents()] == [equivalent]
    assert [r.mutant.name for r in report.limits()] == [limit]
    assert report.ok
    assert report.kill_rate() == 0.0  # one non-equivalent mutant, not killed
    assert len(report.non_equivalent()) == 1
    rows = report.by_group()["rules"]
    assert (rows["mutants"], rows["killed"], rows["equivalent"], rows["limit"]) == (2, 0, 1, 1)
    text = report.format()
    assert "equivalent (1)" in text
    assert "limit (1)" in text
    assert limit in text
    survivors = {s["id"]: s["category"] for s in report.to_dict()["survivors"]}
    assert survivors == {equivalent: EQUIVALENT, limit: LIMIT}
