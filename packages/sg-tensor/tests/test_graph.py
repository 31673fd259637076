"""Graph behaviour: reuse and diamonds, retain_graph, released graphs, long chains, grad mode."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import sg_tensor as st
from sg_tensor import GraphReleasedError, Tensor, enable_grad, no_grad, set_grad_enabled


def test_reuse_accumulates() -> None:
    x = Tensor([2.0, -3.0], requires_grad=True)
    y = x * x  # dy/dx = 2x
    z = y + y  # dz/dx = 4x
    z.sum().backward()
    np.testing.assert_array_equal(x.grad, [8.0, -12.0])


def test_diamond_accumulates() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    a = x * 3.0
    b = a + 1.0
    c = a * 2.0
    d = b * c  # (3x + 1)(6x) = 18x^2 + 6x, derivative 36x + 6
    d.sum().backward()
    np.testing.assert_array_equal(x.grad, [42.0, 78.0])


def test_a_leaf_used_in_several_places() -> None:
    x = Tensor([3.0], requires_grad=True)
    w = Tensor([2.0], requires_grad=True)
    out = x * w + x.exp() * 0.0 + x / w + x**2  # d/dx = w + 1/w + 2x, d/dw = x - x/w^2
    out.backward(np.ones(1))
    np.testing.assert_allclose(x.grad, [2.0 + 0.5 + 6.0], rtol=1e-15)
    np.testing.assert_allclose(w.grad, [3.0 - 0.75], rtol=1e-15)


def test_both_operands_the_same_tensor() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x @ x).backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])
    x.grad = None
    x.maximum(x).sum().backward()  # a tie with itself: both halves come back to x
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])


def test_leaf_grads_are_separate_arrays() -> None:
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    assert a.grad is not b.grad
    a.grad[0] = 100.0
    assert b.grad[0] == 1.0


def test_grads_accumulate_across_backward_calls() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * 3.0).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [5.0, 7.0])


def test_retain_graph_allows_a_second_backward_that_accumulates() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])
    y.backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad, [4.0, 8.0])
    y.backward()
    np.testing.assert_array_equal(x.grad, [6.0, 12.0])


def test_a_second_backward_without_retain_graph_raises() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).exp().sum()
    y.backward()
    first = x.grad.copy()
    with pytest.raises(GraphReleasedError, match="retain_graph=True"):
        y.backward()
    np.testing.assert_array_equal(x.grad, first)  # the failed pass added nothing
    assert issubclass(GraphReleasedError, RuntimeError)
    assert st.GraphReleasedError is GraphReleasedError


def test_backward_through_a_shared_released_subgraph_raises() -> None:
    x = Tensor([1.0], requires_grad=True)
    h = x.exp()
    h.sin().sum().backward()
    with pytest.raises(GraphReleasedError):
        h.cos().sum().backward()


def test_a_long_chain_needs_no_recursion() -> None:
    x = Tensor([0.0, 1.0], requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    np.testing.assert_array_equal(y.data, [100_000.0, 100_001.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])


def test_non_leaf_grad_stays_none() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 2.0
    out = h.sum()
    out.backward()
    assert h.grad is None
    assert out.grad is None
    assert not h.is_leaf
    assert x.is_leaf
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])


def test_inputs_that_do_not_require_grad_get_no_grad() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    c = Tensor([3.0, 4.0])
    (x * c).sum().backward()
    assert c.grad is None
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])


# ---------------------------------------------------------------------------------------
# Grad mode, detach, requires_grad_
# ---------------------------------------------------------------------------------------
def test_no_grad_records_nothing() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    with no_grad():
        y = (x * 2.0).exp().sum()
        assert not st.is_grad_enabled()
    assert st.is_grad_enabled()
    assert not y.requires_grad
    assert y.is_leaf
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_no_grad_nests_with_enable_grad() -> None:
    x = Tensor([1.0], requires_grad=True)
    with no_grad():
        with enable_grad():
            y = x * 2.0
        z = x * 2.0
    assert y.requires_grad
    assert not z.requires_grad


def test_set_grad_enabled_as_a_decorator() -> None:
    @set_grad_enabled(False)
    def f(t: Tensor) -> Tensor:
        return t * 2.0

    x = Tensor([1.0], requires_grad=True)
    assert not f(x).requires_grad
    assert (x * 2.0).requires_grad


def test_no_grad_is_per_thread() -> None:
    x = Tensor([1.0], requires_grad=True)
    seen: list[bool] = []

    def other_thread() -> None:
        seen.append((x * 2.0).requires_grad)

    with no_grad():
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert seen == [True]


def test_in_place_update_under_no_grad() -> None:
    w = Tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    with no_grad():
        w.data -= 0.1 * w.grad
    w.grad = None
    np.testing.assert_allclose(w.data, [0.8, 1.6])
    assert w.requires_grad
    assert w.is_leaf


def test_detach_shares_data_and_cuts_the_graph() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 3.0
    d = h.detach()
    assert d.data is h.data
    assert not d.requires_grad
    assert d.is_leaf
    (h + d * 100.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_requires_grad_() -> None:
    x = Tensor([1.0, 2.0])
    assert x.requires_grad_() is x
    assert x.requires_grad
    (x * 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])
    x.requires_grad_(False)
    assert not x.requires_grad
    assert not (x * 2.0).requires_grad


def test_requires_grad_false_on_a_non_leaf_is_an_error() -> None:
    h = Tensor([1.0], requires_grad=True) * 2.0
    with pytest.raises(RuntimeError, match=r"non-leaf tensor: use \.detach\(\) instead"):
        h.requires_grad_(False)


def test_zero_grad_clears_the_leaves() -> None:
    x = Tensor([1.0], requires_grad=True)
    w = Tensor([2.0], requires_grad=True)
    y = (x * w).sum()
    y.backward(retain_graph=True)
    y.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(x.grad, [0.0])
    np.testing.assert_array_equal(w.grad, [0.0])
    y.backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad, [2.0])
    y.zero_grad()
    assert x.grad is None
    assert w.grad is None


def test_zero_grad_on_a_new_graph_clears_the_last_steps_gradients() -> None:
    w = Tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    loss = (w * 3.0).sum()
    loss.zero_grad()
    assert w.grad is None
    loss.backward()
    np.testing.assert_array_equal(w.grad, [3.0, 3.0])


def test_leaf_grads_are_writable_owned_arrays() -> None:
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    x.sum().backward()  # the sum rule hands back a read-only broadcast view
    x.grad *= 2.0
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 2.0))
    y = Tensor(np.ones(3), requires_grad=True)
    seed = np.array([1.0, 2.0, 3.0])
    (y + 0.0).backward(seed)
    seed[0] = 100.0  # the caller's array is not aliased
    np.testing.assert_array_equal(y.grad, [1.0, 2.0, 3.0])


# ---------------------------------------------------------------------------------------
# Higher order: create_graph makes the gradient differentiable
# ---------------------------------------------------------------------------------------
def test_create_graph_gives_a_differentiable_gradient() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x**3).sum().backward(create_graph=True)
    g = x.grad
    assert isinstance(g, Tensor)
    np.testing.assert_array_equal(g.data, [3.0, 12.0])
    x.grad = None
    g.sum().backward()
    np.testing.assert_array_equal(x.grad, [6.0, 12.0])


def test_second_derivative_of_a_composite() -> None:
    v = np.array([0.5, -1.0, 2.0])
    x = Tensor(v, requires_grad=True)
    (x.sin() * x.exp()).sum().backward(create_graph=True, retain_graph=True)
    g = x.grad
    np.testing.assert_allclose(g.data, np.exp(v) * (np.cos(v) + np.sin(v)), rtol=1e-14)
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad, 2 * np.exp(v) * np.cos(v), rtol=1e-14)


def test_create_graph_keeps_the_graph_by_default() -> None:
    # As in PyTorch, retain_graph defaults to create_graph: the gradient's graph refers to
    # the forward graph (exp's rule uses its output), so freeing it would break it.
    v = np.array([0.5, -1.0, 2.0])
    x = Tensor(v, requires_grad=True)
    (x.sin() * x.exp()).sum().backward(create_graph=True)
    g = x.grad
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad, 2 * np.exp(v) * np.cos(v), rtol=1e-14)


def test_backward_on_a_tensor_that_does_not_require_grad() -> None:
    with pytest.raises(RuntimeError, match="backward\\(\\): this tensor does not require grad"):
        Tensor([1.0]).sum().backward()
