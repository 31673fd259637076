"""A step writes the parameters in place: a graph recorded before it refuses its backward.

PyTorch's optimizers update each parameter in place (``param.add_(...)``), which moves
its version counter; a backward through a graph that saved the old values raises
instead of returning gradients of weights that no longer exist. sg's do the same.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import sg_tensor as st
from sg_optim import SGD, Adagrad, Adam, AdamW, RMSprop

OPTIMIZERS: list[tuple[type, dict[str, Any]]] = [
    (SGD, {"lr": 0.1}),
    (SGD, {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01}),
    (Adam, {"lr": 0.01}),
    (AdamW, {"lr": 0.01}),
    (RMSprop, {"lr": 0.01, "momentum": 0.5}),
    (Adagrad, {"lr": 0.1}),
]


def _weights() -> st.Tensor:
    return st.tensor(np.array([0.5, -1.5, 2.0]), requires_grad=True)


@pytest.mark.parametrize(("optimizer", "options"), OPTIMIZERS)
def test_a_graph_recorded_before_a_step_refuses_its_backward(
    optimizer: type, options: Any
) -> None:
    w = _weights()
    opt = optimizer([w], **options)
    (w * w).sum().backward()
    stale = (w * w).sum()  # reads w as it is now
    opt.step()  # w changes in place
    before = w.grad.copy()
    with pytest.raises(RuntimeError, match=r"mul: its input \d \(shape \(3,\)\) was modified"):
        stale.backward()
    np.testing.assert_array_equal(w.grad, before)  # the refused pass changed nothing


@pytest.mark.parametrize(("optimizer", "options"), OPTIMIZERS)
def test_the_usual_loop_and_graphs_recorded_after_a_step_are_untouched(
    optimizer: type, options: Any
) -> None:
    w = _weights()
    opt = optimizer([w], **options)
    for _ in range(3):
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        opt.step()
    after = (w * w).sum()
    opt.zero_grad()
    after.backward()
    np.testing.assert_array_equal(w.grad, 2 * w.data)


def test_a_graph_that_reads_no_stepped_parameter_still_runs() -> None:
    # two optimizers, as a GAN's: stepping one leaves the other's graphs usable
    a, b = _weights(), _weights()
    opt_a = SGD([a], lr=0.1)
    (a * a).sum().backward()
    only_b = (b * 3.0).sum()
    opt_a.step()
    only_b.backward()
    np.testing.assert_array_equal(b.grad, np.full(3, 3.0))


def test_a_parameter_without_a_gradient_is_not_written_and_its_graphs_run() -> None:
    a, b = _weights(), _weights()
    opt = SGD([a, b], lr=0.1)
    (a * a).sum().backward()  # b has no gradient: the step leaves it alone
    reads_b = (b * b).sum()
    opt.step()
    reads_b.backward()
    np.testing.assert_array_equal(b.grad, 2 * b.data)


def _runs_after_step(make_loss: Any) -> st.Tensor:
    w = _weights()
    opt = SGD([w], lr=0.1)
    (w * w).sum().backward()
    loss = make_loss(w)
    opt.step()
    w.grad = None
    loss.backward()
    return w


@pytest.mark.parametrize(
    "make_loss",
    [
        lambda w: w.exp().sum(),  # exp's rule reads its output, not w
        lambda w: w.tanh().sum(),
        lambda w: (w * 2.0).sum(),  # w's gradient reads the constant, not w
        lambda w: w.sum(),
        lambda w: (st.tensor(np.ones((2, 3))) @ w).sum(),  # only w requires grad
        lambda w: st.linear(st.tensor(np.ones((4, 3))), w.reshape(1, 3)).sum(),
    ],
)
def test_a_graph_whose_rules_never_read_the_stepped_values_runs_as_in_pytorch(
    make_loss: Any,
) -> None:
    w = _runs_after_step(make_loss)
    assert w.grad is not None


def test_grad_and_backward_inputs_check_only_the_rules_they_run() -> None:
    w, b = _weights(), _weights()
    opt = SGD([w], lr=0.1)
    (w * w).sum().backward()
    loss = (w * w).sum() + (b * b).sum()
    opt.step()
    with pytest.raises(RuntimeError, match="mul: its input 0"):
        st.grad(loss, [w])  # refused before anything runs: the graph is intact
    (gb,) = st.grad(loss, [b], retain_graph=True)
    np.testing.assert_array_equal(gb.data, 2 * b.data)
    loss.backward(inputs=[b])
    np.testing.assert_array_equal(b.grad, 2 * b.data)


def test_a_refused_backward_of_several_tensors_changes_no_gradient() -> None:
    w, b = _weights(), _weights()
    opt = SGD([w], lr=0.1)
    (w * w).sum().backward()
    stale = (w * w * b).sum()
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        st.autograd.backward([(b * 2.0).sum(), stale])
    assert b.grad is None  # the first tensor's pass did not run either


@pytest.mark.parametrize("hook", [None, "settrace", "setprofile"])
def test_a_view_of_a_stepped_parameter_in_a_graph_is_refused(hook: str | None) -> None:
    # the view shares the parameter's memory: the step's write is seen through it too
    import sys

    w = _weights()
    opt = SGD([w], lr=0.1)
    (w * w).sum().backward()
    view = w.detach()[:2].requires_grad_()  # another tensor over w's memory
    stale = (view * view).sum()
    if hook is not None:
        getattr(sys, hook)(lambda *args: None)
    try:
        opt.step()
    finally:
        if hook is not None:
            getattr(sys, hook)(None)
    with pytest.raises(RuntimeError, match=r"mul: its input 0 .* was modified"):
        stale.backward()
