"""Higher-order gradients of Tensors: ``grad``, ``hvp``, ``jacobian``, ``hessian``.

The first part checks the API of ``sg_tensor.grad`` (shapes, dtypes, seeds, errors,
graph release); the second checks ``hvp``, ``jacobian`` and ``hessian`` against analytic
results and finite differences; the third runs a second-order check over every case of
``test_gradcheck.py``: with a random cotangent ``v`` and weights ``w``, the gradient of
``phi(x, v) = <grad(f)(x, v), w>`` with respect to ``x`` and ``v`` (two reverse passes,
the first with ``create_graph=True``) must match central differences of ``phi``
computed with the ordinary first-order path.
"""

from __future__ import annotations

import gc
import math
import tracemalloc
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pytest
from tensor_helpers import gradcheck, graph_ops
from test_gradcheck import EXAMPLES

import sg_tensor as st
from sg_scalar.examples import Example
from sg_scalar.graph import Op
from sg_tensor import (
    OPS,
    GraphReleasedError,
    NotTwiceDifferentiableError,
    ShapeMismatchError,
    Tensor,
    is_grad_enabled,
    no_grad,
)
from sg_tensor.op import data

RNG = np.random.default_rng(20261126)


def leaf(*shape: int, dtype: Any = np.float64) -> Tensor:
    return Tensor(RNG.standard_normal(shape).astype(dtype), requires_grad=True)


def assert_close(actual: Any, expected: Any, rtol: float = 1e-12, atol: float = 1e-12) -> None:
    actual = np.asarray(actual.data if isinstance(actual, Tensor) else actual)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


# =======================================================================================
# sg_tensor.grad: what it returns
# =======================================================================================
def test_returns_one_tensor_per_input_with_its_shape() -> None:
    x, b, s = leaf(2, 3), leaf(3), leaf()
    out = ((x + b) * s).tanh().sum()
    result = st.grad(out, [x, b, s])
    assert isinstance(result, tuple)
    assert [type(g) for g in result] == [Tensor, Tensor, Tensor]
    assert [g.shape for g in result] == [(2, 3), (3,), ()]
    assert all(not g.requires_grad and g.is_leaf for g in result)
    t = np.tanh((x.data + b.data) * s.data)
    d = 1 - t * t
    assert_close(result[0], d * s.data)
    assert_close(result[1], (d * s.data).sum(axis=0))
    assert_close(result[2], (d * (x.data + b.data)).sum())
    (gx,) = st.grad(((x + b) * s).tanh().sum(), x)  # a single input: still a tuple
    assert_close(gx, result[0])


def test_grad_matches_backward() -> None:
    def f(x: Tensor, w: Tensor) -> Tensor:
        h = (x @ w).tanh()
        return (h.softmax(axis=1) * h + x[:, :1].exp()).sum() + w.abs().max()

    x, w = leaf(3, 4), leaf(4, 2)
    gx, gw = st.grad(f(x, w), [x, w])
    xb, wb = Tensor(x.data, requires_grad=True), Tensor(w.data, requires_grad=True)
    f(xb, wb).backward()
    np.testing.assert_array_equal(gx.data, xb.grad)
    np.testing.assert_array_equal(gw.data, wb.grad)


def test_several_outputs_with_grad_outputs_of_every_kind() -> None:
    x = leaf(2, 3)
    a, b, c = x.sum(axis=0), (x * x).sum(), x.exp()
    va = np.array([1.0, -2.0, 0.5])
    vc = Tensor(RNG.standard_normal((2, 3)))
    (g,) = st.grad([a, b, c], x, [va, None, vc], retain_graph=True)
    assert_close(g, va[None, :] + 2 * x.data + np.exp(x.data) * vc.data)
    (g2,) = st.grad([a, b, c], x, (va.tolist(), 3.0, vc.data))  # lists and numbers too
    assert_close(g2, va[None, :] + 6 * x.data + np.exp(x.data) * vc.data)


@pytest.mark.parametrize(
    "seed",
    [
        pytest.param(lambda v: v, id="array"),
        pytest.param(lambda v: Tensor(v), id="tensor"),
        pytest.param(lambda v: [v], id="list-of-array"),
        pytest.param(lambda v: [v.tolist()], id="list-of-list"),
        pytest.param(lambda v: (Tensor(v, requires_grad=True),), id="tensor-requiring-grad"),
    ],
)
def test_a_single_grad_output(seed: Callable[[np.ndarray], Any]) -> None:
    x = leaf(2, 3)
    v = RNG.standard_normal((2, 3))
    (g,) = st.grad(x.sin(), x, seed(v))
    assert_close(g, np.cos(x.data) * v)
    assert not g.requires_grad  # no create_graph: a plain result even for a graph seed


def test_results_own_their_data() -> None:
    x = leaf(2, 3)
    v = RNG.standard_normal((2, 3))
    kept = v.copy()
    for out in (x, x * 1.0, x + 0.0):
        (g,) = st.grad(out, x, v)
        assert not np.shares_memory(g.data, v)
        g.data += 1.0
        np.testing.assert_array_equal(v, kept)
    y = x * 2.0
    gs = st.grad([y, y], [x, x], [v, v])
    assert not np.shares_memory(gs[0].data, gs[1].data)  # the same input twice: two arrays


def test_grad_leaves_every_grad_untouched() -> None:
    x, w = leaf(2, 3), leaf(3)
    w.grad = np.full(3, 7.0)
    out = ((x * w).exp() * w).sum()
    st.grad(out, [x, w], retain_graph=True)
    (gx,) = st.grad(out, x, create_graph=True)
    st.grad(gx.sum(), [x, w])
    assert x.grad is None
    np.testing.assert_array_equal(w.grad, np.full(3, 7.0))


def test_empty_outputs_or_inputs_are_a_value_error() -> None:
    x = leaf(2)
    with pytest.raises(ValueError, match=r"grad\(\): inputs is empty"):
        st.grad(x.sum(), [])
    with pytest.raises(ValueError, match=r"grad\(\): outputs is empty"):
        st.grad([], x)


def test_a_number_where_tensors_belong_is_a_type_error() -> None:
    x = leaf(2)
    with pytest.raises(TypeError, match="outputs must be a Tensor or a sequence of Tensors"):
        st.grad(1.0, x)


def test_a_number_seeds_a_one_element_output() -> None:
    x = st.tensor(2.0, requires_grad=True)
    (g,) = st.grad(x * x, x, 3.0)
    assert g.data == 12.0


# -- dtypes ----------------------------------------------------------------------------
def test_float32_stays_float32_to_every_order() -> None:
    x = leaf(3, dtype=np.float32)
    out = (x**3).sum()
    (g,) = st.grad(out, x, create_graph=True)
    assert g.dtype == np.float32
    assert g.requires_grad
    (h,) = st.grad(g.sum(), x, create_graph=True)
    assert h.dtype == np.float32
    (t,) = st.grad(h.sum(), x)
    assert t.dtype == np.float32
    assert_close(g, 3 * x.data.astype(np.float64) ** 2, rtol=1e-6)
    assert_close(h, 6 * x.data.astype(np.float64), rtol=1e-6)
    assert_close(t, np.full(3, 6.0), rtol=1e-6)


