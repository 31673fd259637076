"""Error messages name the operator and the offending type."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

import sg_scalar
from sg_scalar import Value, no_grad


def bad(id: str, fn: Callable[[], Any], opname: str, typename: str) -> object:
    return pytest.param(fn, opname, typename, id=id)


BAD_OPERANDS = [
    bad("Value + str", lambda: Value(1.0) + "a", "+", "str"),
    bad("str + Value", lambda: "a" + Value(1.0), "+", "str"),
    bad("Value - str", lambda: Value(1.0) - "a", "-", "str"),
    bad("str - Value", lambda: "a" - Value(1.0), "-", "str"),
    bad("Value * str", lambda: Value(1.0) * "a", "*", "str"),
    bad("str * Value", lambda: "a" * Value(1.0), "*", "str"),
    bad("Value * list", lambda: Value(1.0) * [1.0], "*", "list"),
    bad("Value / str", lambda: Value(1.0) / "a", "/", "str"),
    bad("str / Value", lambda: "a" / Value(1.0), "/", "str"),
    bad("Value / None", lambda: Value(1.0) / None, "/", "NoneType"),
    bad("Value ** str", lambda: Value(1.0) ** "x", "**", "str"),
    bad("str ** Value", lambda: "x" ** Value(1.0), "**", "str"),
    bad("Value ** None", lambda: Value(1.0) ** None, "**", "NoneType"),
    bad("Value + complex", lambda: Value(1.0) + 1j, "+", "complex"),
    bad("Value.maximum(None)", lambda: Value(1.0).maximum(None), "maximum", "NoneType"),
    bad("Value.minimum(str)", lambda: Value(1.0).minimum("a"), "minimum", "str"),
    bad("maximum(str, Value)", lambda: sg_scalar.maximum("a", Value(1.0)), "maximum", "str"),
    bad("minimum(x, None)", lambda: sg_scalar.minimum(Value(1.0), None), "minimum", "NoneType"),
    bad("Value(str)", lambda: Value("x"), "Value", "str"),
    bad("Value(None)", lambda: Value(None), "Value", "NoneType"),
    bad("Value(list)", lambda: Value([1.0]), "Value", "list"),
]


@pytest.mark.parametrize(("fn", "opname", "typename"), BAD_OPERANDS)
def test_bad_operand_raises_type_error_naming_operator_and_type(
    fn: Callable[[], Any], opname: str, typename: str
) -> None:
    with pytest.raises(TypeError) as excinfo:
        fn()
    message = str(excinfo.value)
    # The operator as a whole token: "*" must not be satisfied by the "**" of another op.
    assert re.search(rf"(?<![*\w]){re.escape(opname)}(?![*\w])", message), message
    assert re.search(rf"\b{typename}\b", message), message


def test_operator_token_check_is_strict() -> None:
    # The check above would reject a message that names the wrong operator.
    message = "unsupported operand for **: str"
    assert not re.search(r"(?<![*\w])\*(?![*\w])", message)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Value(1.0, requires_grad=False),
        lambda: Value(1.0, requires_grad=False) * 2.0,
        lambda: 3.0 + Value(1.0, requires_grad=False).exp(),
    ],
    ids=["frozen leaf", "frozen product", "frozen expression"],
)
def test_backward_without_requires_grad_raises(make: Callable[[], Value]) -> None:
    with pytest.raises(RuntimeError, match="does not require grad"):
        make().backward()


def test_backward_on_a_value_made_under_no_grad_raises() -> None:
    x = Value(1.0)
    with no_grad():
        out = x * 2.0
    with pytest.raises(RuntimeError, match="does not require grad"):
        out.backward()


@pytest.mark.parametrize(("grad", "typename"), [("x", "str"), (None, "NoneType"), ([1.0], "list")])
def test_backward_with_a_non_number_grad_raises_type_error(grad: Any, typename: str) -> None:
    x = Value(2.0)
    out = x * x
    with pytest.raises(TypeError, match=rf"\b{typename}\b"):
        out.backward(grad=grad)
    assert x.grad == 0.0
    out.backward()  # the graph was not consumed by the failed call
    assert x.grad == 4.0
