"""Central-difference checks of every operator, made from the operator declarations.

Every declared operator and composite (``sg_tensor.DECLARATIONS``) lists the calls worth
checking: each public form (method, function, operator symbol, a number or an array on
the left, numpy's function) in each declared case, at each shape of its signature, with
inputs drawn in its domain away from its kinks. Each one is checked here against
central differences in float64 (``tensor_helpers.gradcheck``), and must run the rule it
is filed under. A few composite graphs (reuse, diamonds) and the checker's own power
follow.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from tensor_helpers import gradcheck, normal

import sg_tensor as st
from sg_scalar.examples import Example, examples
from sg_scalar.graph import Op
from sg_tensor import DECLARATIONS, OPS, ShapeMismatchError, Tensor
from sg_tensor.op import default_shapes

EXAMPLES = [e for d in DECLARATIONS.values() for e in examples(d, default_shapes)]


def test_every_operator_and_form_has_a_case() -> None:
    checked = {(e.declaration.name, e.form.api) for e in EXAMPLES}
    for decl in DECLARATIONS.values():
        for form in decl.forms:
            assert (decl.name, form.api) in checked, (decl.name, form.api)
    assert set(OPS) <= {e.declaration.name for e in EXAMPLES}
    names = [e.name for e in EXAMPLES]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_gradient_matches_central_differences(example: Example) -> None:
    decl = example.declaration
    arrays = example.draw(np.random.default_rng(20240611))
    rough = decl.rounding > 0  # a forward that rounds: a wide step sees the linear map
    used = gradcheck(
        example.call, *arrays, h=1e-2 if rough else 1e-6, rtol=1e-5 if rough else 1e-6
    )
    rules = {decl.name} if decl.op is not None else set(decl.uses)
    if not rules:  # declared the identity at float64 (double()): it returns its input
        x = st.Tensor(arrays[0])
        assert example.call(x) is x
        return
    assert rules & used, f"{example.name} runs {sorted(used)}, not {sorted(rules)}"


# ---------------------------------------------------------------------------------------
# Composite graphs: reuse, diamonds and several operators at once
# ---------------------------------------------------------------------------------------
R = np.random.default_rng(20240612)
COMPOSITES = {
    "mlp-cross-entropy": (
        lambda x, w1, b1, w2: (
            -(((x @ w1 + b1).tanh() @ w2).log_softmax(axis=1)[[0, 1, 2], [1, 0, 1]].mean())
        ),
        (normal(R, 3, 3), normal(R, 3, 4), normal(R, 4), normal(R, 4, 2)),
    ),
    "diamond": (lambda x: (x.exp() + x * x) * x.sin() / (x * x + 1.0), (normal(R, 2, 3),)),
    "layernorm": (
        lambda x: (
            (x - x.mean(axis=-1, keepdims=True)) / (x.var(axis=-1, keepdims=True) + 1e-5).sqrt()
        ),
        (normal(R, 2, 4),),
    ),
    "split-recombined": (lambda a: st.concatenate(st.split(a, 2)[::-1]), (normal(R, 4, 3),)),
    "constant-operands": (
        lambda x: st.linear(x, np.ones((3, 2)), np.ones(3)) @ np.arange(6.0).reshape(3, 2),
        (normal(R, 4, 2),),
    ),
}


@pytest.mark.parametrize("name", COMPOSITES)
def test_composite_graphs(name: str) -> None:
    fn, inputs = COMPOSITES[name]
    gradcheck(fn, *inputs)


# ---------------------------------------------------------------------------------------
# The checker itself must catch wrong rules; the driver refuses invalid gradients
# ---------------------------------------------------------------------------------------
def test_gradcheck_catches_a_wrong_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    def wrong_sin_rule(g: Any, out: Any, x: Any, **ctx: Any) -> tuple[Any, ...]:
        return (g * -np.cos(x),)  # sign error

    monkeypatch.setattr(OPS["sin"], "vjp", wrong_sin_rule)
    with pytest.raises(AssertionError, match="differs from central differences"):
        gradcheck(lambda a: a.sin(), normal(R, 2, 3))


def test_gradcheck_catches_a_wrong_second_input_gradient(monkeypatch: pytest.MonkeyPatch) -> None:
    def halved_mul_rule(g: Any, out: Any, a: Any, b: Any, **ctx: Any) -> tuple[Any, ...]:
        return g * b, g * a * 0.5  # the second input's gradient is wrong

    monkeypatch.setattr(OPS["mul"], "vjp", halved_mul_rule)
    with pytest.raises(AssertionError):
        gradcheck(lambda a, b: a * b, normal(R, 2, 3), normal(R, 2, 3))


def test_the_driver_sums_broadcast_axes_for_every_rule() -> None:
    """A rule may return its gradients in the output's shape: the driver reduces them."""
    plain = Op("plain_add", np.add, lambda g, out, a, b: (g, g))
    a, b = Tensor(normal(R, 2, 3), requires_grad=True), Tensor(normal(R, 3), requires_grad=True)
    a._apply2(plain, b).sum().backward()
    np.testing.assert_array_equal(b.grad, np.full(3, 2.0))
    assert a.grad.shape == (2, 3)


@pytest.mark.parametrize(
    ("grads", "error", "message"),
    [
        ((np.ones(5),), ShapeMismatchError, r"bad: .* shape \(5,\) for input 0 of shape \(2,\)"),
        ((np.ones(2, dtype=np.int64),), TypeError, r"bad: .* dtype int64 for input 0"),
        ((np.ones(2), np.ones(2)), TypeError, r"bad: .* returned 2 gradients for 1 input"),
    ],
)
def test_the_driver_refuses_an_invalid_gradient(grads: Any, error: Any, message: str) -> None:
    bad = Op("bad", np.sin, lambda g, out, x: grads)
    x = Tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(error, match=message):
        x._apply1(bad).sum().backward()
    assert x.grad is None