def test_float64_seeds_of_a_float32_output_give_float32_gradients() -> None:
    x = leaf(3, dtype=np.float32)
    v = np.array([1.0, -1.0, 2.0])  # float64
    (g,) = st.grad(x.sin(), x, v, retain_graph=True)
    assert g.dtype == np.float32
    seed = Tensor(v, requires_grad=True)
    (g,) = st.grad(x.sin() * 2.0, x, seed, create_graph=True)
    assert g.dtype == np.float32
    (gv,) = st.grad((g * g).sum(), seed)  # d/dv sum((2 cos(x) v)^2) = 8 cos^2(x) v
    assert gv.dtype == np.float64  # the seed's own dtype
    assert_close(gv, 8 * np.cos(x.data.astype(np.float64)) ** 2 * v, rtol=1e-6)


def test_hvp_jacobian_hessian_keep_float32() -> None:
    x = RNG.standard_normal(3).astype(np.float32)
    value, hv = st.hvp(lambda t: (t**3).sum(), x, np.ones(3))
    assert (value.dtype, hv.dtype) == (np.float32, np.float32)
    assert st.jacobian(lambda t: t.sin(), x).dtype == np.float32
    assert st.hessian(lambda t: (t**3).sum(), x).dtype == np.float32
    assert_close(hv, 6 * x.astype(np.float64), rtol=1e-6)


# -- argument errors -------------------------------------------------------------------
def test_omitted_grad_outputs_need_a_one_element_output() -> None:
    x = leaf(2, 3)
    with pytest.raises(RuntimeError, match=r"outputs\[0\] has shape \(2, 3\)"):
        st.grad(x * 2, x)
    with pytest.raises(RuntimeError, match=r"grad_outputs\[1\] can be omitted only"):
        st.grad([x.sum(), x * 2], x, [None, None])
    (g,) = st.grad((x * x).sum().reshape(1, 1), x)  # one element, not 0-d: fine
    assert_close(g, 2 * x.data)


@pytest.mark.parametrize(
    ("seed", "shape"),
    [
        pytest.param(np.ones(2), r"\(2,\)", id="array"),
        pytest.param(Tensor(np.ones((3, 2))), r"\(3, 2\)", id="tensor-transposed"),
        pytest.param(np.ones((1, 2, 3)), r"\(1, 2, 3\)", id="extra-axis"),
        pytest.param(np.array(1.0), r"\(\)", id="0d-array"),
        pytest.param([np.ones(3)], r"\(3,\)", id="broadcastable"),
    ],
)
def test_wrong_grad_output_shape_is_a_value_error_naming_both_shapes(
    seed: Any, shape: str
) -> None:
    x = leaf(2, 3)
    message = rf"grad_outputs\[0\] has shape {shape} but outputs\[0\] has shape \(2, 3\)"
    with pytest.raises(ValueError, match=message):
        st.grad(x * 2, x, seed)


def test_wrong_grad_output_shape_with_create_graph() -> None:
    x = leaf(2, 3)
    with pytest.raises(ValueError, match=r"has shape \(3,\) but outputs\[0\] has shape \(2, 3\)"):
        st.grad(x * 2, x, Tensor(np.ones(3), requires_grad=True), create_graph=True)


@pytest.mark.parametrize(
    ("n_outputs", "seeds", "given"),
    [(1, [np.ones(3), np.ones(3)], 2), (2, [np.ones(3)], 1), (2, np.ones(3), 1), (1, (), 0)],
)
def test_grad_outputs_count_mismatch_is_a_value_error(
    n_outputs: int, seeds: Any, given: int
) -> None:
    x = leaf(3)
    outs = [x * 2 for _ in range(n_outputs)]
    with pytest.raises(ValueError, match=rf"got {given} grad_outputs for {n_outputs} outputs"):
        st.grad(outs, x, seeds)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        pytest.param(
            lambda x, y: st.grad(y, [x, x.data]), r"inputs\[1\] must be a Tensor, got ndarray"
        ),
        pytest.param(
            lambda x, y: st.grad([y, 1.0], x), r"outputs\[1\] must be a Tensor, got float"
        ),
        pytest.param(lambda x, y: st.grad(y, x, [object()]), None, id="seed-object"),
        pytest.param(lambda x, y: st.grad(y.data, x), None, id="output-array"),
        pytest.param(lambda x, y: st.grad(y, 1.0), None, id="input-float"),
    ],
)
def test_wrong_types_raise_type_error(call: Callable[[Tensor, Tensor], Any], match: Any) -> None:
    x = leaf(3)
    y = (x * x).sum()
    with pytest.raises(TypeError, match=match):
        call(x, y)


def test_output_or_input_not_requiring_grad_is_a_clear_error() -> None:
    x, c = leaf(3), Tensor(np.ones(3))
    with pytest.raises(RuntimeError, match=r"outputs\[0\] does not require grad"):
        st.grad((c * c).sum(), x)
    with no_grad():
        y = (x * x).sum()
    with pytest.raises(RuntimeError, match=r"outputs\[0\] does not require grad.*no_grad"):
        st.grad(y, x)
    with pytest.raises(RuntimeError, match=r"inputs\[1\] does not require grad"):
        st.grad((x * c).sum(), [x, c])


def test_unused_input_is_an_error_naming_it_and_its_shape() -> None:
    x, y, z = leaf(3), leaf(2), leaf(4)
    with pytest.raises(RuntimeError, match=r"inputs\[1\] \(shape \(2,\)\) is not used"):
        st.grad((x * z[:3]).sum(), [x, y, z])
    gx, gy, gz = st.grad((x * z[:3]).sum(), [x, y, z], allow_unused=True)
    assert gy is None
    assert_close(gx, z.data[:3])
    assert_close(gz, np.concatenate([x.data, [0.0]]))


# -- graph release, pending gradients, non-leaf inputs ---------------------------------
def test_second_grad_after_release_raises_graph_released_error() -> None:
    x = leaf(3)
    y = (x.exp() * x).sum()
    st.grad(y, x)
    with pytest.raises(GraphReleasedError):
        st.grad(y, x)
    with pytest.raises(GraphReleasedError):
        st.grad(y, x, allow_unused=True)  # never a silent None
    with pytest.raises(GraphReleasedError):
        y.backward()


def test_retain_graph_true_allows_repeated_calls_and_a_later_backward() -> None:
    x, w = leaf(2, 3), leaf(3)
    y = ((x * w).tanh() * w).sum()
    first = st.grad(y, [x, w], retain_graph=True)
    second = st.grad(y, [x, w], retain_graph=True)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.data, b.data)
    y.backward()
    np.testing.assert_array_equal(x.grad, first[0].data)
    np.testing.assert_array_equal(w.grad, first[1].data)


