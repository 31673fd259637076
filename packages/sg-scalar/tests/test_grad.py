"""``sg_scalar.grad``: gradients returned as Values, and derivatives of derivatives.

The first part checks the API (outputs, inputs, seeds, errors, graph release, grad
mode); the second checks the second derivative of every operator of ``OPS`` through
``grad(create_graph=True)`` against central differences of the first derivative.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scalar_helpers import central_difference, close

import sg_scalar
from sg_scalar import (
    OPS,
    GraphReleasedError,
    NotTwiceDifferentiableError,
    Op,
    Value,
    grad,
    is_grad_enabled,
    no_grad,
)
from sg_scalar.graph import RELEASED, topological_order


def exact(actual: float, expected: float) -> bool:
    return close(actual, expected, atol=0.0, rtol=1e-14)


def all_nodes(*roots: Value) -> list[Value]:
    return topological_order(*roots)


# =======================================================================================
# First order: what grad() returns
# =======================================================================================
def test_single_output_single_input_returns_a_tuple_of_one_value() -> None:
    x = Value(3.0)
    result = grad(x * x + 2 * x, x)
    assert isinstance(result, tuple)
    assert len(result) == 1
    (g,) = result
    assert isinstance(g, Value)
    assert g.data == 8.0
    assert not g.requires_grad  # first order: a plain result, not a graph node
    assert g.is_leaf


def test_several_inputs_get_their_partial_derivatives_in_order() -> None:
    x, y, z = Value(0.5), Value(-1.5), Value(2.0)
    out = x * y + y.sin() * z + z.exp()
    gx, gy, gz = grad(out, [x, y, z])
    assert exact(gx.data, -1.5)
    assert exact(gy.data, 0.5 + math.cos(-1.5) * 2.0)
    assert exact(gz.data, math.sin(-1.5) + math.exp(2.0))
    # the order of the inputs is the order of the results
    gz2, gx2 = grad(x * y + y.sin() * z + z.exp(), (z, x))
    assert (gz2.data, gx2.data) == (gz.data, gx.data)


def test_several_outputs_sum_their_gradients() -> None:
    x, y = Value(1.2), Value(0.7)
    a, b = x * y, x.exp()
    (gx,) = grad([a, b], x, retain_graph=True)
    assert exact(gx.data, 0.7 + math.exp(1.2))
    gx, gy = grad([a, b], [x, y])
    assert exact(gx.data, 0.7 + math.exp(1.2))
    assert exact(gy.data, 1.2)


@pytest.mark.parametrize(
    "seeds",
    [
        pytest.param([2.0, -3.0], id="floats"),
        pytest.param([2, -3], id="ints"),
        pytest.param([Value(2.0), Value(-3.0, requires_grad=False)], id="values"),
        pytest.param((Value(2.0), -3), id="mixed-tuple"),
        pytest.param([None, -3.0], id="none-means-one"),
    ],
)
def test_grad_outputs_weight_each_output(seeds: Sequence[Any]) -> None:
    x = Value(0.4)
    a, b = x * x, x.sin()
    (gx,) = grad([a, b], x, grad_outputs=seeds)
    weight_a = 1.0 if seeds[0] is None else float(seeds[0])
    assert exact(gx.data, weight_a * 0.8 - 3.0 * math.cos(0.4))


@pytest.mark.parametrize("seed", [2.5, 2, Value(2.5), Value(2.5, requires_grad=False), [2.5]])
def test_a_single_grad_output_may_be_given_bare(seed: Any) -> None:
    x = Value(3.0)
    (g,) = grad(x * x, x, seed)
    expected = 2.0 * 3.0 * (float(seed[0]) if isinstance(seed, list) else float(seed))
    assert g.data == expected


def test_a_value_seed_without_create_graph_gives_a_plain_result() -> None:
    x, v = Value(3.0), Value(2.0)
    (g,) = grad(x * x, x, v)
    assert g.data == 12.0
    assert not g.requires_grad


def test_grad_matches_backward_exactly() -> None:
    def f(x: Value, y: Value) -> Value:
        h = x * y
        return (h.sin() + h * h).exp() / (1.0 + y * y) - x.tanh() * h.sigmoid() + x**y

    x, y = Value(0.3), Value(1.7)
    gx, gy = grad(f(x, y), [x, y])
    xb, yb = Value(0.3), Value(1.7)
    f(xb, yb).backward()
    assert gx.data == xb.grad
    assert gy.data == yb.grad


def test_grad_leaves_every_grad_untouched() -> None:
    x, y = Value(1.5), Value(-0.5)
    x.grad, y.grad = 7.0, -2.0
    h = x * y
    out = h.exp() + h * x
    nodes = all_nodes(out)
    before = {id(n): n.grad for n in nodes}
    grad(out, [x, y], retain_graph=True)
    grad(out, h, retain_graph=True)
    (gx,) = grad(out, x, create_graph=True)
    grad(gx, [x, y])
    assert {id(n): n.grad for n in nodes} == before
    assert (x.grad, y.grad) == (7.0, -2.0)


def test_the_results_do_not_alias_between_calls() -> None:
    x = Value(2.0)
    y = x * x
    (g1,) = grad(y, x, retain_graph=True)
    (g2,) = grad(y, x, retain_graph=True)
    assert g1 is not g2
    g1.data = 100.0
    assert g2.data == 4.0


# =======================================================================================
# Graph shapes: diamonds, reuse, non-leaf inputs, unused inputs
# =======================================================================================
def test_diamond_and_reuse() -> None:
    x = Value(0.6)
    a = x.sin()  # used three times
    out = a * a + a.exp() * a + x * x * x
    (g,) = grad(out, x)
    s, c = math.sin(0.6), math.cos(0.6)
    assert close(g.data, (2 * s + math.exp(s) * (s + 1.0)) * c + 3 * 0.36, atol=0, rtol=1e-14)


def test_input_twice_and_output_as_input() -> None:
    x = Value(2.0)
    y = x * x
    gx1, gx2 = grad(y, [x, x], retain_graph=True)
    assert gx1.data == gx2.data == 4.0
    (one,) = grad(y, y)  # d y / d y
    assert one.data == 1.0
    (one,) = grad(x, x)
    assert one.data == 1.0


def test_gradient_with_respect_to_an_intermediate_node() -> None:
    x = Value(0.8)
    h = x.exp()
    out = h.sin() * h
    eh = math.exp(0.8)
    gh, gx = grad(out, [h, x])
    assert exact(gh.data, math.cos(eh) * eh + math.sin(eh))
    assert exact(gx.data, gh.data * eh)  # x's gradient is the total one, through h


def test_gradient_with_respect_to_an_intermediate_leaves_its_upstream_graph_alone() -> None:
    # As in PyTorch, only the rules between the outputs and the inputs run: the graph
    # behind a non-leaf input is neither traversed nor freed.
    x = Value(0.8)
    h = x.exp()
    (gh,) = grad(h * 3.0, h)
    assert gh.data == 3.0
    assert h._op is OPS["exp"]
    (h * 5.0).backward()
    assert exact(x.grad, 5.0 * math.exp(0.8))


def test_gradient_with_respect_to_an_intermediate_whose_upstream_was_freed() -> None:
    x = Value(0.8)
    h = x.exp()
    h.backward()  # frees h's graph
    out = (h * 2.0).sin()
    (gh,) = grad(out, h)
    assert exact(gh.data, 2.0 * math.cos(2.0 * math.exp(0.8)))
    with pytest.raises(GraphReleasedError):  # but going past h needs the freed graph
        grad(out, x)


def test_create_graph_with_respect_to_an_intermediate_skips_the_upstream_rules() -> None:
    # The rule of an input's own operator is not needed, so an operator that is not
    # twice differentiable behind the input does not matter.
    x = Value(0.5)
    h = _apply(_BLACK_BOX, x)
    (gh,) = grad(h * h, h, create_graph=True)
    assert gh.requires_grad
    (gx,) = grad(gh, x)  # first order through the black box
    assert exact(gx.data, 2.0 * math.cos(0.5))


def test_unused_input_is_an_error_naming_it() -> None:
    x, y, z = Value(1.0), Value(2.0), Value(3.0)
    with pytest.raises(RuntimeError, match=r"inputs\[2\] is not used.*allow_unused=True"):
        grad(x * y, [x, y, z])


def test_allow_unused_gives_none() -> None:
    x, y, z = Value(1.0), Value(2.0), Value(3.0)
    gx, gz, gy = grad(x * y, [x, z, y], allow_unused=True)
    assert gz is None
    assert (gx.data, gy.data) == (2.0, 1.0)


def test_an_input_downstream_of_the_output_is_unused() -> None:
    x = Value(1.0)
    h = x * 2.0
    out = h * 3.0
    with pytest.raises(RuntimeError, match="not used"):
        grad(h, out)
    assert grad(h, out, allow_unused=True) == (None,)


def test_constant_branches_get_no_gradient() -> None:
    x = Value(2.0)
    c = Value(5.0, requires_grad=False)
    (g,) = grad(x * c + c * c, x)
    assert g.data == 5.0
    assert c.grad == 0.0


def test_empty_outputs_or_inputs_are_a_value_error() -> None:
    x = Value(1.0)
    with pytest.raises(ValueError, match=r"grad\(\): inputs is empty"):
        grad(x * x, [])
    with pytest.raises(ValueError, match=r"grad\(\): outputs is empty"):
        grad([], x)


def test_a_number_where_values_belong_is_a_type_error() -> None:
    x = Value(1.0)
    with pytest.raises(TypeError, match="outputs must be a Value or a sequence of Values"):
        grad(1.0, x)
    with pytest.raises(TypeError, match="inputs must be a Value or a sequence of Values"):
        grad(x * x, 2.0)
    with pytest.raises(TypeError, match=r"grad_outputs\[0\] must be a number or a Value"):
        grad(x * x, x, "ab")


# =======================================================================================
# Argument errors
# =======================================================================================
def test_output_that_does_not_require_grad_is_a_clear_error() -> None:
    x = Value(1.0, requires_grad=False)
    with pytest.raises(RuntimeError, match=r"outputs\[0\] does not require grad"):
        grad(x * x, x)
    y = Value(1.0)
    with no_grad():
        out = y * y
    with pytest.raises(RuntimeError, match=r"outputs\[1\] does not require grad.*no_grad"):
        grad([y * y, out], y)


def test_input_that_does_not_require_grad_is_a_clear_error() -> None:
    x, c = Value(1.0), Value(2.0, requires_grad=False)
    with pytest.raises(RuntimeError, match=r"inputs\[1\] does not require grad.*requires_grad"):
        grad(x * c, [x, c])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        pytest.param(lambda x, y: grad(y, [x, 2.0]), r"inputs\[1\] must be a Value, got float"),
        pytest.param(lambda x, y: grad([y, "a"], x), r"outputs\[1\] must be a Value, got str"),
        pytest.param(lambda x, y: grad(y, x, ["a"]), r"grad_outputs\[0\].*got str"),
        pytest.param(lambda x, y: grad([y, y], x, [1.0, [2.0]]), r"grad_outputs\[1\].*list"),
        pytest.param(lambda x, y: grad(y, x, [1 + 2j]), r"grad_outputs\[0\].*complex"),
        pytest.param(lambda x, y: grad(1.0, x), None, id="output-float"),
        pytest.param(lambda x, y: grad(y, 2.0), None, id="input-float"),
        pytest.param(lambda x, y: grad(y, x, 1 + 2j), None, id="seed-complex"),
    ],
)
def test_wrong_types_raise_type_error(call: Callable[[Value, Value], Any], match: str) -> None:
    x = Value(2.0)
    y = x * x
    with pytest.raises(TypeError, match=match):
        call(x, y)


@pytest.mark.parametrize(
    ("n_outputs", "seeds", "given"),
    [(1, [1.0, 2.0], 2), (2, [1.0], 1), (1, (), 0), (2, 1.0, 1)],
)
def test_grad_outputs_count_mismatch_is_a_value_error(
    n_outputs: int, seeds: Any, given: int
) -> None:
    x = Value(2.0)
    outs = [x * x for _ in range(n_outputs)]
    message = rf"got {given} grad_outputs for {n_outputs} outputs"
    with pytest.raises(ValueError, match=message):
        grad(outs, x, seeds)


# =======================================================================================
# retain_graph and the pending table
# =======================================================================================
def test_second_grad_after_release_raises_graph_released_error() -> None:
    x = Value(2.0)
    y = (x * x).exp()
    (g,) = grad(y, x)
    assert exact(g.data, 4.0 * math.exp(4.0))
    with pytest.raises(GraphReleasedError, match="retain_graph=True"):
        grad(y, x)
    with pytest.raises(GraphReleasedError):
        grad(y, x, allow_unused=True)  # not a silent None either
    with pytest.raises(GraphReleasedError):
        y.backward()


def test_grad_through_a_released_node_raises_instead_of_losing_its_path() -> None:
    # p's graph was freed by backward(); out reaches x both directly and through p.
    # Returning only the direct path (p) would be a silently wrong gradient.
    x = Value(0.5)
    p = x.exp()
    p.backward()
    out = p * x
    with pytest.raises(GraphReleasedError):
        grad(out, x)


def test_retain_graph_true_allows_repeated_calls() -> None:
    x, w = Value(2.0), Value(-1.0)
    y = (x * w).exp() + x.sin()
    first = [g.data for g in grad(y, [x, w], retain_graph=True)]
    second = [g.data for g in grad(y, [x, w], retain_graph=True)]
    assert first == second
    y.backward()  # the graph is still whole
    assert [x.grad, w.grad] == first


def test_retain_graph_false_frees_the_graph_on_the_path() -> None:
    x = Value(2.0)
    h = x.sin()
    y = h * h
    grad(y, x)
    assert y._op is RELEASED
    assert h._op is RELEASED
    assert y._parents == ()


def test_create_graph_retains_the_graph_by_default() -> None:
    x = Value(0.3)
    y = x.exp() * x
    (g,) = grad(y, x, create_graph=True)
    (g2,) = grad(y, x)  # the graph is still there
    assert g.data == g2.data
    y2 = x.exp() * x
    grad(y2, x, create_graph=True, retain_graph=False)
    with pytest.raises(GraphReleasedError):
        grad(y2, x)


def test_create_graph_without_retain_graph_frees_nodes_the_gradient_needs() -> None:
    # exp's rule uses its output node: freeing it breaks the second derivative.
    x = Value(0.3)
    (g,) = grad(x.exp(), x, create_graph=True, retain_graph=False)
    assert exact(g.data, math.exp(0.3))
    with pytest.raises(GraphReleasedError):
        grad(g, x)


def test_no_pending_gradient_is_left_behind() -> None:
    # grad() runs the rules on the path to x only, but mul also sends a gradient to w
    # (off the path): none of it may leak into a later pass.
    x, w = Value(1.5), Value(-2.0)
    h = x * w
    out = h.tanh() * w + h
    grad(out, x, retain_graph=True)
    grad(out, h, retain_graph=True)
    assert all(node._pending is None for node in all_nodes(out))
    out.backward()
    xr, wr = Value(1.5), Value(-2.0)
    hr = xr * wr
    (hr.tanh() * wr + hr).backward()
    assert (x.grad, w.grad) == (xr.grad, wr.grad)


def test_no_pending_gradient_is_left_after_an_error() -> None:
    x, w = Value(1.5), Value(-2.0)
    h = _apply(_BLACK_BOX, x * w) * w
    with pytest.raises(NotTwiceDifferentiableError):
        grad(h * h, [x, w], create_graph=True)
    assert all(node._pending is None for node in all_nodes(h))
    gx, gw = grad(h * h, [x, w])  # the graph was retained (create_graph): run it again
    xr, wr = Value(1.5), Value(-2.0)
    hr = _apply(_BLACK_BOX, xr * wr) * wr
    (hr * hr).backward()
    assert (gx.data, gw.data) == (xr.grad, wr.grad)


# =======================================================================================
# create_graph: differentiable results
# =======================================================================================
def derivatives(f: Callable[[Value], Value], x0: float, n: int) -> list[float]:
    """f(x0), f'(x0), ..., f^(n)(x0) by repeated grad(create_graph=True)."""
    x = Value(x0)
    current = f(x)
    values = [current.data]
    for _ in range(n):
        (current,) = grad(current, x, create_graph=True)
        values.append(current.data)
    return values


