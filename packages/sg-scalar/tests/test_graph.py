"""The graph core: diamonds, reuse, accumulation, released graphs, deep chains, order."""

from __future__ import annotations

import math
import sys

import pytest
from scalar_helpers import close

import sg_scalar
from sg_scalar import GraphReleasedError, Value
from sg_scalar.graph import topological_order


def test_diamond_sums_both_paths() -> None:
    # a feeds b and c, which rejoin in d: dd/da = 3*c + 2*b.
    a = Value(2.0)
    b = a * 3.0
    c = a.exp()
    d = b * c
    d.backward()
    assert close(a.grad, 3.0 * math.exp(2.0) + 6.0 * math.exp(2.0), atol=0, rtol=1e-14)
    assert b.grad == c.data  # intermediate grads are kept on Values
    assert c.grad == b.data


def test_diamond_with_two_levels_of_sharing() -> None:
    x = Value(0.5)
    y = x * x  # x used twice
    z = y + x  # x used again on a third path
    w = z * y  # y used twice
    w.backward()
    # w = (x^2 + x) * x^2 = x^4 + x^3, so dw/dx = 4x^3 + 3x^2.
    assert close(x.grad, 4 * 0.5**3 + 3 * 0.5**2, atol=0, rtol=1e-14)


def test_reuse_x_times_x() -> None:
    x = Value(-3.0)
    (x * x).backward()
    assert x.grad == -6.0


def test_reuse_x_plus_x_plus_x() -> None:
    x = Value(7.0)
    (x + x + x).backward()
    assert x.grad == 3.0


def test_leaf_used_in_both_inputs_of_every_binary_op() -> None:
    x = Value(1.5)
    (x - x).backward()
    assert x.grad == 0.0
    x.grad = 0.0
    (x / x).backward()
    assert close(x.grad, 0.0, atol=1e-15, rtol=0)
    x.grad = 0.0
    (x**x).backward()  # d(x^x)/dx = x^x (log x + 1)
    assert close(x.grad, 1.5**1.5 * (math.log(1.5) + 1.0), atol=0, rtol=1e-14)


def test_two_backward_calls_with_retain_graph_double_leaf_grads_exactly() -> None:
    x, y = Value(1.3), Value(-0.7)
    out = (x * y).sin() + x.exp() * y
    out.backward(retain_graph=True)
    first = (x.grad, y.grad)
    out.backward(retain_graph=True)
    assert (x.grad, y.grad) == (2 * first[0], 2 * first[1])
    out.backward()  # the last call may release the graph
    assert (x.grad, y.grad) == (3 * first[0], 3 * first[1])


def test_second_backward_without_retain_graph_raises() -> None:
    x = Value(2.0)
    out = x * x + 1.0
    out.backward()
    assert x.grad == 4.0
    with pytest.raises(GraphReleasedError, match="retain_graph"):
        out.backward()
    assert x.grad == 4.0  # nothing reached the leaf
    assert issubclass(sg_scalar.GraphReleasedError, RuntimeError)


def test_backward_into_a_subgraph_released_by_another_backward_raises() -> None:
    x = Value(2.0)
    shared = x.exp()
    (shared * 2.0).backward()  # frees shared's graph too
    with pytest.raises(GraphReleasedError, match="retain_graph"):
        (shared + 1.0).backward()


def test_deep_chain_of_additions_needs_no_recursion() -> None:
    n = 100_000
    assert sys.getrecursionlimit() < n  # so a recursive walk would fail here
    x = Value(0.0)
    y = x
    for _ in range(n):
        y = y + 1.0
    assert y.data == float(n)
    assert len(topological_order(y)) == n + 1
    y.backward()
    assert x.grad == 1.0


def test_deep_chain_of_multiplications_has_the_product_rule_gradient() -> None:
    n = 50_000  # two nodes per step: 100,000 nodes
    x = Value(1.0)
    y = x
    for _ in range(n):
        y = y * 1.0000001 + 0.0
    assert len(topological_order(y)) == 2 * n + 1
    y.backward()
    assert close(x.grad, 1.0000001**n, atol=0, rtol=1e-10)


def _build(x: Value, y: Value) -> Value:
    a = x * y
    b = a.tanh() + x
    c = b.maximum(a) * y.exp()
    return c + a / (b * b + 1.0)


def test_topological_order_is_deterministic() -> None:
    def signature() -> list[tuple[str, float]]:
        return [(node.op, node.data) for node in topological_order(_build(x, y))]

    x, y = Value(0.3), Value(-1.2)
    first = signature()
    for _ in range(5):
        assert signature() == first
    x, y = Value(0.3), Value(-1.2)
    assert signature() == first


def test_topological_order_puts_parents_first_and_each_node_once() -> None:
    x, y = Value(0.3), Value(-1.2)
    out = _build(x, y)
    order = topological_order(out)
    assert order[-1] is out
    assert len({id(node) for node in order}) == len(order)
    position = {id(node): i for i, node in enumerate(order)}
    for i, node in enumerate(order):
        for parent in node._parents:
            if parent.requires_grad:
                assert position[id(parent)] < i
            else:  # constants get no gradient and are left out
                assert id(parent) not in position
    assert [node for node in order if node.is_leaf] == [x, y]


def test_topological_order_follows_argument_order() -> None:
    a, b = Value(1.0), Value(2.0)
    c = a * b
    d = c + a
    e = b + d
    assert topological_order(e) == [b, a, c, d, e]
    assert topological_order(d) == [a, b, c, d]


def test_topological_order_skips_nodes_that_do_not_require_grad() -> None:
    x = Value(1.0)
    frozen = Value(2.0, requires_grad=False)
    out = x * frozen + frozen.exp()
    order = topological_order(out)
    assert all(node.requires_grad for node in order)
    assert frozen not in order
    assert x in order


def test_backward_seed_scales_every_gradient() -> None:
    x = Value(3.0)
    (x * x).backward(2.5)
    assert x.grad == 15.0
    x.grad = 0.0
    (x * x).backward(Value(-1.0))
    assert x.grad == -6.0


def test_backward_of_a_leaf_sets_its_grad_to_the_seed() -> None:
    x = Value(3.0)
    x.backward()
    assert x.grad == 1.0
    x.backward()
    assert x.grad == 2.0


def test_branch_that_does_not_reach_the_output_gets_no_gradient() -> None:
    x = Value(1.0)
    unused = x * 5.0
    out = x * 2.0
    out.backward()
    assert x.grad == 2.0
    assert unused.grad == 0.0