def test_create_graph_retains_the_graph_unless_told_otherwise() -> None:
    x = leaf(3)
    y = x.exp().sum()
    st.grad(y, x, create_graph=True)
    st.grad(y, x)  # still there
    (g,) = st.grad(x.exp().sum(), x, create_graph=True, retain_graph=False)
    with pytest.raises(GraphReleasedError):  # exp's rule needs its freed output node
        st.grad(g.sum(), x)


def test_no_pending_gradient_is_left_behind() -> None:
    x, w = leaf(2, 3), leaf(3)
    h = x * w
    out = (h.tanh() * w + h).sum()
    st.grad(out, x, retain_graph=True)  # mul also sends a gradient to w, off the path
    st.grad(out, h, retain_graph=True)
    from sg_scalar.graph import topological_order

    assert all(node._pending is None for node in topological_order(out))
    out.backward()
    xr, wr = Tensor(x.data, requires_grad=True), Tensor(w.data, requires_grad=True)
    hr = xr * wr
    (hr.tanh() * wr + hr).sum().backward()
    np.testing.assert_array_equal(x.grad, xr.grad)
    np.testing.assert_array_equal(w.grad, wr.grad)


def test_gradient_with_respect_to_an_intermediate() -> None:
    x = leaf(3)
    h = x.exp()
    out = (h.sin() * h).sum()
    gh, gx = st.grad(out, [h, x], retain_graph=True)
    assert_close(gh, np.cos(h.data) * h.data + np.sin(h.data))
    assert_close(gx, gh.data * h.data)
    (gh_only,) = st.grad(out, h)
    assert_close(gh_only, gh.data)
    (h * 2.0).sum().backward()  # the graph behind h was neither run nor freed
    assert_close(x.grad, 2 * np.exp(x.data))


# -- create_graph ----------------------------------------------------------------------
def test_create_graph_gives_differentiable_tensors_with_the_same_values() -> None:
    x = leaf(2, 3)
    out = (x.sin() * x).sum()
    (g,) = st.grad(out, x, create_graph=True)
    (plain,) = st.grad((x.sin() * x).sum(), x)
    assert g.requires_grad
    assert not g.is_leaf
    assert_close(g, plain.data, rtol=1e-15, atol=0)
    (h,) = st.grad(g.sum(), x)  # d/dx (sin x + x cos x) = 2 cos x - x sin x
    assert_close(h, 2 * np.cos(x.data) - x.data * np.sin(x.data))


def test_third_derivative() -> None:
    x = leaf(4)
    (g1,) = st.grad((x * x.exp()).sum(), x, create_graph=True)
    (g2,) = st.grad(g1.sum(), x, create_graph=True)
    (g3,) = st.grad(g2.sum(), x)
    for k, g in enumerate((g1, g2, g3), start=1):
        assert_close(g, (k + x.data) * np.exp(x.data))


def test_a_seed_that_requires_grad_gives_jacobian_vector_products() -> None:
    # d/dv <J^T v, u> = J u: forward-mode products from two reverse passes.
    x, w = leaf(3), RNG.standard_normal((2, 3))
    v = Tensor(np.zeros(2), requires_grad=True)
    u = RNG.standard_normal(3)
    (g,) = st.grad(w @ x.tanh(), x, v, create_graph=True)
    (jvp,) = st.grad((g * u).sum(), v)
    assert_close(jvp, w @ ((1 - np.tanh(x.data) ** 2) * u))


def test_create_graph_inside_no_grad_still_records_the_gradient_graph() -> None:
    x = leaf(3)
    y = (x**3).sum()
    with no_grad():
        (g,) = st.grad(y, x, create_graph=True)
        assert not is_grad_enabled()
        (plain,) = st.grad(y, x, retain_graph=True)
    assert g.requires_grad
    assert not plain.requires_grad
    (h,) = st.grad(g.sum(), x)
    assert_close(h, 6 * x.data)


def test_linear_functions_have_constant_gradients() -> None:
    x = leaf(2, 3)
    (g,) = st.grad((x * 3.0 + 1.0).sum(), x, create_graph=True)
    assert not g.requires_grad  # a constant: it needs no graph
    assert_close(g, np.full((2, 3), 3.0))


def test_getitem_rule_runs_on_nodes_through_scatter() -> None:
    x = leaf(3, 4)
    v = Tensor(RNG.standard_normal(3), requires_grad=True)
    (g,) = st.grad(x[:, 1].exp(), x, v, create_graph=True)
    assert "scatter" in graph_ops(g)


# -- NotTwiceDifferentiableError -------------------------------------------------------
def _black_box_sin_rule(g: Any, out: Any, x: Any) -> tuple[Any]:
    return (data(g) * np.cos(data(x)),)


# Not registered in OPS (which test_gradcheck requires to be covered): built directly.
_BLACK_BOX = Op("black_box_sin", np.sin, _black_box_sin_rule, twice_differentiable=False)
_RAW_SIN = Op("raw_sin", np.sin, _black_box_sin_rule)


def test_first_order_through_a_rule_on_raw_arrays_works() -> None:
    x = leaf(3)
    for op in (_BLACK_BOX, _RAW_SIN):
        (g,) = st.grad((x._apply1(op) * x).sum(), x)
        assert_close(g, np.sin(x.data) + x.data * np.cos(x.data))


def test_create_graph_through_an_op_declared_not_twice_differentiable_raises() -> None:
    x = leaf(3)
    with pytest.raises(NotTwiceDifferentiableError, match="black_box_sin"):
        st.grad(x._apply1(_BLACK_BOX).sum(), x, create_graph=True)
    with pytest.raises(NotTwiceDifferentiableError, match="black_box_sin"):
        st.hvp(lambda t: t._apply1(_BLACK_BOX).sum(), x, np.ones(3))
    with pytest.raises(NotTwiceDifferentiableError, match="black_box_sin"):
        st.hessian(lambda t: t._apply1(_BLACK_BOX).sum(), x)
    assert st.jacobian(lambda t: t._apply1(_BLACK_BOX), x).shape == (3, 3)  # first order
    assert is_grad_enabled()


def test_a_rule_returning_raw_arrays_is_refused_when_the_gradient_requires_grad() -> None:
    x = leaf(3)
    with pytest.raises(NotTwiceDifferentiableError, match=r"raw_sin.*constant \(ndarray\)"):
        st.grad((x._apply1(_RAW_SIN) * x).sum(), x, create_graph=True)
    with pytest.raises(NotTwiceDifferentiableError, match="raw_sin"):
        st.hvp(lambda t: (t._apply1(_RAW_SIN) * t).sum(), x, np.ones(3))


# =======================================================================================
# hvp, jacobian, hessian
# =======================================================================================
def fd_jacobian(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, h: float = 1e-6) -> Any:
    """Central differences of a numpy function: shape f(x).shape + x.shape."""
    out_shape = np.shape(f(x))
    jac = np.zeros(out_shape + x.shape)
    for idx in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[idx] += h
        down[idx] -= h
        jac[(Ellipsis, *idx)] = (np.asarray(f(up)) - np.asarray(f(down))) / (up[idx] - down[idx])
    return jac