THIRD = [
    # f, x0, [f, f', f'', f''']
    pytest.param(lambda x: x**3, 1.5, lambda x: [x**3, 3 * x**2, 6 * x, 6.0], id="cube"),
    pytest.param(
        lambda x: x.sin(),
        0.7,
        lambda x: [math.sin(x), math.cos(x), -math.sin(x), -math.cos(x)],
        id="sin",
    ),
    pytest.param(
        lambda x: x * x.exp(),
        0.3,
        lambda x: [x * math.exp(x), *[(k + x) * math.exp(x) for k in (1, 2, 3)]],
        id="x-exp-x",
    ),
    pytest.param(
        lambda x: x.log(), 1.7, lambda x: [math.log(x), 1 / x, -1 / x**2, 2 / x**3], id="log"
    ),
    pytest.param(
        lambda x: 1.0 / x, -0.6, lambda x: [1 / x, -1 / x**2, 2 / x**3, -6 / x**4], id="reciprocal"
    ),
    pytest.param(
        lambda x: x.tanh(),
        0.4,
        lambda x: [
            math.tanh(x),
            1 - math.tanh(x) ** 2,
            -2 * math.tanh(x) * (1 - math.tanh(x) ** 2),
            (1 - math.tanh(x) ** 2) * (6 * math.tanh(x) ** 2 - 2),
        ],
        id="tanh",
    ),
    pytest.param(
        lambda x: x.sqrt(),
        2.0,
        lambda x: [x**0.5, 0.5 * x**-0.5, -0.25 * x**-1.5, 0.375 * x**-2.5],
        id="sqrt",
    ),
    pytest.param(
        lambda x: x.sigmoid(),
        -0.9,
        lambda x: [
            (s := 1 / (1 + math.exp(-x))),
            s * (1 - s),
            s * (1 - s) * (1 - 2 * s),
            s * (1 - s) * (1 - 6 * s + 6 * s * s),
        ],
        id="sigmoid",
    ),
    pytest.param(
        lambda x: 2.0**x,
        0.8,
        lambda x: [2**x * math.log(2) ** k for k in range(4)],
        id="exponential-base-2",
    ),
]


