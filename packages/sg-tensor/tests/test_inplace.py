"""In-place operations: the same object modified, never a silently wrong gradient."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import sg_tensor as st


def test_sgd_update_under_no_grad_modifies_the_same_leaf() -> None:
    """Regression: ``w -= lr * w.grad`` under no_grad rebound ``w`` to a new tensor that
    did not require grad, and the next backward failed far from the cause."""
    w = st.tensor([1.0, -2.0, 3.0], requires_grad=True)
    same, array = w, w.data
    for _ in range(3):
        (w * w).sum().backward()
        with st.no_grad():
            w -= 0.1 * w.grad
        w.grad = None
    assert w is same
    assert w.data is array
    assert w.requires_grad
    assert w.is_leaf
    np.testing.assert_allclose(w.data, np.array([1.0, -2.0, 3.0]) * 0.8**3)


def test_in_place_on_a_tensor_that_requires_grad_is_refused_outside_no_grad() -> None:
    """Regression: ``x += 1`` on a leaf that requires grad was accepted."""
    x = st.tensor([1.0, 2.0], requires_grad=True)
    for name, run in [
        ("__iadd__", lambda: x.__iadd__(1.0)),
        ("add_", lambda: x.add_(1.0)),
        ("zero_", lambda: x.zero_()),
        ("__setitem__", lambda: x.__setitem__(0, 5.0)),
    ]:
        with pytest.raises(RuntimeError, match=f"{name}: in-place operation on a tensor"):
            run()
    np.testing.assert_array_equal(x.data, [1.0, 2.0])  # nothing written
    y = x * 2
    with pytest.raises(RuntimeError, match="the result of an operation"):
        y.mul_(3.0)


def test_writing_an_operand_that_requires_grad_into_a_plain_tensor_is_refused() -> None:
    # PyTorch records such a write (b then requires grad); without a graph for it, b
    # would not depend on a, and a's share of the gradient would be silently lost.
    a = st.tensor([1.0, 2.0], requires_grad=True)
    b = st.zeros(2)
    for name, run in [
        ("__iadd__", lambda: b.__iadd__(a)),
        ("add_", lambda: b.add_(a)),
        ("add_", lambda: b.add_(1.0, alpha=a[0])),
        ("mul_", lambda: b.mul_(a)),
        ("copy_", lambda: b.copy_(a)),
        ("fill_", lambda: b.fill_(a[1])),
        ("clamp_", lambda: b.clamp_(max=a)),
        ("__setitem__", lambda: b.__setitem__(0, a[1])),
        ("__iadd__", lambda: b.__iadd__([a[0], a[1]])),  # inside a list
    ]:
        with pytest.raises(RuntimeError, match=rf"{name}: the operand \(shape .*\) requires grad"):
            run()
    np.testing.assert_array_equal(b.data, [0.0, 0.0])  # nothing written
    assert not b.requires_grad
    b += a.detach()  # detached, or under no_grad: a plain write
    with st.no_grad():
        b[0] = a[1]
    np.testing.assert_array_equal(b.data, [2.0, 2.0])


def test_every_in_place_method_on_a_plain_tensor() -> None:
    x = st.tensor([1.0, 2.0, 3.0])
    assert x.add_(st.tensor([1.0, 1.0, 1.0]), alpha=2.0) is x
    np.testing.assert_array_equal(x.data, [3.0, 4.0, 5.0])
    x.sub_(1.0).mul_(2.0).div_(4.0)
    np.testing.assert_array_equal(x.data, [1.0, 1.5, 2.0])
    x.clamp_(1.2, 1.8)
    np.testing.assert_array_equal(x.data, [1.2, 1.5, 1.8])
    x.clamp_(2.0, 1.0)  # min > max: max, as PyTorch
    np.testing.assert_array_equal(x.data, [1.0, 1.0, 1.0])
    x.fill_(7.0)
    np.testing.assert_array_equal(x.data, [7.0, 7.0, 7.0])
    x.copy_(np.array([4.0, 5.0, 6.0]))
    np.testing.assert_array_equal(x.data, [4.0, 5.0, 6.0])
    x[1] = 0.5
    x[np.array([True, False, True])] = st.tensor([9.0, 8.0])
    np.testing.assert_array_equal(x.data, [9.0, 0.5, 8.0])
    x *= 2
    x /= 4
    x += 1
    x -= 0.5
    np.testing.assert_array_equal(x.data, [5.0, 0.75, 4.5])
    x.zero_()
    np.testing.assert_array_equal(x.data, [0.0, 0.0, 0.0])


def test_in_place_keeps_shape_and_dtype_and_says_what_cannot_be_written() -> None:
    x = st.tensor(np.zeros((2, 3), dtype=np.float32))
    x += np.ones(3)  # float64 into float32: cast, as PyTorch
    assert x.dtype == np.float32
    with pytest.raises(ValueError, match=r"add_: an operand of shape \(4,\) cannot be broadcast"):
        x.add_(np.ones(4))
    i = st.tensor(np.array([1, 2, 3]))
    with pytest.raises(TypeError, match="the result is floating point"):
        i += 0.5
    with pytest.raises(TypeError, match="div_: the result is floating point"):
        i.div_(2)
    np.testing.assert_array_equal(i.data, [1, 2, 3])
    frozen = np.zeros(2)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        st.Tensor(frozen).fill_(1.0)


def test_modifying_a_tensor_a_graph_needs_makes_backward_raise() -> None:
    """PyTorch's version counter: a rule must not read data changed after its forward."""
    w = st.tensor([1.0, 2.0], requires_grad=True)
    x = st.tensor([3.0, 4.0])
    y = (w * x).sum()
    x.add_(1.0)  # x was saved for w's gradient
    with pytest.raises(RuntimeError, match=r"mul: its input 1 \(shape \(2,\)\) was modified"):
        y.backward()
    assert w.grad is None
    z = (w * x).sum()  # computed after the change: fine
    z.backward()
    np.testing.assert_array_equal(w.grad, [4.0, 5.0])
    e = w.exp()
    out = e.sum()
    with st.no_grad():
        e.mul_(2.0)  # exp's rule reads its own output
    with pytest.raises(RuntimeError, match="exp: its output"):
        st.grad(out, w)