def sg_value(f: Callable[[Tensor], Tensor]) -> Callable[[np.ndarray], np.ndarray]:
    def value(x: np.ndarray) -> np.ndarray:
        with no_grad():
            return f(Tensor(x)).data

    return value


def sg_gradient(f: Callable[[Tensor], Tensor]) -> Callable[[np.ndarray], np.ndarray]:
    """The first-order gradient of scalar f (the ordinary path) as a numpy function."""

    def gradient(x: np.ndarray) -> np.ndarray:
        t = Tensor(x.copy(), requires_grad=True)
        (g,) = st.grad(f(t), t, allow_unused=True)
        return np.zeros_like(x) if g is None else g.data

    return gradient


def test_quadratic_form() -> None:
    a = RNG.standard_normal((4, 4))  # not symmetric
    x, v = RNG.standard_normal(4), RNG.standard_normal(4)

    def f(t: Tensor) -> Tensor:
        return t @ (a @ t)

    value, hv = st.hvp(f, x, v)
    assert_close(value, x @ a @ x)
    assert_close(hv, (a + a.T) @ v)
    assert_close(st.hessian(f, x), a + a.T)
    assert_close(st.jacobian(f, x), (a + a.T) @ x)  # a scalar output: the gradient


def test_softmax_jacobian() -> None:
    x = RNG.standard_normal(5)
    s = np.exp(x - x.max())
    s /= s.sum()
    jac = st.jacobian(lambda t: t.softmax(), x)
    assert jac.shape == (5, 5)
    assert_close(jac, np.diag(s) - np.outer(s, s))
    assert_close(jac.data.sum(axis=0), np.zeros(5), atol=1e-15)


ELEMENTWISE = [
    pytest.param(lambda t: t.sin(), np.cos, lambda x: x, id="sin"),
    pytest.param(lambda t: t.exp(), np.exp, lambda x: x, id="exp"),
    pytest.param(lambda t: t.tanh(), lambda x: 1 - np.tanh(x) ** 2, lambda x: x, id="tanh"),
    pytest.param(lambda t: t**3, lambda x: 3 * x**2, lambda x: x, id="cube"),
    pytest.param(lambda t: t.log(), lambda x: 1 / x, np.abs, id="log"),
    pytest.param(lambda t: t.sqrt(), lambda x: 0.5 / np.sqrt(x), np.abs, id="sqrt"),
    pytest.param(
        lambda t: t.sigmoid(),
        lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2,
        lambda x: x,
        id="sigmoid",
    ),
    pytest.param(
        lambda t: t.erf(), lambda x: 2 / np.sqrt(np.pi) * np.exp(-x * x), lambda x: x, id="erf"
    ),
]


@pytest.mark.parametrize(("f", "df", "domain"), ELEMENTWISE)
def test_elementwise_functions_have_diagonal_jacobians(
    f: Callable[[Tensor], Tensor], df: Callable[[Any], Any], domain: Callable[[Any], Any]
) -> None:
    x = domain(RNG.standard_normal((2, 3))) + 0.1
    jac = st.jacobian(f, x)
    assert jac.shape == (2, 3, 2, 3)
    expected = np.diag(df(x).reshape(-1)).reshape(2, 3, 2, 3)
    assert_close(jac, expected)
    # and the Hessian of the sum is diagonal too, matching differences of the gradient
    hess = st.hessian(lambda t: f(t).sum(), x)
    fd = fd_jacobian(sg_gradient(lambda t: f(t).sum()), x)
    flat = hess.data.reshape(6, 6)
    assert_close(flat - np.diag(np.diag(flat)), np.zeros((6, 6)), atol=0)
    np.testing.assert_allclose(hess.data, fd, rtol=1e-5, atol=1e-5)


def test_matmul_jacobians() -> None:
    w = RNG.standard_normal((2, 3))
    assert_close(st.jacobian(lambda t: w @ t, RNG.standard_normal(3)), w)
    b = RNG.standard_normal((3, 4))
    jac = st.jacobian(lambda t: t @ b, RNG.standard_normal((2, 3)))
    assert jac.shape == (2, 4, 2, 3)
    expected = np.einsum("ik,jl->ijkl", np.eye(2), b.T)  # d (XB)_ij / d X_kl = d_ik B_lj
    assert_close(jac, expected)
    # the Hessian of a bilinear form in one matrix: sum(X @ B * X) -> B and its transpose
    x = RNG.standard_normal((3, 3))
    c = RNG.standard_normal((3, 3))
    hess = st.hessian(lambda t: (t @ c * t).sum(), x)
    expected = np.einsum("ik,lj->ijkl", np.eye(3), c) + np.einsum("ik,jl->ijkl", np.eye(3), c)
    assert_close(hess, expected)


SMALL_FUNCTIONS = [
    pytest.param(lambda t: (t.tanh() ** 2).sum() + t.logsumexp(), (4,), id="tanh-logsumexp"),
    pytest.param(lambda t: (t @ t.T).sin().sum(), (2, 3), id="gram-sin"),
    pytest.param(lambda t: t.softmax(axis=0)[1, 2] * t[0, 0], (3, 3), id="softmax-entry"),
    pytest.param(lambda t: t.gelu().mean() + t.softplus(beta=2.0).var(), (5,), id="gelu-softplus"),
    pytest.param(lambda t: (t.exp() / (1.0 + t * t)).sum(), (3,), id="ratio"),
    pytest.param(lambda t: t.log_softmax()[0] ** 2, (4,), id="log-softmax-square"),
    pytest.param(lambda t: t.std() * t.max(), (5,), id="std-max"),
]


@pytest.mark.parametrize(("f", "shape"), SMALL_FUNCTIONS)
def test_hessian_hvp_and_jacobian_against_finite_differences(
    f: Callable[[Tensor], Tensor], shape: tuple[int, ...]
) -> None:
    x = RNG.standard_normal(shape)
    hess = st.hessian(f, x)
    assert hess.shape == shape + shape
    fd = fd_jacobian(sg_gradient(f), x)
    np.testing.assert_allclose(hess.data, fd, rtol=1e-5, atol=1e-5)
    n = x.size
    flat = hess.data.reshape(n, n)
    assert_close(flat, flat.T, rtol=1e-10, atol=1e-12)  # symmetric
    v = RNG.standard_normal(shape)
    value, hv = st.hvp(f, x, v)
    assert_close(value, sg_value(f)(x))
    assert_close(hv, (flat @ v.reshape(-1)).reshape(shape), rtol=1e-10, atol=1e-12)
    jac = st.jacobian(f, x)
    assert jac.shape == shape
    np.testing.assert_allclose(jac.data, fd_jacobian(sg_value(f), x), rtol=1e-5, atol=1e-5)


