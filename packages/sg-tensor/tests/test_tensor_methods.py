"""PyTorch's everyday Tensor methods that are not operators, and its dtype spellings."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import sg_tensor as st


def test_size_numel_dim_and_tolist() -> None:
    x = st.tensor(np.arange(6.0).reshape(2, 3))
    assert x.size() == (2, 3)
    assert x.size(1) == 3
    assert x.size(-2) == 2
    assert x.size == 6  # numpy's element count still
    assert x.numel() == 6
    assert x.dim() == 2
    assert x.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert st.tensor(2.5).tolist() == 2.5
    with pytest.raises(ValueError, match="size: axis 2 is out of range"):
        x.size(2)


def test_new_tensors_take_this_tensors_dtype() -> None:
    x = st.tensor(np.zeros(2, dtype=np.float32))
    for made, value in ((x.new_zeros(2, 3), 0.0), (x.new_ones((2, 3)), 1.0),
                        (x.new_full((2, 3), 7.0), 7.0)):  # fmt: skip
        assert made.shape == (2, 3)
        assert made.dtype == np.float32
        assert np.all(made.data == value)
        assert not made.requires_grad
    assert x.new_tensor([1, 2]).dtype == np.float32
    assert x.new_zeros(2, dtype=np.float64).dtype == np.float64


def test_to_float_double_and_clone_are_differentiable() -> None:
    x = st.tensor([1.0, 2.0], requires_grad=True)
    assert x.to(st.float32).dtype == np.float32
    assert x.to("cpu") is x
    assert x.to(x) is x
    assert x.double() is x
    y = x.float()
    c = x.clone()
    assert c.data is not x.data
    (y.sum() * 2 + (c * c).sum()).backward()
    np.testing.assert_allclose(x.grad, [4.0, 6.0])
    assert x.grad.dtype == np.float64
    with pytest.raises(ValueError, match="sg computes on the CPU"):
        x.to("cuda")


def test_grad_fn_names_the_operator_and_is_none_for_a_leaf() -> None:
    x = st.tensor([1.0, 2.0], requires_grad=True)
    assert x.grad_fn is None
    y = (x * 2).exp()
    assert y.grad_fn is not None
    assert y.grad_fn.name == "exp"
    y.sum().backward()
    assert y.grad_fn is None  # the graph was freed


def test_retain_grad_keeps_a_non_leaf_gradient() -> None:
    x = st.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    assert not h.retains_grad
    h.retain_grad()
    h.retain_grad()  # twice: one copy kept, not two
    assert h.retains_grad
    assert not x.retains_grad  # a leaf keeps its gradient anyway (PyTorch: False too)
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad, 2 * 3 * np.array([1.0, 2.0]))
    np.testing.assert_allclose(x.grad, 2 * 9 * np.array([1.0, 2.0]))


def test_hooks_see_and_may_replace_the_gradient() -> None:
    x = st.tensor([1.0, 2.0], requires_grad=True)
    seen: list[Any] = []
    handle = x.register_hook(lambda g: seen.append(g.data.copy()))
    h = x * 2
    h.register_hook(lambda g: g * 10)  # a non-leaf: its rule gets ten times the gradient
    h.sum().backward()
    np.testing.assert_allclose(x.grad, [20.0, 20.0])
    np.testing.assert_allclose(seen[0], [20.0, 20.0])
    handle.remove()
    x.grad = None
    (x * 1).sum().backward()
    assert len(seen) == 1
    with pytest.raises(RuntimeError, match="does not require grad"):
        st.tensor([1.0]).register_hook(lambda g: g)


def test_hooks_work_under_create_graph() -> None:
    x = st.tensor([1.0, 2.0], requires_grad=True)
    h = x * x
    h.register_hook(lambda g: g * 2)
    (g,) = st.grad(h.sum(), x, create_graph=True)
    np.testing.assert_allclose(g.data, [4.0, 8.0])
    (gg,) = st.grad(g.sum(), x)
    np.testing.assert_allclose(gg.data, [4.0, 4.0])


def test_a_0d_tensor_does_not_widen_a_dimensioned_one_as_pytorch() -> None:
    a = st.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    s = st.tensor(2.0, requires_grad=True)  # float64, 0-d
    out = a * s
    assert out.dtype == np.float32
    assert (s * a).dtype == np.float32
    out.sum().backward()
    assert s.grad.dtype == np.float64
    np.testing.assert_allclose(s.grad, 3.0)
    assert (a * st.tensor([2.0])).dtype == np.float64  # 1-d: numpy's (and PyTorch's) widening


def test_retain_grad_stores_the_gradient_after_the_hooks_as_pytorch_2() -> None:
    y = st.tensor([1.0, 2.0], requires_grad=True)
    h = y * 1
    h.retain_grad()
    h.register_hook(lambda g: g * 2)
    h.sum().backward()
    np.testing.assert_array_equal(h.grad, [2.0, 2.0])
    np.testing.assert_array_equal(y.grad, [2.0, 2.0])


def test_clamp_with_tensor_bounds() -> None:
    x = st.tensor([-2.0, 0.5, 3.0], requires_grad=True)
    low = st.tensor([0.0, 0.0, 0.0], requires_grad=True)
    high = st.tensor([1.0, 1.0, 1.0], requires_grad=True)
    (x.clamp(low, high) * st.tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 2.0, 0.0])
    np.testing.assert_array_equal(low.grad, [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(high.grad, [0.0, 0.0, 3.0])


def test_arange_follows_the_default_dtype() -> None:
    try:
        st.set_default_dtype(st.float32)
        assert st.arange(3.0).dtype == np.float32
        assert st.arange(3).dtype == np.int64
    finally:
        st.set_default_dtype(st.float64)
    assert st.arange(3.0).dtype == np.float64


def test_conversions_tests_logic_and_product_spellings() -> None:
    x = st.tensor([[1.0, -2.5], [0.4, 3.6]], requires_grad=True)
    assert x.long().dtype == np.int64
    assert x.int().dtype == np.int32
    assert x.bool().dtype == np.bool_
    positive = x > 0
    np.testing.assert_array_equal((positive & (x < 3)).data, [[True, False], [True, False]])
    np.testing.assert_array_equal((~positive).data, [[False, True], [False, False]])
    np.testing.assert_array_equal((positive | (x < 0)).data, True)
    assert x.all().item()
    np.testing.assert_array_equal(x.any(1).data, [True, True])
    assert st.allclose(x, x.detach() + 1e-9)
    assert st.equal(x, x.detach())
    assert not st.isnan(x).any().item()
    np.testing.assert_array_equal(x.round().data, [[1.0, -2.0], [0.0, 4.0]])
    np.testing.assert_array_equal(x.t().data, x.data.T)
    np.testing.assert_allclose(st.mm(x, x).data, x.data @ x.data)
    assert st.dot(st.tensor([1.0, 2.0]), st.tensor([3.0, 4.0])).item() == 11.0
    assert st.outer(st.tensor([1.0, 2.0]), st.tensor([3.0, 4.0, 5.0])).shape == (2, 3)
    np.testing.assert_allclose(x.add(x, alpha=2).data, 3 * x.data)
    np.testing.assert_allclose(x.sub(1.0, alpha=3).data, x.data - 3)
    assert x.view_as(np.zeros(4)).shape == (4,)
    assert st.tensor([[1.0], [2.0]]).expand_as(x).shape == (2, 2)
    assert x.contiguous() is x
    y = x * 2
    assert y.detach_() is y
    assert y.is_leaf
    assert not y.requires_grad
    with pytest.raises(ValueError, match="mm: expects 2-D and 2-D operands"):
        st.mm(st.tensor([1.0]), x)


def test_remainder_and_floor_divide_as_pytorch() -> None:
    a = st.tensor([5.5, -3.2], requires_grad=True)
    b = st.tensor([2.0, 1.5], requires_grad=True)
    (a % b).sum().backward()
    np.testing.assert_allclose((a % b).data, np.remainder(a.data, b.data))
    np.testing.assert_array_equal(a.grad, [1.0, 1.0])
    np.testing.assert_array_equal(b.grad, [-2.0, 3.0])  # -floor(a / b)
    np.testing.assert_array_equal((a // 2).data, [2.0, -2.0])
    with pytest.raises(RuntimeError, match="floor_divide: its derivative is not implemented"):
        (a // 2).sum().backward()


def test_bitwise_operators_with_a_python_number_on_the_left() -> None:
    t = st.tensor([1, 2, 3])
    assert (2 & t).tolist() == [0, 2, 2]
    assert (6 ^ t).tolist() == [7, 4, 5]
    assert (True | st.tensor([False, True])).tolist() == [True, True]


# -- hooks, retain_grad and backward(inputs=...): each gradient hooked and stored once ----
def _cube_inputs() -> tuple[Any, Any]:
    x = st.tensor([0.5, -1.5, 2.0], requires_grad=True)
    return x, x**2


def test_a_leaf_hook_runs_once_in_backward_with_inputs() -> None:
    x, _ = _cube_inputs()
    calls: list[int] = []
    x.register_hook(lambda g: calls.append(1) or g * 2)
    (x**2).sum().backward(inputs=[x])
    np.testing.assert_array_equal(x.grad, [2.0, -6.0, 8.0])  # 2 x, doubled once
    assert calls == [1]


@pytest.mark.parametrize("retain", [True, False])
@pytest.mark.parametrize("inputs", ["y, x", "y"])
def test_an_intermediate_input_of_backward_is_stored_once_after_its_hooks_run_once(
    retain: bool, inputs: str
) -> None:
    """As PyTorch: y.grad is y's gradient after its hook, whether the pass goes on
    through y (to x) or stops at it, and the hook runs once."""
    x, y = _cube_inputs()
    if retain:
        y.retain_grad()
    calls: list[int] = []
    y.register_hook(lambda g: calls.append(1) or g * 10)
    (y**2).sum().backward(inputs=[y, x] if inputs == "y, x" else [y])
    np.testing.assert_array_equal(y.grad, 10 * 2 * y.data)
    assert calls == [1]
    if inputs == "y, x":
        np.testing.assert_array_equal(x.grad, 10 * 2 * y.data * 2 * x.data)


@pytest.mark.parametrize("retain_graph", [False, True])
def test_grad_of_a_hooked_intermediate_does_not_depend_on_retain_graph(retain_graph: bool) -> None:
    """As PyTorch: the pass goes on through y to x (running y's hook once), and y's
    gradient is the one before its hook; asked alone, y's gradient is after it."""
    x, y = _cube_inputs()
    y.register_hook(lambda g: g * 10)
    gy, gx = st.grad((y**2).sum(), [y, x], retain_graph=retain_graph)
    np.testing.assert_array_equal(gy.data, 2 * y.data)
    np.testing.assert_array_equal(gx.data, 10 * 2 * y.data * 2 * x.data)
    x, y = _cube_inputs()
    y.register_hook(lambda g: g * 10)
    (alone,) = st.grad((y**2).sum(), [y], retain_graph=retain_graph)
    np.testing.assert_array_equal(alone.data, 10 * 2 * y.data)


def test_grad_takes_an_iterator_of_inputs() -> None:
    x, y = _cube_inputs()
    (gx,) = st.grad(y.sum(), iter([x]))
    np.testing.assert_array_equal(gx.data, 2 * x.data)


def test_a_hook_may_not_change_a_gradients_shape() -> None:
    x, _ = _cube_inputs()
    x.register_hook(lambda g: g[:2])
    with pytest.raises(st.ShapeMismatchError, match=r"changed the gradient's shape from \(3,\)"):
        (x * 2.0).sum().backward()


def test_retain_grad_under_create_graph_keeps_a_differentiable_gradient() -> None:
    x, y = _cube_inputs()
    y.retain_grad()
    (y**2).sum().backward(create_graph=True)
    assert isinstance(y.grad, st.Tensor)
    y.grad.sum().backward()  # d/dx sum(2 y) = 4 x, added to the first pass's 4 x**3
    np.testing.assert_allclose(x.grad.data, 4 * x.data**3 + 4 * x.data)


def test_an_integer_tensor_set_to_require_grad_by_assignment_fails_its_backward() -> None:
    """requires_grad_() refuses integers; the plain attribute cannot, so the pass does
    (its gradient would be truncated to integers)."""
    x = st.tensor([1, 2, 3])
    x.requires_grad = True
    with pytest.raises(TypeError, match=r"dtype int64 \(shape \(3,\)\) requires grad"):
        (x * 2.5).sum().backward()
    assert x.grad is None
