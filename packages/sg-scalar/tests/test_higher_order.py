"""create_graph=True: gradients are Values that can be differentiated again."""

from __future__ import annotations

import math

from scalar_helpers import close

from sg_scalar import Value


def first_derivative(x: Value, out: Value, **kwargs: bool) -> Value:
    """Backward with create_graph; return dout/dx as a Value and clear x.grad."""
    out.backward(create_graph=True, **kwargs)
    first = x.grad
    assert isinstance(first, Value)
    assert first.requires_grad
    x.grad = 0.0
    return first


def test_second_derivative_of_cube() -> None:
    x = Value(2.0)
    first = first_derivative(x, x**3)
    assert first.data == 12.0  # 3 x^2
    first.backward()
    assert x.grad == 12.0  # 6 x


def test_second_derivative_of_sin_is_minus_sin() -> None:
    x = Value(0.7)
    first = first_derivative(x, x.sin())
    assert close(first.data, math.cos(0.7), atol=0, rtol=1e-15)
    first.backward()
    assert close(x.grad, -math.sin(0.7), atol=0, rtol=1e-15)


def test_create_graph_retains_the_graph_by_default() -> None:
    # As in PyTorch, retain_graph defaults to create_graph: the gradient of exp is
    # built from exp's own output node, so that node must survive the first pass.
    x = Value(0.5)
    first = first_derivative(x, x.exp())
    first.backward()
    assert close(x.grad, math.exp(0.5), atol=0, rtol=1e-15)


def test_second_derivative_of_tanh_with_retained_graph() -> None:
    x = Value(0.4)
    first = first_derivative(x, x.tanh(), retain_graph=True)
    t = math.tanh(0.4)
    assert close(first.data, 1.0 - t * t, atol=0, rtol=1e-14)
    first.backward()
    assert close(x.grad, -2.0 * t * (1.0 - t * t), atol=0, rtol=1e-13)


def test_third_derivative_of_x_exp_x() -> None:
    x = Value(0.3)
    first = first_derivative(x, x * x.exp(), retain_graph=True)  # (1 + x) e^x
    second = first_derivative(x, first, retain_graph=True)  # (2 + x) e^x
    assert close(first.data, 1.3 * math.exp(0.3), atol=0, rtol=1e-14)
    assert close(second.data, 2.3 * math.exp(0.3), atol=0, rtol=1e-14)
    second.backward()
    assert close(x.grad, 3.3 * math.exp(0.3), atol=0, rtol=1e-14)


def test_mixed_partial() -> None:
    x, y = Value(1.5), Value(-0.5)
    out = x * x * y  # d/dx = 2xy
    out.backward(create_graph=True)
    dx = x.grad
    x.grad, y.grad = 0.0, 0.0
    dx.backward()
    assert y.grad == 3.0  # d(2xy)/dy = 2x
    assert x.grad == -1.0  # d(2xy)/dx = 2y