def test_jacobian_shapes() -> None:
    assert st.jacobian(lambda t: t * 2.0, np.array(1.5)).shape == ()
    assert st.jacobian(lambda t: t.sum(), np.ones((2, 3))).shape == (2, 3)
    assert st.jacobian(lambda t: t[None, :] * 2.0, np.ones(3)).shape == (1, 3, 3)
    assert st.hessian(lambda t: t**3, np.array(2.0)).shape == ()
    assert st.hessian(lambda t: (t**3).sum(), np.ones((2, 2))).shape == (2, 2, 2, 2)
    assert st.hessian(lambda t: (t**3).sum().reshape(1), np.ones(2)).shape == (2, 2)


@pytest.mark.parametrize(
    "f",
    [
        pytest.param(lambda t: Tensor(np.array(2.0)), id="constant"),
        pytest.param(lambda t: t.detach().sum() + 2.0, id="detached"),
        pytest.param(lambda t: (t * 3.0).sum() + 2.0, id="linear"),
        pytest.param(lambda t: t.sum(), id="sum"),
        pytest.param(lambda t: t.relu().sum(), id="piecewise-linear"),
    ],
)
def test_functions_without_curvature_give_zeros(f: Callable[[Tensor], Tensor]) -> None:
    x = np.array([0.5, -1.5, 2.0])
    value, hv = st.hvp(f, x, np.ones(3))
    assert_close(value, sg_value(f)(x))
    np.testing.assert_array_equal(hv.data, np.zeros(3))
    np.testing.assert_array_equal(st.hessian(f, x).data, np.zeros((3, 3)))


def test_jacobian_of_a_function_that_does_not_depend_on_x_is_zero() -> None:
    jac = st.jacobian(lambda t: Tensor(np.ones((2, 2))), np.ones(3))
    assert jac.shape == (2, 2, 3)
    np.testing.assert_array_equal(jac.data, np.zeros((2, 2, 3)))
    jac = st.jacobian(lambda t: t[:2] * 0.0 + t.detach()[:2], np.ones(3))
    np.testing.assert_array_equal(jac.data, np.zeros((2, 3)))


def test_hvp_and_hessian_need_one_element_outputs() -> None:
    with pytest.raises(
        ValueError, match=r"hvp\(\): f must return one Tensor with one element, got \(3,\)"
    ):
        st.hvp(lambda t: t * t, np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match=r"hessian\(\).*got \(2, 3\)"):
        st.hessian(lambda t: t * t, np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"v has shape \(2,\) but the input has shape \(3,\)"):
        st.hvp(lambda t: t.sum(), np.ones(3), np.ones(2))
    with pytest.raises(ValueError, match=r"v can be omitted only for one input with one element"):
        st.hvp(lambda t: t.sum(), np.ones(3))
    with pytest.raises(ValueError, match=r"got 1 vectors v for 2 inputs"):
        st.hvp(lambda a, b: (a * b).sum(), (np.ones(3), np.ones(3)), (np.ones(3),))
    for fn in (st.hvp, st.hessian, st.jacobian):
        args = (np.ones(3),) if fn is not st.hvp else (np.ones(3), np.ones(3))
        with pytest.raises(TypeError, match="f must return a Tensor, got float"):
            fn(lambda t: 1.0, *args)  # type: ignore[operator]


def test_hvp_leaves_the_given_tensor_alone() -> None:
    x = Tensor(RNG.standard_normal(3), requires_grad=True)
    kept = x.data.copy()
    seen: list[Tensor] = []

    def f(t: Tensor) -> Tensor:
        seen.append(t)
        t.data[...] = t.data  # a function may touch its argument: it is a private copy
        return (t**3).sum()

    _, hv = st.hvp(f, x, np.ones(3))
    assert x.grad is None
    np.testing.assert_array_equal(x.data, kept)
    assert seen[0] is not x
    assert not np.shares_memory(seen[0].data, x.data)
    assert_close(hv, 6 * kept)
    assert not hv.requires_grad
    h = st.hessian(lambda t: (t**3).sum(), [1, 2])  # integer data becomes float64
    assert h.dtype == np.float64
    assert_close(h, np.diag([6.0, 12.0]))


# =======================================================================================
# erf, getitem with repeated indices
# =======================================================================================
def test_erf_matches_math_erf_and_its_derivatives() -> None:
    values = np.array([-6.0, -2.5, -1.0, -1e-8, 0.0, 1e-8, 0.3, 1.0, 2.5, 6.0])
    x = Tensor(values.copy(), requires_grad=True)
    y = x.erf()
    np.testing.assert_array_equal(y.data, [math.erf(v) for v in values])
    np.testing.assert_array_equal(st.erf(values).data, y.data)
    np.testing.assert_array_equal(st.erf(Tensor(values)).data, y.data)
    (g,) = st.grad(y.sum(), x, create_graph=True)
    density = 2 / math.sqrt(math.pi) * np.exp(-values * values)
    assert_close(g, density, rtol=1e-15, atol=0)
    (h,) = st.grad(g.sum(), x)
    assert_close(h, -2 * values * density, rtol=1e-14, atol=0)
    assert "erf" in OPS
    assert y.op == "erf"


def test_erf_edges_and_dtype() -> None:
    x = Tensor(np.array([-np.inf, np.inf, np.nan]), requires_grad=True)
    y = x.erf()
    np.testing.assert_array_equal(y.data, [-1.0, 1.0, np.nan])
    (g,) = st.grad(y, x, np.ones(3))
    np.testing.assert_array_equal(g.data, [0.0, 0.0, np.nan])
    x32 = Tensor(np.array([0.25, -0.5], dtype=np.float32), requires_grad=True)
    y32 = x32.erf()
    assert y32.dtype == np.float32
    (g32,) = st.grad(y32.sum(), x32)
    assert g32.dtype == np.float32
    assert_close(g32, 2 / math.sqrt(math.pi) * np.exp(-(x32.data.astype(np.float64) ** 2)), 1e-6)


def test_gelu_second_derivative() -> None:
    # d2/dx2 x Phi(x) = phi(x) (2 - x^2)
    x = RNG.standard_normal(5) * 2
    hess = st.hessian(lambda t: t.gelu().sum(), x)
    phi = np.exp(-x * x / 2) / math.sqrt(2 * math.pi)
    assert_close(hess, np.diag(phi * (2 - x * x)), rtol=1e-12, atol=1e-15)


def test_softplus_second_derivative_and_threshold() -> None:
    x = np.array([-2.0, -0.3, 0.4, 0.9, 3.0])
    beta = 2.0
    hess = st.hessian(lambda t: t.softplus(beta=beta, threshold=2.0).sum(), x)
    s = 1 / (1 + np.exp(-beta * x))
    expected = np.where(beta * x > 2.0, 0.0, beta * s * (1 - s))  # linear above threshold
    assert_close(hess, np.diag(expected))


REPEATED = np.array([0, 2, 0, 0])


