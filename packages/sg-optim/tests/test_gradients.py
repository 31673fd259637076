"""A step checks every gradient before it updates anything: a bad one changes nothing."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from optim_helpers import assert_identical

import sg_tensor as st
from sg_optim import SGD, Adam, AdamW, Optimizer, RMSprop
from sg_tensor import Tensor

Factory = Callable[[Any], Optimizer]

FACTORIES: dict[str, Factory] = {
    "SGD": lambda groups: SGD(groups, lr=0.1),
    "SGD-momentum": lambda groups: SGD(groups, lr=0.1, momentum=0.9, weight_decay=0.01),
    "Adam-amsgrad": lambda groups: Adam(groups, lr=0.1, amsgrad=True, weight_decay=0.01),
    "AdamW": lambda groups: AdamW(groups, lr=0.1),
    "RMSprop": lambda groups: RMSprop(groups, lr=0.01),
    "RMSprop-full": lambda groups: RMSprop(
        groups, lr=0.01, momentum=0.9, centered=True, weight_decay=0.1
    ),
}
NAMES = list(FACTORIES)

# three parameters in two groups: the first, a middle and the last one are (group, index)
SHAPES: list[tuple[int, ...]] = [(2, 2), (3,), ()]
POSITIONS = {"first": (0, 0), "middle": (1, 0), "last": (1, 1)}


def _setup(name: str) -> tuple[list[Tensor], Optimizer]:
    rng = np.random.default_rng(0)
    params = [st.tensor(rng.standard_normal(s), requires_grad=True) for s in SHAPES]
    groups = [{"params": params[:1]}, {"params": params[1:], "lr": 0.05}]
    return params, FACTORIES[name](groups)


def _good_grads(params: list[Tensor], k: int) -> None:
    for i, p in enumerate(params):
        p.grad = np.full(p.shape, 0.5 + i - k / 3)


def _snapshot(params: list[Tensor], opt: Optimizer) -> list[Any]:
    """Copies of everything a step may change: values, dtypes, state entries, rates."""
    data = [p.data.copy() for p in params]
    state = [
        {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in opt.state[p].items()}
        if p in opt.state
        else None
        for p in params
    ]
    groups = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
    return [data, state, groups, len(opt.state)]


# name -> (bad gradient for a parameter of a shape, the error it raises)
BAD: dict[str, tuple[Callable[[tuple[int, ...]], Any], type[Exception]]] = {
    # (1,) broadcasts against every non-0-d shape: the silent case of the issue
    "broadcastable": (lambda shape: np.array([0.5]), ValueError),
    "extra-axis": (lambda shape: np.full((*shape, 2), 0.5), ValueError),
    "tensor-extra-axis": (lambda shape: st.tensor(np.full((*shape, 2), 0.5)), ValueError),
    "list": (lambda shape: np.full(shape, 0.5).tolist(), TypeError),
    "float": (lambda shape: 0.5, TypeError),
    "complex": (lambda shape: np.full(shape, 0.5 + 1j), TypeError),
    "object": (lambda shape: np.full(shape, 0.5, dtype=object), TypeError),
    "bool": (lambda shape: np.ones(shape, dtype=bool), TypeError),
    "string": (lambda shape: np.full(shape, "0.5"), TypeError),
    "bool-tensor": (lambda shape: st.tensor(np.ones(shape, dtype=bool)), TypeError),
}


@pytest.mark.parametrize("warm", [0, 2], ids=["fresh", "after-2-steps"])
@pytest.mark.parametrize("bad", list(BAD))
@pytest.mark.parametrize("position", list(POSITIONS))
@pytest.mark.parametrize("name", NAMES)
def test_a_bad_gradient_fails_the_step_and_changes_nothing(
    name: str, position: str, bad: str, warm: int
) -> None:
    params, opt = _setup(name)
    for k in range(warm):
        _good_grads(params, k)
        opt.step()
    group, index = POSITIONS[position]
    target = opt.param_groups[group]["params"][index]
    make_bad, error = BAD[bad]
    before = _snapshot(params, opt)

    _good_grads(params, warm)
    target.grad = make_bad(target.shape)
    with pytest.raises(error) as caught:
        opt.step()
    assert_identical(_snapshot(params, opt), before)

    message = str(caught.value)
    assert f"{type(opt).__name__}.step" in message
    assert f"param group {group}, parameter {index}" in message
    assert f"shape {target.shape}" in message
    bad_values = target.grad.data if isinstance(target.grad, Tensor) else target.grad
    if isinstance(bad_values, np.ndarray):
        assert str(bad_values.shape) in message
        assert str(bad_values.dtype) in message or error is ValueError
    else:
        assert type(bad_values).__name__ in message


@pytest.mark.parametrize("position", list(POSITIONS))
@pytest.mark.parametrize("name", NAMES)
def test_after_a_failed_step_training_continues_as_if_it_never_happened(
    name: str, position: str
) -> None:
    params, opt = _setup(name)
    twin_params, twin = _setup(name)
    group, index = POSITIONS[position]
    for k in range(4):
        _good_grads(params, k)
        _good_grads(twin_params, k)
        if k == 2:  # a bad gradient, then the step retried with the good one
            good = opt.param_groups[group]["params"][index].grad
            opt.param_groups[group]["params"][index].grad = np.zeros(7)
            with pytest.raises(ValueError, match="shape"):
                opt.step()
            opt.param_groups[group]["params"][index].grad = good
        opt.step()
        twin.step()
    for p, q in zip(params, twin_params):
        assert np.array_equal(p.data, q.data)
    assert_identical(_snapshot(params, opt)[1], _snapshot(twin_params, twin)[1])


def test_sgd_rejects_a_gradient_that_would_broadcast() -> None:
    w = st.tensor(np.zeros((2, 2)), requires_grad=True)
    w.grad = np.array([1.0, 100.0])
    with pytest.raises(
        ValueError,
        match=re.escape(
            "SGD.step (param group 0, parameter 0): the gradient has shape (2,) but the "
            "parameter has shape (2, 2)"
        ),
    ):
        SGD([w], lr=0.1).step()
    np.testing.assert_array_equal(w.data, np.zeros((2, 2)))


def test_adam_failing_on_the_second_parameter_leaves_the_first_untouched() -> None:
    a = st.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = st.tensor([[1.0], [2.0], [3.0]], requires_grad=True)
    opt = Adam([a, b], lr=0.1)
    a.grad = np.ones(3)
    b.grad = np.ones(3)  # (3,) for a (3, 1) parameter
    with pytest.raises(ValueError, match=r"parameter 1.*\(3,\).*\(3, 1\)"):
        opt.step()
    np.testing.assert_array_equal(a.data, [1.0, 2.0, 3.0])
    assert opt.state == {}  # no step counter, no moment buffers


def test_a_shape_error_is_the_engines_shape_mismatch_error() -> None:
    w = st.tensor(np.zeros(3), requires_grad=True)
    w.grad = np.zeros(4)
    with pytest.raises(st.ShapeMismatchError):
        SGD([w], lr=0.1).step()


# -- what is accepted -------------------------------------------------------------------
def _run(name: str, grad_of: Callable[[np.ndarray], Any]) -> list[np.ndarray]:
    """Three steps with the gradients ``grad_of`` makes from float64 values."""
    params, opt = _setup(name)
    for k in range(3):
        for i, p in enumerate(params):
            p.grad = grad_of(np.full(p.shape, float(1 + i - k)))
        opt.step()
    return [p.data for p in params]


@pytest.mark.parametrize("name", NAMES)
def test_integer_gradients_step_as_their_float_values(name: str) -> None:
    want = _run(name, lambda g: g)
    for dtype in (np.int64, np.int32, np.uint8):
        got = _run(name, lambda g, dtype=dtype: np.abs(g).astype(dtype) * np.sign(g).astype(int))
        for p, q in zip(got, want):
            assert p.dtype == np.float64
            assert np.array_equal(p, q), dtype


@pytest.mark.parametrize("name", NAMES)
def test_tensor_and_float32_gradients_are_accepted(name: str) -> None:
    want = _run(name, lambda g: g)
    for got in (_run(name, st.tensor), _run(name, lambda g: g.astype(np.float32))):
        for p, q in zip(got, want):
            assert p.dtype == np.float64
            np.testing.assert_allclose(p, q, rtol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_a_numpy_scalar_gradient_of_a_0d_parameter_is_accepted(name: str) -> None:
    """Two backward passes into a 0-d leaf leave a numpy scalar (0-d + 0-d) in .grad."""
    s = st.tensor(1.5, requires_grad=True)
    twin = st.tensor(1.5, requires_grad=True)
    (s * s).backward()
    (s * s).backward()
    assert isinstance(s.grad, np.generic)
    twin.grad = np.array(6.0)
    opt, opt_twin = FACTORIES[name]([s]), FACTORIES[name]([twin])
    opt.step()
    opt_twin.step()
    assert s.data.shape == ()
    assert np.array_equal(s.data, twin.data)