@pytest.mark.parametrize(("f", "x0", "expected"), THIRD)
def test_first_second_and_third_derivatives(
    f: Callable[[Value], Value], x0: float, expected: Callable[[float], list[float]]
) -> None:
    got = derivatives(f, x0, 3)
    want = expected(x0)
    for order, (a, b) in enumerate(zip(got, want, strict=True)):
        assert close(a, b, atol=1e-13, rtol=1e-12), (order, a, b)


def test_create_graph_results_are_differentiable_nodes() -> None:
    x = Value(1.5)
    (g,) = grad(x.sin() * x, x, create_graph=True)
    assert isinstance(g, Value)
    assert g.requires_grad
    assert not g.is_leaf
    (g_plain,) = grad(x.sin() * x, x)
    assert g.data == g_plain.data  # the same rules on nodes give the same numbers


def test_mixed_partials_are_symmetric() -> None:
    x, y = Value(0.9), Value(-0.4)
    out = (x * y).sin() + x * x * y.exp()
    gx, gy = grad(out, [x, y], create_graph=True)
    gxx, gxy = grad(gx, [x, y], retain_graph=True)
    gyx, gyy = grad(gy, [x, y])
    c, s = math.cos(-0.36), math.sin(-0.36)
    assert close(gxx.data, -(0.16) * s + 2 * math.exp(-0.4), atol=0, rtol=1e-13)
    assert close(gyy.data, -(0.81) * s + 0.81 * math.exp(-0.4), atol=0, rtol=1e-13)
    assert close(gxy.data, c + 0.36 * s + 1.8 * math.exp(-0.4), atol=0, rtol=1e-13)
    assert close(gyx.data, gxy.data, atol=0, rtol=1e-14)


