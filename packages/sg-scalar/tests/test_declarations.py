"""The scalar engine's declarations agree with ``Value``: every declared form exists and
runs the declared rule, and every public operator of ``Value`` is declared."""

from __future__ import annotations

import random
from typing import Any

import pytest

import sg_scalar
from sg_scalar import DECLARATIONS, OPS, Value
from sg_scalar.declare import Case, Domain, Form, Kink, Tie
from sg_scalar.examples import examples
from sg_scalar.graph import topological_order
from sg_scalar.rules import shapes

NOT_OPERATORS = {"backward", "detach", "zero_grad", "item", "is_leaf", "op", "data", "grad",
                 "requires_grad", "__init__", "__repr__", "__float__", "__bool__"}  # fmt: skip


class FloatRng:
    """The few numpy Generator methods a Domain draws with, on 0-d shapes, from random."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)

    def standard_normal(self, shape: tuple[int, ...]) -> float:
        return self.random.gauss(0.0, 1.0)

    def uniform(self, low: float, high: float, shape: tuple[int, ...]) -> float:
        return self.random.uniform(low, high)

    def integers(self, low: int, high: int, shape: tuple[int, ...]) -> int:
        return self.random.randrange(low, high)


def _rules_run(root: Value) -> set[str]:
    return {node._op.name for node in topological_order(root) if node._op is not None}


EXAMPLES = [e for d in DECLARATIONS.values() for e in examples(d, shapes)]


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_every_declared_form_runs_the_declared_rule(example: Any) -> None:
    decl = example.declaration
    draw = FloatRng(0)
    inputs = [Value(float(decl.domain(i, example.case).draw(draw, ()))) for i in
              range(decl.arity - (example.form.kind == "reflected"))]  # fmt: skip
    out = example.call(*inputs)
    assert isinstance(out, Value)
    expected = {decl.name} if decl.op is not None else set(decl.uses)
    assert expected <= _rules_run(out), (example.name, _rules_run(out))


def test_every_public_operator_of_value_is_declared() -> None:
    declared = {form.api for d in DECLARATIONS.values() for form in d.forms}
    public = {
        name
        for name in vars(Value)
        if not name.startswith("_") or (name.startswith("__") and name.endswith("__"))
    }
    plumbing = {"__slots__", "__module__", "__annotations__", "__doc__", "__weakref__",
                "__static_attributes__", "__firstlineno__", "__dict__"}  # fmt: skip
    missing = public - declared - NOT_OPERATORS - plumbing
    assert not missing, f"Value members no declaration covers: {sorted(missing)}"
    assert {"maximum", "minimum"} <= {f.name for d in DECLARATIONS.values() for f in d.forms}
    assert hasattr(sg_scalar, "maximum")
    assert hasattr(sg_scalar, "minimum")


def test_every_rule_is_declared_with_its_facts() -> None:
    assert set(OPS) <= set(DECLARATIONS)
    for name, op in OPS.items():
        decl = DECLARATIONS[name]
        assert decl.op is op, name
        assert decl.forms, name
        assert decl.torch is not None, name
        assert decl.doc, f"{name}: its rule needs a one-line derivative"


def test_a_declaration_draws_inside_its_domain_and_away_from_its_kinks() -> None:
    kinked = DECLARATIONS["relu"]
    assert kinked.kinks({}) == [(0, 0.0, "left")]
    example = examples(kinked, shapes)[0]
    for seed in range(200):
        (x,) = example.draw(FloatRng(seed))
        assert abs(x) >= 0.05
    (x,) = examples(DECLARATIONS["log"], shapes)[0].draw(FloatRng(1))
    assert x > 0


def test_the_vocabulary_refuses_a_kink_without_a_known_side() -> None:
    with pytest.raises(ValueError, match="side"):
        Kink(0.0, "middle")
    assert Tie().within is False
    assert Case().params == {}
    assert repr(Domain("positive", 0.5, 2.0)) == "positive"
    assert Form("operator", "+").api == "__add__"
    assert Form("reflected", "-", 1.5).api == "__rsub__"