def test_getitem_with_repeated_indices_second_order_in_v() -> None:
    # f(x) = x[idx]**2: grad = scatter-add(2 x[idx] v); phi = <grad, w>
    x = leaf(4)
    v = Tensor(RNG.standard_normal(4), requires_grad=True)
    w = RNG.standard_normal(4)
    (g,) = st.grad(x[REPEATED] ** 2, x, v, create_graph=True)
    expected_g = np.zeros(4)
    np.add.at(expected_g, REPEATED, 2 * x.data[REPEATED] * v.data)
    assert_close(g, expected_g)
    gx, gv = st.grad((g * w).sum(), [x, v])
    assert_close(gv, 2 * x.data[REPEATED] * w[REPEATED])  # gathered: w[0] three times
    expected_gx = np.zeros(4)
    np.add.at(expected_gx, REPEATED, 2 * v.data * w[REPEATED])
    assert_close(gx, expected_gx)


def test_getitem_with_repeated_index_pairs_second_order_in_v() -> None:
    rows, cols = np.array([0, 1, 0]), np.array([3, 3, 3])
    x = leaf(3, 4)
    v = Tensor(RNG.standard_normal(3), requires_grad=True)
    w = RNG.standard_normal((3, 4))
    (g,) = st.grad(x[rows, cols], x, v, create_graph=True)  # linear: g = scatter-add(v)
    expected = np.zeros((3, 4))
    np.add.at(expected, (rows, cols), v.data)
    assert_close(g, expected)
    gx, gv = st.grad((g * w).sum(), [x, v], allow_unused=True)
    assert gx is None  # g does not depend on x at all
    assert_close(gv, w[rows, cols])


def test_hessian_of_a_repeated_gather() -> None:
    x = np.array([0.5, -1.0, 2.0])
    hess = st.hessian(lambda t: (t[REPEATED[:3]] ** 3).sum(), x)  # indices 0, 2, 0
    counts = np.array([2.0, 0.0, 1.0])
    assert_close(hess, np.diag(6 * x * counts))


# =======================================================================================
# Second order of every gradcheck case
# =======================================================================================
FD_STEP = 1e-6
RTOL = 1e-5


def _outputs(result: Any) -> list[Tensor]:
    return [result] if isinstance(result, Tensor) else list(result)


def first_order_phi(
    fn: Callable[..., Any], xs: Sequence[np.ndarray], vs: Sequence[np.ndarray], ws: Any
) -> float:
    """``<grad(f)(x, v), w>`` by the ordinary first-order path (no create_graph)."""
    leaves = [Tensor(a.copy(), requires_grad=True) for a in xs]
    grads = st.grad(_outputs(fn(*leaves)), leaves, [v.copy() for v in vs], allow_unused=True)
    return sum(float(np.sum(g.data * w)) for g, w in zip(grads, ws) if g is not None)


def second_order(
    fn: Callable[..., Any], xs: Sequence[np.ndarray], vs: Sequence[np.ndarray], ws: Any
) -> list[np.ndarray]:
    """The gradient of ``phi`` with respect to each input and each cotangent, by sg."""
    leaves = [Tensor(a.copy(), requires_grad=True) for a in xs]
    seeds = [Tensor(v.copy(), requires_grad=True) for v in vs]
    firsts = st.grad(_outputs(fn(*leaves)), leaves, seeds, create_graph=True, allow_unused=True)
    terms = [(g * w).sum() for g, w in zip(firsts, ws) if g is not None and g.requires_grad]
    targets = [*leaves, *seeds]
    if not terms:
        return [np.zeros(t.shape) for t in targets]
    phi = terms[0]
    for term in terms[1:]:
        phi = phi + term
    seconds = st.grad(phi, targets, allow_unused=True)
    for s, t in zip(seconds, targets):
        assert s is None or (s.shape == t.shape and s.dtype == t.dtype)
    return [np.zeros(t.shape) if s is None else s.data for s, t in zip(seconds, targets)]


def check_second_order(
    fn: Callable[..., Any], inputs: Sequence[np.ndarray], seed: int = 0, h: float = FD_STEP
) -> None:
    xs = [np.array(a, dtype=np.float64) for a in inputs]
    with no_grad():
        outs = _outputs(fn(*[Tensor(a) for a in xs]))
    rng = np.random.default_rng(seed)
    vs = [rng.standard_normal(o.shape) for o in outs]
    ws = [rng.standard_normal(a.shape) for a in xs]
    got = second_order(fn, xs, vs, ws)
    arrays = [*xs, *vs]
    n = len(xs)
    for k, array in enumerate(arrays):
        fd = np.zeros(array.shape)
        for idx in np.ndindex(array.shape):
            up = [a.copy() for a in arrays]
            down = [a.copy() for a in arrays]
            up[k][idx] += h
            down[k][idx] -= h
            width = up[k][idx] - down[k][idx]
            diff = first_order_phi(fn, up[:n], up[n:], ws) - first_order_phi(
                fn, down[:n], down[n:], ws
            )
            fd[idx] = diff / width
        what = f"input {k}" if k < n else f"cotangent {k - n}"
        assert np.all(np.isfinite(got[k])), f"{what}: {got[k]!r}"
        error = np.abs(got[k] - fd)
        bound = RTOL * np.maximum(1.0, np.abs(fd))
        assert np.all(error <= bound), (
            f"second derivative with respect to {what} (shape {array.shape}) differs from "
            f"central differences of the first-order gradient\nsg = {got[k]!r}\nfd = {fd!r}"
        )


# A forward that rounds (astype to float32) makes differences with a 1e-6 step
# meaningless: it is checked analytically below.
SMOOTH = [e for e in EXAMPLES if e.declaration.rounding == 0]


def _inputs(example: Example) -> list[np.ndarray]:
    return example.draw(np.random.default_rng(20240611))


@pytest.mark.parametrize("example", SMOOTH, ids=[e.name for e in SMOOTH])
def test_second_order_matches_central_differences_of_the_gradient(example: Example) -> None:
    check_second_order(example.call, _inputs(example))


def test_every_gradcheck_case_is_checked_to_second_order() -> None:
    # The parametrized test above runs every case of test_gradcheck.py, so an operator
    # is checked to second order exactly when it has a gradcheck case.
    assert len(SMOOTH) > 300
    missing = sorted(set(OPS) - {e.declaration.name for e in SMOOTH} - {"astype"})
    assert not missing, f"operators without a (second-order) gradcheck case: {missing}"


def test_astype_through_float32_to_second_order() -> None:
    # float32 rounding makes differences with a 1e-6 step meaningless: checked analytically.
    x = leaf(3)
    v = Tensor(RNG.standard_normal(3), requires_grad=True)
    w = RNG.standard_normal(3)
    (g,) = st.grad((x.astype(np.float32) ** 2).astype(np.float64), x, v, create_graph=True)
    assert g.dtype == np.float64
    assert_close(g, 2 * x.data * v.data, rtol=1e-6)
    gx, gv = st.grad((g * w).sum(), [x, v])
    assert (gx.dtype, gv.dtype) == (np.float64, np.float64)
    assert_close(gx, 2 * v.data * w, rtol=1e-6)
    assert_close(gv, 2 * x.data * w, rtol=1e-6)


