"""Elementwise operators: forward values against numpy, conventions at kinks and domain edges.

The pytest configuration turns warnings into errors, so every test here also checks
that no numpy RuntimeWarning escapes (log 0, x / 0, sqrt of a negative, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import sg_tensor as st
from sg_tensor import Tensor

R = np.random.default_rng(7)
A = R.standard_normal((2, 3))
B = R.standard_normal((3,))
P = R.uniform(0.5, 2.0, (2, 3))

BINARY_FORWARD: list[tuple[str, Callable[[Any, Any], Any], Callable[[Any, Any], Any]]] = [
    ("add", lambda a, b: a + b, np.add),
    ("sub", lambda a, b: a - b, np.subtract),
    ("mul", lambda a, b: a * b, np.multiply),
    ("div", lambda a, b: a / b, np.divide),
    ("maximum", lambda a, b: a.maximum(b), np.maximum),
    ("minimum", lambda a, b: a.minimum(b), np.minimum),
]


@pytest.mark.parametrize(("name", "sg", "ref"), BINARY_FORWARD, ids=[b[0] for b in BINARY_FORWARD])
def test_binary_forward_matches_numpy(name: str, sg: Any, ref: Any) -> None:
    out = sg(Tensor(A), Tensor(B))
    assert isinstance(out, Tensor)
    assert out.shape == (2, 3)
    np.testing.assert_array_equal(out.data, ref(A, B))
    functional = getattr(st, name)(A, Tensor(B))  # the functional form takes arrays too
    np.testing.assert_array_equal(functional.data, ref(A, B))


def test_pow_forward_matches_numpy() -> None:
    np.testing.assert_array_equal((Tensor(P) ** Tensor(B)).data, np.power(P, B))
    np.testing.assert_array_equal((Tensor(P) ** 2.5).data, np.power(P, 2.5))
    np.testing.assert_array_equal((2.0 ** Tensor(B)).data, np.power(2.0, B))
    np.testing.assert_array_equal(st.pow(P, Tensor(B)).data, np.power(P, B))
    np.testing.assert_array_equal(Tensor(P).pow(3).data, P**3)


def test_operator_names_are_recorded() -> None:
    x = Tensor(P, requires_grad=True)
    assert (x + 1).op == "add"
    assert (1 - x).op == "sub"
    assert (x * x).op == "mul"
    assert (2 / x).op == "div"
    assert (x**2).op == "pow_scalar"
    assert (x**x).op == "pow"
    assert (2**x).op == "pow"
    assert (-x).op == "neg"
    assert x.op == ""


UNARY_FORWARD = [
    ("neg", lambda t: -t, np.negative, A),
    ("exp", lambda t: t.exp(), np.exp, A),
    ("log", lambda t: t.log(), np.log, P),
    ("sqrt", lambda t: t.sqrt(), np.sqrt, P),
    ("abs", lambda t: t.abs(), np.abs, A),
    ("sin", lambda t: t.sin(), np.sin, A),
    ("cos", lambda t: t.cos(), np.cos, A),
]


@pytest.mark.parametrize(
    ("name", "sg", "ref", "x"), UNARY_FORWARD, ids=[u[0] for u in UNARY_FORWARD]
)
def test_unary_forward_matches_numpy(name: str, sg: Any, ref: Any, x: np.ndarray) -> None:
    out = sg(Tensor(x))
    np.testing.assert_allclose(out.data, ref(x), rtol=1e-15, atol=0)
    np.testing.assert_allclose(getattr(st, name)(x).data, ref(x), rtol=1e-15, atol=0)


def test_unary_gradients_have_the_textbook_values() -> None:
    x = Tensor(P, requires_grad=True)
    (x.exp() + x.log() + x.sqrt() + x.sin() + x.cos() + x**3).sum().backward()
    expected = np.exp(P) + 1 / P + 0.5 / np.sqrt(P) + np.cos(P) - np.sin(P) + 3 * P**2
    np.testing.assert_allclose(x.grad, expected, rtol=1e-14)


def test_binary_gradients_have_the_textbook_values() -> None:
    a, b = Tensor(P, requires_grad=True), Tensor(P[::-1].copy(), requires_grad=True)
    (a * b + a / b - b + a**b).sum().backward()
    pa, pb = P, P[::-1]
    np.testing.assert_allclose(a.grad, pb + 1 / pb + pb * pa ** (pb - 1), rtol=1e-14)
    np.testing.assert_allclose(b.grad, pa - pa / pb**2 - 1 + pa**pb * np.log(pa), rtol=1e-14)


# ---------------------------------------------------------------------------------------
# Kinks: PyTorch's conventions
# ---------------------------------------------------------------------------------------
def test_abs_derivative_at_zero_is_zero() -> None:
    x = Tensor([-2.0, 0.0, 3.0], requires_grad=True)
    x.abs().sum().backward()
    np.testing.assert_array_equal(x.grad, [-1.0, 0.0, 1.0])


def test_maximum_and_minimum_ties_split_the_gradient() -> None:
    a = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = Tensor([2.0, 2.0, 2.0], requires_grad=True)
    out = a.maximum(b)
    np.testing.assert_array_equal(out.data, [2.0, 2.0, 3.0])
    out.sum().backward()
    np.testing.assert_array_equal(a.grad, [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(b.grad, [1.0, 0.5, 0.0])

    a.grad = b.grad = None
    out = a.minimum(b)
    np.testing.assert_array_equal(out.data, [1.0, 2.0, 2.0])
    out.backward(np.array([10.0, 10.0, 10.0]))
    np.testing.assert_array_equal(a.grad, [10.0, 5.0, 0.0])
    np.testing.assert_array_equal(b.grad, [0.0, 5.0, 10.0])


def test_maximum_tie_with_a_broadcast_operand_adds_the_halves() -> None:
    a = Tensor([[1.0, 2.0], [2.0, 2.0]], requires_grad=True)
    b = Tensor([2.0], requires_grad=True)
    a.maximum(b).sum().backward()
    np.testing.assert_array_equal(a.grad, [[0.0, 0.5], [0.5, 0.5]])
    np.testing.assert_array_equal(b.grad, [2.5])  # 1 + 0.5 + 0.5 + 0.5


def test_clip_passes_the_gradient_at_the_bounds() -> None:
    x = Tensor([-2.0, -1.0, 0.0, 1.0, 2.0], requires_grad=True)
    out = x.clip(-1.0, 1.0)
    np.testing.assert_array_equal(out.data, [-1.0, -1.0, 0.0, 1.0, 1.0])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 1.0, 1.0, 0.0])


def test_clip_with_one_bound() -> None:
    x = Tensor([-2.0, 0.0, 2.0], requires_grad=True)
    np.testing.assert_array_equal(x.clip(min=0.0).data, [0.0, 0.0, 2.0])
    np.testing.assert_array_equal(st.clip(x, max=0.0).data, [-2.0, 0.0, 0.0])
    x.clip(min=0.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 1.0])
    x.grad = None
    x.clip(max=0.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0, 0.0])


def test_clip_needs_a_bound() -> None:
    with pytest.raises(ValueError, match="clip: give at least one of min and max"):
        Tensor([1.0]).clip()


def test_clamp_with_min_above_max_gives_max_as_pytorch_and_numpy() -> None:
    """Regression: sg raised where PyTorch's clamp (and numpy's clip) give max."""
    x = Tensor([-3.0, 1.5, 4.0], requires_grad=True)
    out = x.clamp(2.0, 1.0)
    np.testing.assert_array_equal(out.data, [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(np.clip(x, 2.0, 1.0).data, np.clip(x.data, 2.0, 1.0))
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(st.clamp(x, min=0.0).data, [0.0, 1.5, 4.0])


def test_pow_scalar_zero_has_zero_gradient_even_at_zero() -> None:
    x = Tensor([0.0, 2.0, -3.0], requires_grad=True)
    out = x**0
    np.testing.assert_array_equal(out.data, [1.0, 1.0, 1.0])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0])


def test_pow_gradients_at_zero_base_follow_pytorch() -> None:
    x = Tensor([0.0, 0.0, 2.0], requires_grad=True)
    y = Tensor([0.0, 2.0, 3.0], requires_grad=True)
    out = x**y
    np.testing.assert_array_equal(out.data, [1.0, 0.0, 8.0])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 12.0])
    np.testing.assert_allclose(y.grad, [0.0, 0.0, 8.0 * np.log(2.0)], rtol=1e-15)


# ---------------------------------------------------------------------------------------
# Domain edges: IEEE results, no warnings
# ---------------------------------------------------------------------------------------
def test_log_of_zero_is_minus_infinity_without_a_warning() -> None:
    x = Tensor([0.0, 1.0], requires_grad=True)
    out = x.log()
    assert out.data[0] == -np.inf
    assert out.data[1] == 0.0
    out.backward(np.ones(2))
    assert x.grad[0] == np.inf
    assert x.grad[1] == 1.0


def test_log_of_a_negative_number_is_nan_without_a_warning() -> None:
    assert np.isnan(Tensor([-1.0]).log().data[0])
    assert np.isnan(Tensor([-1.0]).sqrt().data[0])


def test_division_by_zero_is_infinite_without_a_warning() -> None:
    a = Tensor([1.0, -1.0, 0.0], requires_grad=True)
    out = a / 0.0
    assert out.data[0] == np.inf
    assert out.data[1] == -np.inf
    assert np.isnan(out.data[2])
    out.backward(np.ones(3))
    assert np.all(np.isinf(a.grad))


def test_sqrt_of_zero_has_an_infinite_gradient_without_a_warning() -> None:
    x = Tensor([0.0, 4.0], requires_grad=True)
    x.sqrt().backward(np.ones(2))
    np.testing.assert_array_equal(x.grad, [np.inf, 0.25])


def test_exp_overflow_is_inf_without_a_warning() -> None:
    # IEEE result as in PyTorch, like log(0) and x / 0 (the forwards wrapped in ``quiet``)
    x = Tensor([1000.0, 0.0], requires_grad=True)
    out = x.exp()
    assert out.data[0] == np.inf
    assert out.data[1] == 1.0
    out.backward(np.ones(2))
    assert x.grad[0] == np.inf


def test_astype_converts_forward_and_gradient_back() -> None:
    x = Tensor(np.array([1.5, 2.5]), requires_grad=True)
    y = x.astype(np.float32)
    assert y.dtype == np.float32
    assert y.op == "astype"
    (y * 2.0).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])
    assert x.astype(np.float64) is x  # no conversion, no node