@pytest.mark.parametrize(
    "write",
    [
        lambda x, xv: x.view(2).mul_(10.0),  # through a view made afterwards
        lambda x, xv: x[0:1].mul_(10.0),  # through a slice
        lambda x, xv: x.detach().add_(1.0),  # through a detached tensor
        lambda x, xv: x.mul_(10.0),  # the base, after a view of it was used
    ],
)
def test_a_write_through_any_tensor_sharing_the_memory_counts(write: Any) -> None:
    """The version belongs to the memory, as PyTorch's to the storage: writing through a
    view, a slice or a detached tensor is seen by a graph that read the same memory."""
    w = st.tensor([1.0, 2.0], requires_grad=True)
    x = st.tensor([3.0, 4.0])
    xv = x.reshape(2)  # a view of x, used by the graph
    y = (w * xv).sum()
    write(x, xv)
    with pytest.raises(RuntimeError, match=r"mul: its input 1 .* was modified"):
        y.backward()
    assert w.grad is None


@pytest.mark.parametrize(
    "use",
    [
        lambda x, i: x[i],  # a getitem's index
        lambda x, i: st.gather(x, 0, i),
        lambda x, i: st.index_select(x, 0, i),
        lambda x, i: st.where(i == 0, x, 0.0)[i],  # a condition computed from it, then it
    ],
)
def test_an_index_a_graph_keeps_written_in_place_makes_backward_raise(use: Any) -> None:
    # PyTorch saves the index tensor and checks its version, as sg checks its memory
    x = st.tensor([1.0, 2.0, 3.0], requires_grad=True)
    i = st.tensor([0, 0, 1])
    y = use(x, i).sum()
    _ = i.fill_(2)
    with pytest.raises(RuntimeError, match="an array it keeps for its gradient"):
        y.backward()
    assert x.grad is None


def test_a_condition_written_in_place_makes_backward_raise_and_another_tensor_does_not() -> None:
    x = st.tensor([1.0, 2.0, 3.0], requires_grad=True)
    c = st.tensor([True, False, True])
    y = st.where(c, x, 0.0).sum()
    _ = st.tensor([1, 2]).fill_(0)  # not kept by the graph: nothing to refuse
    y.backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad, [1.0, 0.0, 1.0])
    _ = c.fill_(False)
    with pytest.raises(RuntimeError, match="where: an array it keeps"):
        y.backward()


def test_backward_of_several_tensors_to_inputs_checks_every_pass_first() -> None:
    a = st.tensor([1.0, 2.0], requires_grad=True)
    b = st.tensor([3.0, 4.0], requires_grad=True)
    first = (a * 2.0).sum()
    e = b.exp()
    second = (e * a).sum()
    with st.no_grad():
        e.add_(1.0)
    with pytest.raises(RuntimeError, match="mul: its input 0"):
        st.autograd.backward([first, second], inputs=[a])
    assert a.grad is None  # the first pass did not run


def test_a_hooked_product_refuses_only_what_its_gradients_read() -> None:
    a = st.tensor([1.0, 2.0], requires_grad=True)
    b = st.tensor([3.0, 4.0])  # no gradient: a's gradient reads b, never a
    y = a * b
    y.register_hook(lambda g: g)
    z = y.sum()
    with st.no_grad():
        a.add_(1.0)
    z.backward()
    np.testing.assert_array_equal(a.grad, [3.0, 4.0])
