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
