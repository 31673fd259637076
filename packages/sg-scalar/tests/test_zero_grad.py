"""zero_grad() resets the gradient of a value and of every node of its graph."""

from __future__ import annotations

from sg_scalar import Value
from sg_scalar.graph import topological_order


def test_zero_grad_resets_the_whole_graph() -> None:
    x, y = Value(1.5), Value(-2.0)
    a = x * y
    out = a.exp() + x
    out.backward(retain_graph=True)
    nodes = topological_order(out)
    first = [node.grad for node in nodes]
    assert all(g != 0.0 for g in first)
    out.zero_grad()
    assert [node.grad for node in nodes] == [0.0] * len(nodes)
    assert (x.grad, y.grad, a.grad, out.grad) == (0.0, 0.0, 0.0, 0.0)
    out.backward()  # after zero_grad the gradients are fresh, not accumulated
    assert [node.grad for node in nodes] == first


def test_zero_grad_on_a_leaf_resets_only_that_leaf() -> None:
    x, y = Value(3.0), Value(4.0)
    (x * y).backward()
    x.zero_grad()
    assert x.grad == 0.0
    assert y.grad == 3.0


def test_zero_grad_between_steps_prevents_accumulation() -> None:
    x = Value(2.0)
    for _ in range(3):
        x.zero_grad()
        (x * x * x).backward()
        assert x.grad == 12.0