def test_second_derivative_of_a_linear_function_is_not_a_graph() -> None:
    # The gradient of a linear function is a constant: it needs no graph, so asking
    # for its derivative is the clear "does not require grad" error (allow zeros upstream).
    x = Value(2.0)
    (g,) = grad(3.0 * x + 1.0, x, create_graph=True)
    assert g.data == 3.0
    assert not g.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        grad(g, x)


def test_a_seed_that_requires_grad_makes_the_result_differentiable_in_it() -> None:
    x, v = Value(1.5), Value(2.0)
    (g,) = grad(x**3, x, v, create_graph=True)  # v * 3 x^2
    assert g.requires_grad
    assert close(g.data, 2.0 * 3 * 2.25, atol=0, rtol=1e-15)
    gv, gx = grad(g, [v, x])
    assert close(gv.data, 3 * 2.25, atol=0, rtol=1e-15)  # 3 x^2
    assert close(gx.data, 6 * 1.5 * 2.0, atol=0, rtol=1e-15)  # 6 x v


def test_seeds_of_several_outputs_are_differentiable_in_each() -> None:
    x, u, v = Value(0.5), Value(2.0), Value(-1.0)
    (g,) = grad([x.sin(), x * x], x, [u, v], create_graph=True)  # u cos x + 2 x v
    gu, gv = grad(g, [u, v])
    assert exact(gu.data, math.cos(0.5))
    assert gv.data == 1.0