@pytest.mark.parametrize(
    ("name", "wrong_rule", "case_id"),
    [
        pytest.param("sin", lambda g, out, x: (g * np.cos(data(x)),), "sin[x.sin();3x4]",
                     id="sin-uses-raw-x"),
        pytest.param("tanh", lambda g, out, x: (g * (1.0 - data(out) ** 2),),
                     "tanh[x.tanh();3x4]", id="tanh-uses-raw-output"),
        pytest.param("exp", lambda g, out, x: (g * data(out),), "exp[x.exp();3x4]",
                     id="exp-uses-raw-output"),
    ],
)  # fmt: skip
def test_the_second_order_check_catches_rules_right_only_to_first_order(
    monkeypatch: pytest.MonkeyPatch, name: str, wrong_rule: Any, case_id: str
) -> None:
    (example,) = [e for e in EXAMPLES if e.name == case_id]
    monkeypatch.setattr(OPS[name], "vjp", wrong_rule)
    gradcheck(example.call, *_inputs(example))  # still right to first order
    with pytest.raises(AssertionError, match="with respect to input 0"):
        check_second_order(example.call, _inputs(example))


# =======================================================================================
# Memory
# =======================================================================================
@pytest.fixture
def gc_off() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _objective(t: Tensor) -> Tensor:
    w = np.arange(9.0).reshape(3, 3) / 10
    h = (t @ w).tanh()
    return (h.softmax(axis=1) * h).sum() + t[[0, 0, 1]].exp().sum()


LEAK_BOUND = 64 * 1024  # bytes between call 50 and call 200


def _hvp_loop(steps: int, keep: list[Tensor] | None) -> list[int]:
    """``steps`` hvp calls; the traced memory after calls 50 and ``steps``.

    ``gc.collect()`` before each measurement empties the interpreter's free lists (which
    otherwise fill up over the first thousand calls); that no graph needs the cyclic
    collector is checked separately below.
    """
    x = RNG.standard_normal((3, 3))
    v = RNG.standard_normal((3, 3))
    measured = []
    for step in range(1, steps + 1):
        _, hv = st.hvp(_objective, x, v)
        assert np.all(np.isfinite(hv.data))
        if keep is not None:  # a leak: one differentiable gradient (and its graph) per call
            t = Tensor(x, requires_grad=True)
            keep.append(st.grad(_objective(t), t, create_graph=True)[0])
        if step in (50, steps):
            gc.collect()
            measured.append(tracemalloc.get_traced_memory()[0])
    return measured


def test_hvp_loop_memory_stays_flat() -> None:
    tracemalloc.start()
    try:
        at_50, at_200 = _hvp_loop(200, keep=None)
    finally:
        tracemalloc.stop()
    assert at_200 - at_50 < LEAK_BOUND, f"memory grew by {at_200 - at_50} bytes"


def test_the_memory_measurement_sees_a_leak_of_one_gradient_graph_per_call() -> None:
    kept: list[Tensor] = []
    tracemalloc.start()
    try:
        at_50, at_120 = _hvp_loop(120, keep=kept)
    finally:
        tracemalloc.stop()
    assert at_120 - at_50 > 4 * LEAK_BOUND


@pytest.mark.usefixtures("gc_off")
def test_hvp_jacobian_hessian_create_no_reference_cycles() -> None:
    x = RNG.standard_normal((3, 3))
    for _ in range(20):
        st.hvp(_objective, x, x)
        st.hessian(lambda t: _objective(t.reshape(3, 3)), x.reshape(-1))
        st.jacobian(lambda t: t.softmax(axis=1) * t, x)
    assert gc.collect() == 0  # nothing was left for the cyclic collector


@pytest.mark.usefixtures("gc_off")
def test_second_order_graphs_are_freed_by_reference_counting() -> None:
    x = Tensor(RNG.standard_normal((3, 3)), requires_grad=True)
    out = _objective(x)
    (g,) = st.grad(out, x, create_graph=True)
    refs = [weakref.ref(out), weakref.ref(g)]
    (h,) = st.grad((g * g).sum(), x)
    del out, g
    assert [r() for r in refs] == [None, None]
    assert h.shape == (3, 3)


# -- several inputs and outputs, as torch.autograd.functional takes them ------------------
def test_tuple_inputs_give_blocks_of_the_full_derivatives() -> None:
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal(3), rng.standard_normal(2)

    def f(a: Tensor, b: Tensor) -> Tensor:
        return (a[:2] * b).sin().sum() + (a * a).sum() * b.sum()

    def f_joint(z: Tensor) -> Tensor:  # the same function of the concatenated inputs
        return f(z[:3], z[3:])

    joint = np.concatenate([x, y])
    full_h = st.hessian(f_joint, joint).data
    blocks = st.hessian(f, (x, y))
    np.testing.assert_allclose(blocks[0][0].data, full_h[:3, :3], rtol=1e-14)
    np.testing.assert_allclose(blocks[0][1].data, full_h[:3, 3:], rtol=1e-14)
    np.testing.assert_allclose(blocks[1][0].data, full_h[3:, :3], rtol=1e-14)
    np.testing.assert_allclose(blocks[1][1].data, full_h[3:, 3:], rtol=1e-14)
    v = rng.standard_normal(5)
    value, (hv_x, hv_y) = st.hvp(f, (x, y), (v[:3], v[3:]))
    np.testing.assert_allclose(np.concatenate([hv_x.data, hv_y.data]), full_h @ v, rtol=1e-13)
    assert value.data == pytest.approx(f_joint(Tensor(joint)).data, rel=1e-15)
    jac = st.jacobian(lambda a, b: (a[:2] * b, a.exp()), (x, y))
    np.testing.assert_allclose(jac[0][0].data, np.eye(3)[:2] * y[:, None], rtol=1e-15)
    np.testing.assert_allclose(jac[0][1].data, np.diag(x[:2]), rtol=1e-15)
    np.testing.assert_allclose(jac[1][0].data, np.diag(np.exp(x)), rtol=1e-15)
    assert not jac[1][1].data.any()
    assert jac[1][1].shape == (3, 2)


def test_hvp_of_a_one_element_input_needs_no_v() -> None:
    _, hv = st.hvp(lambda a: a**3, 2.0)
    assert hv.data == 12.0


# -- PyTorch's semantics at the edges (found by a differential review against torch) -----
def test_a_seed_that_requires_grad_stays_on_the_graph_in_backward() -> None:
    x = st.tensor([1.0, 2.0], requires_grad=True)
    v = st.tensor([3.0, 4.0], requires_grad=True)
    (x * x).backward(v, create_graph=True)  # x.grad = 2 x v
    x.grad.sum().backward()  # d/dv sum(2 x v) = 2 x
    np.testing.assert_array_equal(v.grad, [2.0, 4.0])


