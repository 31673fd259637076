"""Custom operators: ``sg_tensor.Function`` subclasses with their own gradient rule."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import sg_tensor as st
from sg_tensor import Function, Tensor


class Softplus(Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, beta: float = 1.0) -> Tensor:
        ctx.save_for_backward(x)
        ctx.beta = beta
        return (x * beta).exp().log1p() / beta

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Any, ...]:
        (x,) = ctx.saved_tensors
        return g * (x * ctx.beta).sigmoid(), None


class Mul(Function):
    @staticmethod
    def forward(ctx: Any, a: Tensor, b: Tensor) -> Tensor:
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Any, ...]:
        a, b = ctx.saved_tensors
        return (
            g * b if ctx.needs_input_grad[0] else None,
            g * a if ctx.needs_input_grad[1] else None,
        )


class SinCos(Function):
    """Two floating outputs and a boolean one."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        ctx.save_for_backward(x)
        return x.sin(), x.cos(), x > 0

    @staticmethod
    def backward(ctx: Any, gs: Tensor, gc: Tensor, gm: Any) -> Tensor:
        assert not gm.data.any()  # a boolean output gets none: zeros, as in PyTorch
        (x,) = ctx.saved_tensors
        return gs * x.cos() - gc * x.sin()


class Exp(Function):
    """A rule that uses the saved output."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        (y,) = ctx.saved_tensors
        return g * y


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1 / (1 + np.exp(-x)))


X = np.array([-1.5, -0.2, 0.4, 2.0])


def test_forward_value_and_gradient() -> None:
    x = st.tensor(X, requires_grad=True)
    y = Softplus.apply(x, 2.0)
    np.testing.assert_allclose(y.data, np.log1p(np.exp(2 * X)) / 2)
    assert y.op == "Softplus"
    assert y.requires_grad
    y.backward(np.arange(4.0))
    np.testing.assert_allclose(x.grad, np.arange(4.0) * _sigmoid(2 * X))


def test_second_order_through_a_backward_written_with_sg_operators() -> None:
    x = st.tensor(X, requires_grad=True)
    (g,) = st.grad(Softplus.apply(x, 2.0).sum(), x, create_graph=True)
    (h,) = st.grad(g.sum(), x)
    s = _sigmoid(2 * X)
    np.testing.assert_allclose(h.data, 2 * s * (1 - s))


def test_saved_output_is_the_graph_output_under_create_graph() -> None:
    x = st.tensor(X, requires_grad=True)
    (g,) = st.grad(Exp.apply(x).sum(), x, create_graph=True)
    (h,) = st.grad(g.sum(), x)
    np.testing.assert_allclose(h.data, np.exp(X))


def test_needs_input_grad_and_broadcasting_inputs() -> None:
    a = st.tensor(np.ones((2, 3)), requires_grad=True)
    b = st.tensor([1.0, 2.0, 3.0])
    seen: list[tuple[bool, ...]] = []

    class Spy(Mul):
        @staticmethod
        def backward(ctx: Any, g: Tensor) -> tuple[Any, ...]:
            seen.append(ctx.needs_input_grad)
            return Mul.backward(ctx, g)

    Spy.apply(a, b).sum().backward()
    assert seen == [(True, False)]
    np.testing.assert_allclose(a.grad, np.ones((2, 1)) * [1.0, 2.0, 3.0])
    assert b.grad is None
    # b requires grad too: its (3,) gradient is the (2, 3) rule result summed over rows
    b.requires_grad_()
    Mul.apply(a, b).sum().backward()
    np.testing.assert_allclose(b.grad, [2.0, 2.0, 2.0])


def test_several_outputs_each_get_their_gradient() -> None:
    x = st.tensor(X, requires_grad=True)
    s, c, positive = SinCos.apply(x)
    assert positive.dtype == np.bool_
    assert not positive.requires_grad
    np.testing.assert_allclose(s.data, np.sin(X))
    (2 * s + c).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * np.cos(X) - np.sin(X))
    x.grad = None
    s, _, _ = SinCos.apply(x)
    s.sum().backward()  # the unused output's gradient is zero
    np.testing.assert_allclose(x.grad, np.cos(X))


def test_no_graph_without_requires_grad_or_under_no_grad() -> None:
    y = Softplus.apply(st.tensor(X))
    assert y.is_leaf
    assert not y.requires_grad
    x = st.tensor(X, requires_grad=True)
    with st.no_grad():
        z = Softplus.apply(x)
    assert z.is_leaf
    assert not z.requires_grad


def test_numpy_arrays_are_inputs_that_need_no_gradient() -> None:
    b = st.tensor([1.0, 2.0], requires_grad=True)
    Mul.apply(np.array([3.0, 4.0]), b).sum().backward()
    np.testing.assert_allclose(b.grad, [3.0, 4.0])


def test_forward_runs_without_a_graph_and_output_is_a_fresh_tensor() -> None:
    class Identity(Function):
        @staticmethod
        def forward(ctx: Any, x: Tensor) -> Tensor:
            assert not st.is_grad_enabled()
            return x

        @staticmethod
        def backward(ctx: Any, g: Tensor) -> Tensor:
            return g

    x = st.tensor(X, requires_grad=True)
    y = Identity.apply(x)
    assert y is not x
    assert y.op == "Identity"
    y.backward(np.ones(4))
    np.testing.assert_allclose(x.grad, np.ones(4))


def test_redefining_a_function_of_the_same_name_just_works() -> None:
    """Regression: re-running a notebook cell used to raise "declared twice"."""

    def define(factor: float) -> type[Function]:
        class Scale(Function):
            @staticmethod
            def forward(ctx: Any, x: Tensor) -> Tensor:
                return x * factor

            @staticmethod
            def backward(ctx: Any, g: Tensor) -> Tensor:
                return g * factor

        return Scale

    first, second = define(2.0), define(3.0)
    x = st.tensor(X, requires_grad=True)
    second.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad, 3.0)
    x.grad = None
    first.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad, 2.0)
    assert "Scale" not in st.OPS


def _bad(backward: Any) -> type[Function]:
    class Bad(Function):
        @staticmethod
        def forward(ctx: Any, x: Tensor, scale: float = 1.0) -> Tensor:
            return x * scale

    Bad.backward = staticmethod(backward)  # type: ignore[method-assign]
    return Bad


def test_gradient_of_a_shape_that_cannot_be_summed_names_function_index_and_shapes() -> None:
    """Regression: a (5,) gradient for a (2,) input used to be stored in .grad."""
    bad = _bad(lambda ctx, g: (np.ones(5), None))
    x = st.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(st.ShapeMismatchError, match=r"Bad.*shape \(5,\).*argument 0.*\(2,\)"):
        bad.apply(x).sum().backward()
    assert x.grad is None


def test_wrong_number_of_gradients_names_the_function() -> None:
    bad = _bad(lambda ctx, g: g)
    with pytest.raises(TypeError, match=r"Bad.backward returned 1 gradient for 2 arguments"):
        bad.apply(st.tensor([1.0, 2.0], requires_grad=True), 2.0).sum().backward()


def test_non_float_gradient_names_the_function() -> None:
    bad = _bad(lambda ctx, g: (np.ones(2, dtype=np.int64), None))
    with pytest.raises(TypeError, match=r"Bad.*dtype int64 for argument 0 \(shape \(2,\)\)"):
        bad.apply(st.tensor([1.0, 2.0], requires_grad=True)).sum().backward()


def test_gradient_for_a_non_tensor_argument_is_an_error() -> None:
    bad = _bad(lambda ctx, g: (g, g))
    with pytest.raises(TypeError, match="argument 1 of forward, which is not a Tensor"):
        bad.apply(st.tensor([1.0, 2.0], requires_grad=True), 2.0).sum().backward()


def test_float32_gradient_of_a_float64_rule_is_converted() -> None:
    x = st.tensor(X.astype(np.float32), requires_grad=True)
    Softplus.apply(x).sum().backward()
    assert x.grad.dtype == np.float32


def test_a_raw_numpy_backward_is_first_order_only_and_says_so() -> None:
    class Square(Function):
        @staticmethod
        def forward(ctx: Any, x: Tensor) -> Tensor:
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx: Any, g: Tensor) -> np.ndarray:
            (x,) = ctx.saved_tensors
            return np.asarray(2 * x.data * g.data)

    x = st.tensor(X, requires_grad=True)
    Square.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * X)
    with pytest.raises(st.NotTwiceDifferentiableError, match=r"Square.*argument 0"):
        st.grad(Square.apply(x).sum(), x, create_graph=True)

    class Marked(Square):
        backward = staticmethod(st.once_differentiable(Square.backward))

    with pytest.raises(st.NotTwiceDifferentiableError, match="Marked"):
        st.grad(Marked.apply(x).sum(), x, create_graph=True)


def test_second_backward_through_a_freed_function_raises() -> None:
    x = st.tensor(X, requires_grad=True)
    y = Softplus.apply(x).sum()
    y.backward()
    with pytest.raises(st.GraphReleasedError):
        y.backward()


def test_bad_outputs_and_saved_values_are_clear_errors() -> None:
    class ReturnsList(Function):
        @staticmethod
        def forward(ctx: Any, x: Tensor) -> Any:
            return "nope"

    with pytest.raises(TypeError, match=r"ReturnsList.forward: output 0 is a str"):
        ReturnsList.apply(st.tensor(X))

    class SavesNumber(Function):
        @staticmethod
        def forward(ctx: Any, x: Tensor) -> Tensor:
            ctx.save_for_backward(2.0)
            return x

    with pytest.raises(TypeError, match=r"save_for_backward.*argument 0 is a float"):
        SavesNumber.apply(st.tensor(X))
    with pytest.raises(TypeError, match="subclass"):
        Function.apply(st.tensor(X))


def test_the_same_internal_declaration_run_again_replaces_itself() -> None:
    """Regression: re-running a cell with ``op(...)`` raised "declared twice"; a second,
    different operator of a taken name is still refused, naming both definitions."""
    from sg_tensor.op import DECLARATIONS, ENTRIES, OPS, call, op

    def declare(factor: float) -> None:
        @op("test_redeclared_scale", lambda x: x * factor, public=False)
        def scale_rule(g: Any, out: Any, x: Any) -> tuple[Any]:
            return (g * factor,)

    try:
        declare(2.0)
        declare(3.0)
        np.testing.assert_allclose(call("test_redeclared_scale", np.ones(2)), 3.0)
        with pytest.raises(ValueError, match=r"'exp' is declared twice: by sg_tensor"):

            @op("exp", np.exp)
            def another_exp(g: Any, out: Any, x: Any) -> tuple[Any]:
                return (g,)
    finally:
        OPS.pop("test_redeclared_scale", None)
        DECLARATIONS.pop("test_redeclared_scale", None)
        ENTRIES.pop("test_redeclared_scale", None)


@pytest.mark.parametrize("materialize", [True, False])
def test_pytorch_2_style_setup_context_and_non_differentiable_outputs(materialize: bool) -> None:
    class SortedWithIndex(Function):
        @staticmethod
        def forward(x: Tensor) -> tuple[Tensor, Tensor]:
            order = np.argsort(x.data)
            return st.tensor(x.data[order]), st.tensor(order.astype(np.float64))

        @staticmethod
        def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
            _, order = output
            ctx.mark_non_differentiable(order)  # float, yet no gradient
            ctx.materialize = materialize
            ctx.set_materialize_grads(materialize)
            ctx.order = order.data.astype(np.int64)
            ctx.size = inputs[0].shape[0]

        @staticmethod
        def backward(ctx: Any, g: Tensor, g_order: Any) -> np.ndarray:
            # as PyTorch: zeros for the output that gets no gradient (None if not materialized)
            if ctx.materialize:
                np.testing.assert_array_equal(g_order.data, np.zeros(3))
            else:
                assert g_order is None
            grad = np.zeros(ctx.size)
            grad[ctx.order] = g.data
            return grad

    x = st.tensor([3.0, 1.0, 2.0], requires_grad=True)
    values, order = SortedWithIndex.apply(x)
    np.testing.assert_allclose(values.data, [1.0, 2.0, 3.0])
    assert not order.requires_grad
    (values * st.tensor([1.0, 10.0, 100.0])).sum().backward()
    np.testing.assert_allclose(x.grad, [100.0, 1.0, 10.0])


def test_an_array_output_before_a_saved_output_keeps_the_saved_one_in_place() -> None:
    class ArrayThenExp(Function):
        @staticmethod
        def forward(ctx: Any, x: Tensor) -> tuple[Any, Tensor]:
            y = x.exp()
            ctx.save_for_backward(y)
            return np.asarray(x.data * 2.0), y

        @staticmethod
        def backward(ctx: Any, g_double: Tensor, g_exp: Tensor) -> Tensor:
            (y,) = ctx.saved_tensors
            return 2.0 * g_double + g_exp * y

    x = st.tensor(X, requires_grad=True)
    double, exp = ArrayThenExp.apply(x)
    (double + exp).sum().backward()
    np.testing.assert_allclose(x.grad, 2.0 + np.exp(X))


def test_a_tensor_that_requires_grad_passed_by_keyword_is_refused() -> None:
    w = st.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"Mul.apply: b= is a Tensor that requires grad"):
        Mul.apply(st.tensor([1.0, 1.0]), b=w)