def test_a_constant_value_seed_is_not_differentiated() -> None:
    x, v = Value(1.5), Value(2.0, requires_grad=False)
    (g,) = grad(x**3, x, v, create_graph=True)
    with pytest.raises(RuntimeError, match="does not require grad"):
        grad(g, v)
    (gx,) = grad(g, x)
    assert close(gx.data, 6 * 1.5 * 2.0, atol=0, rtol=1e-15)


def test_hessian_vector_product_by_double_grad() -> None:
    x, y = Value(0.3), Value(1.1)
    out = x * x * y + y.sin() * x
    gx, gy = grad(out, [x, y], create_graph=True)
    vx, vy = 0.7, -1.3
    hx, hy = grad(gx * vx + gy * vy, [x, y])
    hxx, hxy, hyy = 2 * 1.1, 2 * 0.3 + math.cos(1.1), -math.sin(1.1) * 0.3
    assert exact(hx.data, hxx * vx + hxy * vy)
    assert exact(hy.data, hxy * vx + hyy * vy)


# =======================================================================================
# Grad mode
# =======================================================================================
def test_first_order_grad_inside_no_grad() -> None:
    x = Value(1.5)
    y = x * x.sin()
    with no_grad():
        (g,) = grad(y, x)
        assert not is_grad_enabled()
    assert exact(g.data, math.sin(1.5) + 1.5 * math.cos(1.5))
    assert not g.requires_grad


def test_create_graph_inside_no_grad_still_records_the_gradient_graph() -> None:
    # As in PyTorch, create_graph decides whether the backward pass records a graph,
    # whatever the surrounding grad mode; the mode is restored afterwards.
    x = Value(1.5)
    y = x**3
    with no_grad():
        (g,) = grad(y, x, create_graph=True)
        assert not is_grad_enabled()
    assert g.requires_grad
    (g2,) = grad(g, x)
    assert g2.data == 9.0


def test_grad_mode_is_restored_after_an_error() -> None:
    x = Value(0.5)
    y = _apply(_BLACK_BOX, x) * x
    with pytest.raises(NotTwiceDifferentiableError):
        grad(y, x, create_graph=True)
    assert is_grad_enabled()
    with no_grad(), pytest.raises(NotTwiceDifferentiableError):
        grad(y, x, create_graph=True)
    assert is_grad_enabled()


