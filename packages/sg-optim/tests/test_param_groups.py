"""Parameter groups, parameters without gradients, and zero_grad."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import sg_tensor as st
from sg_optim import SGD, Adam, AdamW, Optimizer, RMSprop
from sg_tensor import Tensor

FACTORIES: dict[str, Callable[..., Optimizer]] = {
    "SGD": lambda params, **kw: SGD(params, lr=0.1, **kw),
    "SGD-momentum": lambda params, **kw: SGD(params, lr=0.1, momentum=0.9, **kw),
    "Adam": lambda params, **kw: Adam(params, lr=0.1, **kw),
    "Adam-amsgrad": lambda params, **kw: Adam(params, lr=0.1, amsgrad=True, **kw),
    "AdamW": lambda params, **kw: AdamW(params, lr=0.1, **kw),
    "RMSprop": lambda params, **kw: RMSprop(params, lr=0.01, **kw),
    "RMSprop-full": lambda params, **kw: RMSprop(
        params, lr=0.01, momentum=0.9, centered=True, weight_decay=0.1, **kw
    ),
}
NAMES = list(FACTORIES)


def _param(*values: float) -> Tensor:
    return st.tensor(list(values), requires_grad=True)


# -- groups -----------------------------------------------------------------------------
def test_each_group_uses_its_own_lr_and_defaults_fill_the_rest() -> None:
    a, b, c = _param(1.0), _param(1.0), _param(1.0)
    opt = SGD([{"params": [a], "lr": 0.5}, {"params": [b, c]}], lr=0.1, momentum=0.0)
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.1]
    for group in opt.param_groups:
        assert group["momentum"] == 0.0
        assert group["dampening"] == 0.0
        assert group["weight_decay"] == 0.0
        assert group["nesterov"] is False
    for p in (a, b, c):
        p.grad = np.array([1.0])
    opt.step()
    np.testing.assert_allclose(a.data, [0.5], rtol=1e-15)
    np.testing.assert_allclose(b.data, [0.9], rtol=1e-15)
    np.testing.assert_allclose(c.data, [0.9], rtol=1e-15)


def test_group_hyperparameters_other_than_lr_are_honoured() -> None:
    a, b = _param(1.0), _param(1.0)
    opt = SGD([{"params": [a], "momentum": 0.9}, {"params": [b]}], lr=0.1)
    for _ in range(2):
        a.grad = np.array([1.0])
        b.grad = np.array([1.0])
        opt.step()
    np.testing.assert_allclose(a.data, [0.71], rtol=1e-14)  # buffer 1, then 1.9
    np.testing.assert_allclose(b.data, [0.8], rtol=1e-14)
    assert b not in opt.state or "momentum_buffer" not in opt.state[b]


def test_adam_groups_with_different_betas() -> None:
    a, b = _param(0.0), _param(0.0)
    opt = Adam([{"params": [a], "betas": (0.0, 0.5)}, {"params": b}], lr=1.0, eps=0.0)
    assert opt.param_groups[0]["betas"] == (0.0, 0.5)
    assert opt.param_groups[1]["betas"] == (0.9, 0.999)
    a.grad = np.array([2.0])
    b.grad = np.array([2.0])
    opt.step()
    opt.step()
    # a: m = 2, v: 2, 3 -> v_hat = 3 / 0.75 = 4 -> steps 1 + 1
    np.testing.assert_allclose(a.data, [-2.0], rtol=1e-14)
    # b: constant gradient, bias-corrected m_hat = 2 and v_hat = 4 -> steps 1 + 1
    np.testing.assert_allclose(b.data, [-2.0], rtol=1e-12)


def test_a_single_tensor_as_a_group_params_is_accepted() -> None:
    a = _param(1.0)
    opt = SGD([{"params": a}], lr=0.1)
    assert len(opt.param_groups[0]["params"]) == 1
    assert opt.param_groups[0]["params"][0] is a


def test_params_may_be_a_generator() -> None:
    ps = [_param(1.0), _param(2.0)]
    opt = SGD(p for p in ps)
    assert len(opt.param_groups) == 1
    assert all(x is y for x, y in zip(opt.param_groups[0]["params"], ps))
    assert opt.param_groups[0]["lr"] == 1e-3


def test_add_param_group_fills_defaults_and_is_stepped() -> None:
    a, b = _param(1.0), _param(1.0)
    opt = SGD([a], lr=0.1, momentum=0.5)
    opt.add_param_group({"params": [b], "lr": 0.2})
    assert len(opt.param_groups) == 2
    assert opt.param_groups[1]["lr"] == 0.2
    assert opt.param_groups[1]["momentum"] == 0.5
    assert opt.param_groups[1]["params"][0] is b
    a.grad = np.array([1.0])
    b.grad = np.array([1.0])
    opt.step()
    np.testing.assert_allclose(a.data, [0.9], rtol=1e-15)
    np.testing.assert_allclose(b.data, [0.8], rtol=1e-15)


def test_add_param_group_does_not_mutate_the_given_dict() -> None:
    a, b = _param(1.0), _param(1.0)
    opt = Adam([a])
    group: dict[str, Any] = {"params": [b], "lr": 0.5}
    opt.add_param_group(group)
    assert set(group) == {"params", "lr"}


def test_add_param_group_validates_hyperparameters() -> None:
    a, b = _param(1.0), _param(1.0)
    opt = Adam([a])
    with pytest.raises(ValueError, match="lr"):
        opt.add_param_group({"params": [b], "lr": -1.0})
    with pytest.raises(ValueError, match=r"betas\[1\]"):
        opt.add_param_group({"params": [b], "betas": (0.9, 1.0)})
    assert len(opt.param_groups) == 1


@pytest.mark.parametrize("name", NAMES)
def test_a_parameter_in_two_groups_is_rejected(name: str) -> None:
    a, b = _param(1.0), _param(2.0)
    with pytest.raises(ValueError, match="two groups"):
        FACTORIES[name]([{"params": [a, b]}, {"params": [a]}])
    opt = FACTORIES[name]([a])
    with pytest.raises(ValueError, match="two groups"):
        opt.add_param_group({"params": [b, a]})
    assert len(opt.param_groups) == 1


def test_a_parameter_listed_twice_in_one_group_is_rejected() -> None:
    a = _param(1.0)
    with pytest.raises(ValueError, match="parameter"):
        SGD([a, a], lr=0.1)


@pytest.mark.parametrize("name", NAMES)
def test_a_frozen_parameter_is_kept_and_never_moved(name: str) -> None:
    # As PyTorch: SGD(model.parameters()) after freezing part of the model works.
    live, frozen = _param(1.0), st.tensor([1.0])
    opt = FACTORIES[name]([live, frozen])
    late = st.tensor([2.0])
    opt.add_param_group({"params": [late]})
    for _ in range(3):
        opt.zero_grad()
        (live * live * frozen * late).sum().backward()
        opt.step()
    assert live.data[0] != 1.0
    np.testing.assert_array_equal(frozen.data, [1.0])
    np.testing.assert_array_equal(late.data, [2.0])
    assert frozen.grad is None
    assert late.grad is None


@pytest.mark.parametrize("name", NAMES)
def test_a_non_leaf_tensor_is_rejected(name: str) -> None:
    computed = _param(1.0, 2.0) * 2
    with pytest.raises(ValueError, match=r"parameter 1.*can't optimize a non-leaf Tensor"):
        FACTORIES[name]([_param(1.0), computed])
    opt = FACTORIES[name]([_param(1.0)])
    with pytest.raises(
        ValueError, match=r"non-leaf Tensor \(the result of an operation, shape \(2,\)"
    ):
        opt.add_param_group({"params": [computed]})
    assert len(opt.param_groups) == 1
    kept = _param(3.0) * 1
    kept.retain_grad()  # a non-leaf that keeps its gradient may be optimized, as PyTorch
    FACTORIES[name]([kept])


@pytest.mark.parametrize("name", NAMES)
def test_zero_grad_to_zeros_leaves_a_parameter_without_gradient_alone(name: str) -> None:
    # A parameter unused by the loss has no gradient: zeroing must not give it one, or
    # weight decay and momentum would move it (PyTorch zeroes only existing gradients).
    used, unused = _param(1.0), _param(3.0)
    opt = FACTORIES[name]([used, unused])
    opt.zero_grad(set_to_none=False)
    (used * used).sum().backward()
    opt.step()
    assert unused.grad is None
    np.testing.assert_array_equal(unused.data, [3.0])
    assert all(p is not unused for p in opt.state)


@pytest.mark.parametrize("name", NAMES)
def test_an_empty_parameter_list_is_rejected(name: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        FACTORIES[name]([])
    with pytest.raises(ValueError, match="empty"):
        FACTORIES[name](iter(()))


def test_non_tensor_parameters_are_rejected() -> None:
    with pytest.raises(TypeError, match="Tensor"):
        SGD([np.zeros(3)], lr=0.1)


@pytest.mark.parametrize("name", NAMES)
def test_parameters_without_grad_are_skipped(name: str) -> None:
    a, b = _param(1.0, -1.0), _param(3.0, 4.0)
    opt = FACTORIES[name]([a, b])
    a.grad = np.array([1.0, 1.0])
    opt.step()
    np.testing.assert_array_equal(b.data, [3.0, 4.0])  # no grad: untouched, even with decay
    assert b not in opt.state or not opt.state[b]
    assert not np.array_equal(a.data, [1.0, -1.0])
    opt.zero_grad()
    opt.step()  # every grad is None now: nothing moves
    snapshot = a.data.copy()
    opt.step()
    np.testing.assert_array_equal(a.data, snapshot)
    np.testing.assert_array_equal(b.data, [3.0, 4.0])


def test_a_skipped_parameter_keeps_its_own_step_count() -> None:
    a, b = _param(1.0), _param(1.0)
    opt = Adam([a, b], lr=0.1)
    for k in range(3):
        a.grad = np.array([1.0])
        b.grad = np.array([1.0]) if k == 1 else None
        opt.step()
    assert opt.state[a]["step"] == 3
    assert opt.state[b]["step"] == 1


# -- zero_grad --------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_zero_grad_sets_grads_to_none_by_default(name: str) -> None:
    a, b = _param(1.0, 2.0), _param(3.0)
    opt = FACTORIES[name]([{"params": [a]}, {"params": [b]}])
    ((a * a).sum() + (b * b).sum()).backward()
    assert a.grad is not None
    assert b.grad is not None
    opt.zero_grad()
    assert a.grad is None
    assert b.grad is None
    a.grad = np.ones(2)
    opt.zero_grad(set_to_none=True)
    assert a.grad is None


def test_zero_grad_to_zeros_gives_fresh_arrays() -> None:
    a = st.tensor(np.ones((2, 3)), requires_grad=True)
    b = st.tensor(np.ones(4, dtype=np.float32), requires_grad=True)
    c = _param(5.0)  # never had a gradient
    opt = SGD([a, b, c], lr=0.1)
    ((a * a).sum() + (b * b).sum()).backward()
    old_a, old_b = a.grad, b.grad
    opt.zero_grad(set_to_none=False)
    for p, old in ((a, old_a), (b, old_b)):
        assert isinstance(p.grad, np.ndarray)
        assert p.grad.shape == p.shape
        assert p.grad.dtype == p.dtype
        np.testing.assert_array_equal(p.grad, 0)
        assert p.grad is not old
        assert not np.shares_memory(p.grad, old)
        assert not np.shares_memory(p.grad, p.data)
    np.testing.assert_array_equal(old_a, 2 * np.ones((2, 3)))  # the old array is untouched
    assert c.grad is None  # as PyTorch: only existing gradients are zeroed
    # the zero gradients accumulate normally and a step with them is a no-op for plain SGD
    (a * a).sum().backward()
    np.testing.assert_array_equal(a.grad, 2 * np.ones((2, 3)))
    np.testing.assert_array_equal(b.grad, np.zeros(4, dtype=np.float32))


def test_zero_grad_then_backward_gives_a_fresh_gradient() -> None:
    w = _param(1.0, -2.0)
    opt = SGD([w], lr=0.1)
    for _ in range(2):
        opt.zero_grad()
        (w * w).sum().backward()
    np.testing.assert_allclose(w.grad, 2 * w.data, rtol=1e-15)


def test_without_zero_grad_gradients_accumulate() -> None:
    w = _param(1.0)
    SGD([w], lr=0.0)
    (w * w).sum().backward()
    (w * w).sum().backward()
    np.testing.assert_array_equal(w.grad, [4.0])


@pytest.mark.parametrize("make", [
    lambda p: SGD(p, lr=0.1, weight_decay=0.01),
    lambda p: SGD(p, lr=0.1, momentum=0.9, nesterov=True),
    lambda p: Adam(p, lr=0.1),
    lambda p: AdamW(p, lr=0.1),
    lambda p: RMSprop(p, lr=0.1),
])  # fmt: skip
def test_a_step_after_backward_with_create_graph_uses_the_gradients_values(make: Any) -> None:
    # backward(create_graph=True) leaves Tensors in .grad; a step reads their values
    x = st.tensor([1.0, -2.0, 0.5], requires_grad=True)
    twin = st.tensor([1.0, -2.0, 0.5], requires_grad=True)
    (x**3).sum().backward(create_graph=True)
    (twin**3).sum().backward()
    assert isinstance(x.grad, st.Tensor)
    make([x]).step()
    make([twin]).step()
    np.testing.assert_array_equal(x.data, twin.data)