def test_backward_takes_pytorchs_gradient_keyword_and_positional_flags() -> None:
    x = st.tensor([1.0, 2.0], requires_grad=True)
    (x * x).backward(gradient=np.ones(2))
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])
    y = (x * x).sum()
    y.backward(None, True)  # retain_graph positionally, as in torch
    y.backward()
    np.testing.assert_array_equal(x.grad, [6.0, 12.0])
    with pytest.raises(TypeError, match="grad or gradient, not both"):
        (x * x).backward(np.ones(2), gradient=np.ones(2))


@pytest.mark.parametrize(
    "fn", [lambda t: t.relu(), lambda t: t.abs(), lambda t: t.leaky_relu(0.1)], ids=str
)
def test_piecewise_linear_gradients_stay_differentiable_and_give_zero(fn: Any) -> None:
    # PyTorch's relu/abs/leaky_relu gradients require grad (their masks depend on x
    # with derivative 0): differentiating again gives zeros, not an error.
    x = st.tensor([-1.0, 2.0, 0.5], requires_grad=True)
    (g,) = st.grad(fn(x).sum(), x, create_graph=True)
    assert g.requires_grad
    (h,) = st.grad(g.sum(), x)
    np.testing.assert_array_equal(h.data, np.zeros(3))
    w = st.tensor(np.ones((2, 3)), requires_grad=True)
    (gw,) = st.grad(fn(st.linear(st.tensor(np.eye(3)), w)).sum(), w, create_graph=True)
    (gw**2).sum().backward()  # a gradient penalty through one piecewise-linear layer
    np.testing.assert_array_equal(w.grad, np.zeros((2, 3)))


def test_helpers_work_inside_no_grad() -> None:
    with st.no_grad():
        h = st.hessian(lambda x: (x**3).sum(), st.tensor([1.0, 2.0]))
        _, hv = st.hvp(lambda x: (x**3).sum(), [1.0, 2.0], [1.0, 0.0])
        j = st.jacobian(lambda x: x * x, [1.0, 2.0])
    np.testing.assert_array_equal(h.data, np.diag([6.0, 12.0]))
    np.testing.assert_array_equal(hv.data, [6.0, 0.0])
    np.testing.assert_array_equal(j.data, np.diag([2.0, 4.0]))


@pytest.mark.parametrize("reduce", [lambda t: t.max(), lambda t: t.amin(axis=0)], ids=str)
def test_float32_extremum_gradients_stay_float32_under_create_graph(reduce: Any) -> None:
    x = st.tensor(np.array([[1.0, 3.0], [2.0, 0.5]], np.float32), requires_grad=True)
    (g,) = st.grad(reduce(x).sum(), x, create_graph=True)
    assert g.dtype == np.float32
    reduce(x).sum().backward(create_graph=True)
    assert x.grad.dtype == np.float32


def test_softplus_second_derivative_at_the_threshold_is_zero() -> None:
    # exactly at beta x == threshold the function is linear from the right (PyTorch's mask)
    x = st.tensor([1.0, 0.5], requires_grad=True)
    (g,) = st.grad(x.softplus(1.0, 1.0).sum(), x, create_graph=True)
    (h,) = st.grad(g.sum(), x)
    s = 1 / (1 + np.exp(-0.5))
    np.testing.assert_allclose(h.data, [0.0, s * (1 - s)], rtol=1e-15)


def test_no_two_inputs_share_one_gradient_node() -> None:
    a, b = st.tensor([1.0], requires_grad=True), st.tensor([2.0], requires_grad=True)
    ga, gb = st.grad((a + b).sum(), [a, b], create_graph=True)
    assert ga is not gb
    (a + b).sum().backward(create_graph=True)
    assert a.grad is not b.grad
    np.testing.assert_array_equal(a.grad.data, b.grad.data)


def test_hvp_of_a_one_tuple_of_one_element_needs_no_v() -> None:
    _, (hv,) = st.hvp(lambda a: (a**3).sum(), (st.tensor([2.0]),))
    np.testing.assert_array_equal(hv.data, [12.0])


def test_shape_mismatches_are_value_and_runtime_errors() -> None:
    x = st.tensor([1.0, 2.0], requires_grad=True)
    for call in (
        lambda: st.grad(x * x, x, np.ones(3)),
        lambda: (x * x).backward(np.ones(3)),
        lambda: st.hvp(lambda t: t * t, x, x),
        lambda: st.hvp(lambda t: t.sum(), x, np.ones(3)),
    ):
        with pytest.raises(ShapeMismatchError) as info:
            call()
        assert isinstance(info.value, ValueError)
        assert isinstance(info.value, RuntimeError)


def test_grad_takes_pytorchs_positional_order_and_sees_input_hooks() -> None:
    """Regression: grad's fourth positional argument was create_graph (PyTorch's is
    retain_graph), and a hook on an input was ignored by grad()."""
    x = st.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    (g,) = st.autograd.grad(y, x, st.ones_like(y), None, True)  # create_graph=True
    (h,) = st.autograd.grad(g.sum(), x)
    np.testing.assert_array_equal(h.data, [2.0, 2.0])
    x.register_hook(lambda grad: grad * 10)
    (g,) = st.autograd.grad((x**2).sum(), x)
    np.testing.assert_array_equal(g.data, [20.0, 40.0])
    unused = st.tensor([1.0], requires_grad=True)
    found = st.autograd.grad((x * 2).sum(), [x, unused], materialize_grads=True)
    np.testing.assert_array_equal(found[1].data, [0.0])


def test_backward_into_given_inputs_and_autograd_backward() -> None:
    a = st.tensor([1.0, 2.0], requires_grad=True)
    b = st.tensor([3.0, 4.0], requires_grad=True)
    (a * b).sum().backward(inputs=[a])
    np.testing.assert_array_equal(a.grad, [3.0, 4.0])
    assert b.grad is None
    a.grad = None
    shared = a * b
    st.autograd.backward([shared.sum(), (shared * a).sum()])  # one graph, two passes
    np.testing.assert_array_equal(a.grad, [3.0 + 6.0, 4.0 + 16.0])
    np.testing.assert_array_equal(b.grad, [1.0 + 1.0, 2.0 + 4.0])


def test_functional_takes_pytorchs_keywords() -> None:
    f = st.autograd.functional
    x = st.tensor([1.0, 2.0])
    np.testing.assert_array_equal(
        f.jacobian(lambda t: t * t, x, vectorize=True).data, [[2.0, 0.0], [0.0, 4.0]]
    )
    _, vh = f.vhp(lambda t: (t**3).sum(), x, st.tensor([1.0, 1.0]))
    np.testing.assert_array_equal(vh.data, [6.0, 12.0])
    with pytest.raises(NotImplementedError, match="create_graph=True"):
        f.hessian(lambda t: (t**3).sum(), x, create_graph=True)
    with pytest.raises(NotImplementedError, match="strict=True"):
        f.vjp(lambda t: t * 2, x, st.tensor([1.0, 1.0]), strict=True)
    from sg_tensor.autograd.function import Function, once_differentiable

    assert Function is st.Function
    assert once_differentiable is st.once_differentiable