# =======================================================================================
# NotTwiceDifferentiableError
# =======================================================================================
def _apply(op: Op, *parents: Value, ctx: dict[str, Any] | None = None) -> Value:
    """A node of ``op`` built by hand, as Value's operators build theirs."""
    out = Value(op.forward(*[p.data for p in parents], **(ctx or {})), requires_grad=False)
    if any(p.requires_grad for p in parents) and is_grad_enabled():
        out.requires_grad = True
        out._op = op
        out._parents = parents
        out._ctx = ctx
    return out


def _data(x: Any) -> float:
    return x.data if isinstance(x, Value) else x


# sin, with a rule that only works on floats: declared as such.
_BLACK_BOX = Op(
    "black_box_sin",
    math.sin,
    lambda g, out, x: (_data(g) * math.cos(_data(x)),),
    twice_differentiable=False,
)
# sin, with a rule that fails on nodes (Value has no divmod) but is not declared.
_DIVMOD_SIN = Op(
    "divmod_sin",
    math.sin,
    lambda g, out, x: (g * math.cos(divmod(x, 2 * math.pi)[1]),),
)
# sin, with a rule that silently steps outside the graph (raw floats) but is not declared.
_RAW_SIN = Op("raw_sin", math.sin, lambda g, out, x: (_data(g) * math.cos(_data(x)),))


@pytest.mark.parametrize("op", [_BLACK_BOX, _DIVMOD_SIN, _RAW_SIN], ids=lambda op: op.name)
def test_first_order_through_such_operators_works(op: Op) -> None:
    x = Value(0.5)
    (g,) = grad(_apply(op, x) * x, x)
    assert exact(g.data, math.sin(0.5) + 0.5 * math.cos(0.5))


def test_create_graph_through_an_op_declared_not_twice_differentiable_raises() -> None:
    x = Value(0.5)
    y = _apply(_BLACK_BOX, x)
    with pytest.raises(NotTwiceDifferentiableError, match=r"black_box_sin.*create_graph=True"):
        grad(y, x, create_graph=True)
    with pytest.raises(NotTwiceDifferentiableError, match="black_box_sin"):
        _apply(_BLACK_BOX, x).backward(create_graph=True)
    assert issubclass(NotTwiceDifferentiableError, RuntimeError)


def test_an_op_off_the_path_does_not_matter() -> None:
    x, c = Value(0.5), Value(0.2)
    out = _apply(_BLACK_BOX, c) * x.sin()
    (gx,) = grad(out, x, create_graph=True)
    (gxx,) = grad(gx, x)
    assert exact(gxx.data, -math.sin(0.2) * math.sin(0.5))


def test_a_rule_that_fails_on_nodes_is_reported_with_the_op_name() -> None:
    x = Value(0.5)
    with pytest.raises(NotTwiceDifferentiableError, match=r"divmod_sin.*failed on graph nodes"):
        grad(_apply(_DIVMOD_SIN, x), x, create_graph=True)


def test_a_rule_that_returns_raw_floats_is_refused_when_the_gradient_requires_grad() -> None:
    x = Value(0.5)
    y = _apply(_RAW_SIN, x) * x  # the gradient reaching raw_sin is x: it requires grad
    with pytest.raises(NotTwiceDifferentiableError, match=r"raw_sin.*constant \(float\)"):
        grad(y, x, create_graph=True)
    v = Value(1.0)  # a seed that requires grad reaches raw_sin directly
    with pytest.raises(NotTwiceDifferentiableError, match=r"raw_sin.*input 0"):
        grad(_apply(_RAW_SIN, x), x, v, create_graph=True)


def test_a_constant_gradient_for_a_constant_input_is_fine() -> None:
    # Only inputs that require grad must get a node: a number for a constant is right.
    c = Value(0.5, requires_grad=False)
    op = Op("scaled", lambda a, b: a * b, lambda g, out, a, b: (g * b, _data(g) * _data(a)))
    x = Value(2.0)
    y = _apply(op, x, c)
    (g,) = grad(y * x, x, create_graph=True)
    (g2,) = grad(g, x)
    assert g2.data == 2 * 0.5


# =======================================================================================
# Second order of every operator: grad(create_graph=True) twice vs central differences
# of the first derivative
# =======================================================================================
def floats(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


ANY = floats(-3.0, 3.0)
POS = floats(0.2, 5.0)
NZ = floats(-3.0, -0.2) | floats(0.2, 3.0)
AWAY = floats(-3.0, -1e-3) | floats(1e-3, 3.0)
# Exponents away from 0: at y == 0 exactly pow's x-gradient is the constant 0 (PyTorch's
# convention, which avoids 0 * inf at x == 0), so d/dy of it is 0 there, not 1 / x.
EXP = floats(-2.5, -1e-3) | floats(1e-3, 2.5)
APART = st.tuples(ANY, AWAY).map(lambda t: (t[0], t[0] + t[1]))


@dataclass(frozen=True)
class Case2:
    id: str
    ops: tuple[str, ...]  # entries of OPS the case records
    fn: Callable[..., Value]  # of Values only
    inputs: st.SearchStrategy[tuple[float, ...]]


def case2(id: str, ops: str, fn: Callable[..., Value], *domains: Any) -> Case2:
    draw = domains[0] if len(domains) == 1 and domains[0] is APART else st.tuples(*domains)
    return Case2(id, tuple(ops.split()), fn, draw)


SECOND_ORDER_CASES = [
    case2("x+y", "add", lambda x, y: x + y, ANY, ANY),
    case2("x+c", "add", lambda x: x + 2.5, ANY),
    case2("sin(x+y)", "add sin", lambda x, y: (x + y).sin(), ANY, ANY),
    case2("x*y", "mul", lambda x, y: x * y, ANY, ANY),
    case2("x*x", "mul", lambda x: x * x, ANY),
    case2("x*y*y", "mul", lambda x, y: x * y * y, ANY, ANY),
    case2("-x", "neg", lambda x: -x, ANY),
    case2("-(x*x)", "neg mul", lambda x: -(x * x), ANY),
    case2("x-y", "add neg", lambda x, y: (x - y) * (x - y), ANY, ANY),
    case2("x/y", "mul pow_const", lambda x, y: x / y, ANY, NZ),
    case2("x**3", "pow_const", lambda x: x**3, ANY),
    case2("x**-2", "pow_const", lambda x: x**-2, NZ),
    case2("x**-1.5", "pow_const", lambda x: x**-1.5, POS),
    case2("x**0.5", "pow_const", lambda x: x**0.5, POS),
    case2("x**0", "pow_const", lambda x: x**0 * x.sin(), ANY),
    case2("x**1", "pow_const", lambda x: x**1, ANY),
    case2("x**y", "pow", lambda x, y: x**y, POS, EXP),
    case2("2**x", "pow", lambda x: 2.0**x, EXP),
    case2("x**x", "pow", lambda x: x**x, POS),
    case2("exp", "exp", lambda x: x.exp(), ANY),
    case2("exp(x*y)", "exp mul", lambda x, y: (x * y).exp(), ANY, ANY),
    case2("log", "log", lambda x: x.log(), POS),
    case2("log(x*y)", "log mul", lambda x, y: (x * y).log(), POS, POS),
    case2("sqrt", "sqrt", lambda x: x.sqrt(), POS),
    case2("sin", "sin", lambda x: x.sin(), ANY),
    case2("cos", "cos", lambda x: x.cos(), ANY),
    case2("cos(x*y)", "cos mul", lambda x, y: (x * y).cos(), ANY, ANY),
    case2("tanh", "tanh", lambda x: x.tanh(), ANY),
    case2("sigmoid", "sigmoid", lambda x: x.sigmoid(), ANY),
    case2("relu", "relu", lambda x: x.relu(), AWAY),
    case2("relu*x", "relu mul", lambda x: x.relu() * x, AWAY),
    case2("abs", "abs", lambda x: x.abs(), AWAY),
    case2("abs*x", "abs mul", lambda x: abs(x) * x, AWAY),
    case2("max", "maximum", lambda x, y: x.maximum(y), APART),
    case2("max^2", "maximum mul", lambda x, y: x.maximum(y) * x.maximum(y), APART),
    case2("min", "minimum", lambda x, y: x.minimum(y), APART),
    case2("min*y", "minimum mul", lambda x, y: x.minimum(y) * y, APART),
    case2(
        "composite",
        "add mul neg pow_const exp sin tanh",
        lambda x, y: (x * y).sin() * y.exp() - (x / (1.0 + y * y)).tanh(),
        ANY,
        ANY,
    ),
]


def test_every_operator_has_a_second_order_case() -> None:
    covered = {name for c in SECOND_ORDER_CASES for name in c.ops}
    missing = sorted(set(OPS) - covered)
    assert not missing, f"operators without a second-order case: {missing}"


def test_second_order_case_ids_are_unique() -> None:
    ids = [c.id for c in SECOND_ORDER_CASES]
    assert len(ids) == len(set(ids))


def first_derivatives(
    fn: Callable[..., Value], xs: Sequence[float], v: float = 1.0
) -> list[float]:
    """The ordinary first-order gradient (no create_graph): the reference's building block."""
    leaves = [Value(x) for x in xs]
    grads = grad(fn(*leaves), leaves, v, allow_unused=True)
    return [0.0 if g is None else g.data for g in grads]


def hessian_by_double_grad(fn: Callable[..., Value], xs: Sequence[float]) -> list[list[float]]:
    leaves = [Value(x) for x in xs]
    firsts = grad(fn(*leaves), leaves, create_graph=True, allow_unused=True)
    rows = []
    for g in firsts:
        if g is None or not g.requires_grad:  # a constant first derivative
            rows.append([0.0] * len(xs))
            continue
        row = grad(g, leaves, retain_graph=True, allow_unused=True)
        rows.append([0.0 if h is None else h.data for h in row])
    return rows


def assert_scale_close(actual: float, expected: float, what: str) -> None:
    assert math.isfinite(actual), what
    assert abs(actual - expected) <= 1e-5 * max(1.0, abs(expected)), (what, actual, expected)


def _draw(case: Case2, data: st.DataObject) -> tuple[list[Value], Value, tuple[float, ...]]:
    xs = data.draw(case.inputs, label="inputs")
    leaves = [Value(x) for x in xs]
    out = case.fn(*leaves)
    recorded = {node.op for node in topological_order(out)}
    assert set(case.ops) <= recorded, f"{case.id} records {sorted(recorded)}"
    return leaves, out, xs


@pytest.mark.parametrize("case", SECOND_ORDER_CASES, ids=lambda c: c.id)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_hessian_matches_central_differences_of_the_gradient(
    case: Case2, data: st.DataObject
) -> None:
    _, _, xs = _draw(case, data)
    hessian = hessian_by_double_grad(case.fn, xs)
    for i in range(len(xs)):
        for j in range(len(xs)):
            fd = central_difference(lambda *p, i=i: first_derivatives(case.fn, p)[i], xs, j)
            assert_scale_close(hessian[i][j], fd, f"d2 f / dx{i} dx{j} at {xs}")


@pytest.mark.parametrize("case", SECOND_ORDER_CASES, ids=lambda c: c.id)
@settings(max_examples=15, deadline=None)
@given(data=st.data(), v=floats(-2.0, 2.0), w=st.lists(floats(-2.0, 2.0), min_size=2, max_size=2))
def test_gradient_of_weighted_gradient_matches_central_differences(
    case: Case2, data: st.DataObject, v: float, w: list[float]
) -> None:
    # phi(x, v) = sum_i w_i * d(v f)/dx_i, differentiated with respect to x and to the
    # seed v (which catches a rule using its incoming gradient non-linearly).
    leaves, out, xs = _draw(case, data)
    seed = Value(v)
    firsts = grad(out, leaves, seed, create_graph=True, allow_unused=True)
    phi = Value(0.0, requires_grad=False)
    for g, wi in zip(firsts, w):
        if g is not None:
            assert g.requires_grad  # the seed requires grad, so every gradient does
            phi = phi + g * wi
    seconds = grad(phi, [*leaves, seed], allow_unused=True)
    got = [0.0 if s is None else s.data for s in seconds]

    def objective(*point: float) -> float:
        *p, seed_value = point
        return sum(wi * g for wi, g in zip(w, first_derivatives(case.fn, p, seed_value)))

    point = [*xs, v]
    for k in range(len(point)):
        fd = central_difference(objective, point, k)
        assert_scale_close(got[k], fd, f"d phi / d point[{k}] at {point}")


def test_the_second_order_check_catches_a_rule_that_is_only_right_to_first_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # cos(data(x)) is right to first order but a constant to the second pass.
    monkeypatch.setattr(
        OPS["sin"], "vjp", lambda g, out, x: (g * math.cos(_data(x)),), raising=True
    )
    (case,) = [c for c in SECOND_ORDER_CASES if c.id == "sin"]
    xs = (0.7,)
    (first,) = first_derivatives(case.fn, xs)
    assert exact(first, math.cos(0.7))
    hessian = hessian_by_double_grad(case.fn, xs)
    fd = central_difference(lambda x: first_derivatives(case.fn, [x])[0], xs, 0)
    with pytest.raises(AssertionError):
        assert_scale_close(hessian[0][0], fd, "sin")


def test_scalar_grad_is_exported() -> None:
    assert sg_scalar.grad is grad
    assert "grad" in sg_scalar.__all__


# =======================================================================================
# PyTorch's semantics at the kinks' neighbours: piecewise-linear gradients stay on the graph
# =======================================================================================
@pytest.mark.parametrize("fn", [lambda v: v.relu(), lambda v: abs(v)], ids=["relu", "abs"])
@pytest.mark.parametrize("x0", [-0.5, 1.5])
def test_relu_and_abs_gradients_differentiate_to_zero(fn: Any, x0: float) -> None:
    x = Value(x0)
    (g,) = grad(fn(x), x, create_graph=True)
    assert g.requires_grad  # the mask depends on x, with derivative 0 (as in torch)
    (h,) = grad(g, x)
    assert h.data == 0.0


def test_backward_takes_pytorchs_gradient_keyword() -> None:
    x = Value(3.0)
    (x * x).backward(gradient=2.0)
    assert x.grad == 12.0
