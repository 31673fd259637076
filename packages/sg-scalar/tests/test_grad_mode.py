"""Grad mode (no_grad, enable_grad, set_grad_enabled), requires_grad and detach."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from sg_scalar import Value, enable_grad, is_grad_enabled, no_grad, set_grad_enabled


def _records_graph(x: Value) -> bool:
    out = x * 2.0 + 1.0
    return out.requires_grad and len(out._parents) == 2


def test_grad_is_enabled_by_default() -> None:
    assert is_grad_enabled() is True
    assert _records_graph(Value(1.0))


def test_no_grad_records_nothing() -> None:
    x = Value(3.0)
    with no_grad():
        assert is_grad_enabled() is False
        results = [x * 2.0, x + x, -x, x**2, 2.0**x, x.exp(), x.relu(), x.maximum(1.0)]
    assert is_grad_enabled() is True
    for out in results:
        assert out.requires_grad is False
        assert out._parents == ()
        assert out.is_leaf
        assert out.op == ""
    assert results[0].data == 6.0
    with pytest.raises(RuntimeError, match="does not require grad"):
        results[0].backward()
    assert x.grad == 0.0


def test_no_grad_is_restored_after_an_exception() -> None:
    with pytest.raises(ValueError, match="boom"), no_grad():
        raise ValueError("boom")
    assert is_grad_enabled() is True


def test_no_grad_nested_in_no_grad() -> None:
    x = Value(1.0)
    with no_grad():
        with no_grad():
            assert is_grad_enabled() is False
            assert not _records_graph(x)
        assert is_grad_enabled() is False  # the inner exit restores the outer mode
        assert not _records_graph(x)
    assert is_grad_enabled() is True
    assert _records_graph(x)


def test_enable_grad_inside_no_grad() -> None:
    x = Value(1.5)
    with no_grad():
        with enable_grad():
            assert is_grad_enabled() is True
            out = x * x
        assert is_grad_enabled() is False
        assert not _records_graph(x)
    out.backward()
    assert x.grad == 3.0


def test_one_instance_can_be_nested_in_itself() -> None:
    off = no_grad()
    with off:
        with off:
            assert is_grad_enabled() is False
        assert is_grad_enabled() is False
    assert is_grad_enabled() is True


def test_set_grad_enabled_as_context_manager() -> None:
    x = Value(2.0)
    with set_grad_enabled(False):
        assert is_grad_enabled() is False
        assert not _records_graph(x)
        with set_grad_enabled(True):
            assert is_grad_enabled() is True
            assert _records_graph(x)
        assert is_grad_enabled() is False
    assert is_grad_enabled() is True


@pytest.mark.parametrize("make", [lambda: set_grad_enabled(False), no_grad])
def test_set_grad_enabled_and_no_grad_as_decorators(make: Callable[[], set_grad_enabled]) -> None:
    seen: list[bool] = []

    @make()
    def double(v: Value) -> Value:
        """Doubles."""
        seen.append(is_grad_enabled())
        return v * 2.0

    x = Value(4.0)
    out = double(x)
    assert seen == [False]
    assert out.data == 8.0
    assert out.requires_grad is False
    assert is_grad_enabled() is True
    assert double.__name__ == "double"  # functools.wraps
    assert double.__doc__ == "Doubles."
    double(x)  # reusable: the same decorator object again
    assert seen == [False, False]
    assert is_grad_enabled() is True


def test_set_grad_enabled_called_alone_sets_the_mode_as_pytorch() -> None:
    set_grad_enabled(False)
    try:
        assert is_grad_enabled() is False
        assert (Value(2.0, requires_grad=True) * 3.0).requires_grad is False
    finally:
        set_grad_enabled(True)
    assert is_grad_enabled() is True
    context = set_grad_enabled(False)  # made and entered once: the mode is restored after
    with context:
        assert is_grad_enabled() is False
    assert is_grad_enabled() is True
    with context:  # entered again: set again
        assert is_grad_enabled() is False
    assert is_grad_enabled() is True


def test_enabling_decorator_inside_no_grad() -> None:
    @set_grad_enabled(True)
    def square(v: Value) -> Value:
        return v * v

    x = Value(3.0)
    with no_grad():
        out = square(x)
        assert is_grad_enabled() is False
    assert out.requires_grad
    out.backward()
    assert x.grad == 6.0


def test_grad_mode_is_thread_local() -> None:
    entered, checked = threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def worker() -> None:
        with no_grad():
            seen["worker inside no_grad"] = is_grad_enabled()
            seen["worker records"] = _records_graph(Value(1.0))
            entered.set()
            checked.wait(timeout=10)
        seen["worker after"] = is_grad_enabled()

    thread = threading.Thread(target=worker)
    thread.start()
    assert entered.wait(timeout=10)
    # The worker is inside no_grad right now; this thread is not affected.
    main_enabled, main_records = is_grad_enabled(), _records_graph(Value(1.0))
    checked.set()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert (main_enabled, main_records) == (True, True)
    assert seen == {
        "worker inside no_grad": False,
        "worker records": False,
        "worker after": True,
    }


def test_new_thread_starts_with_grad_enabled_inside_no_grad() -> None:
    seen: list[bool] = []
    with no_grad():
        thread = threading.Thread(target=lambda: seen.append(is_grad_enabled()))
        thread.start()
        thread.join(timeout=10)
        assert is_grad_enabled() is False
    assert seen == [True]


def test_leaf_without_requires_grad_gets_no_gradient() -> None:
    a = Value(2.0, requires_grad=False)
    b = Value(3.0)
    out = a * b + a
    assert out.requires_grad
    out.backward()
    assert a.grad == 0.0
    assert b.grad == 2.0


def test_ops_on_values_that_do_not_require_grad_record_nothing() -> None:
    a = Value(2.0, requires_grad=False)
    b = Value(-1.0, requires_grad=False)
    out = (a * b).exp() + 3.0
    assert out.requires_grad is False
    assert out._parents == ()


def test_requires_grad_is_a_bool() -> None:
    assert Value(1.0, requires_grad=0).requires_grad is False
    assert Value(1.0).requires_grad is True
    assert Value(Value(2.5)).data == 2.5
    assert Value(Value(2.5)).is_leaf


def test_detach_returns_a_leaf_with_the_same_data() -> None:
    x = Value(1.25)
    y = x * 4.0
    d = y.detach()
    assert d is not y
    assert d.data == y.data == 5.0
    assert d.requires_grad is False
    assert d.is_leaf
    assert d._parents == ()
    assert y._parents != ()  # detaching leaves the original graph alone


def test_backward_through_detached_value_does_not_reach_the_original() -> None:
    x = Value(3.0)
    y = x * x
    out = y.detach() * x  # only the direct path to x carries a gradient
    out.backward()
    assert x.grad == 9.0  # y.data, not 3 * x**2 = 27
    assert y.grad == 0.0


def test_no_grad_and_enable_grad_decorate_without_parentheses() -> None:
    @no_grad
    def doubled(v: Value) -> Value:
        """Doubles."""
        return v * 2.0

    @enable_grad
    def tripled(v: Value) -> Value:
        return v * 3.0

    x = Value(2.0)
    assert doubled(x).requires_grad is False
    assert doubled.__doc__ == "Doubles."
    with no_grad():
        assert tripled(x).requires_grad is True
    assert is_grad_enabled() is True


def test_a_value_is_true_when_nonzero_and_equal_only_to_itself() -> None:
    """bool() as PyTorch's (``if loss:``); ``==`` stays identity: a Value is a graph node
    that sets and dicts hold."""
    assert not Value(0.0)
    assert Value(-2.0)
    x = Value(1.0)
    assert x == x
    assert x != Value(1.0)
    assert len({x, Value(1.0)}) == 2


def test_relu_and_abs_at_nan_take_pytorchs_derivatives() -> None:
    """relu lets the gradient through at a nan (its mask is not (out <= 0)); abs's is
    sign(nan) = 0, as torch.sign."""
    x = Value(float("nan"))
    x.relu().backward()
    assert x.grad == 1.0
    y = Value(float("nan"))
    y.abs().backward()
    assert y.grad == 0.0


def test_a_stored_set_grad_enabled_sets_its_mode_whenever_it_is_entered() -> None:
    """The same sequence as PyTorch's, mode by mode."""
    try:
        context = set_grad_enabled(False)  # turns recording off now, as PyTorch's
        with enable_grad():
            with context:  # entered later, inside enable_grad: off again
                assert is_grad_enabled() is False
            assert is_grad_enabled() is True
        assert is_grad_enabled() is False  # enable_grad restores what it found: off
    finally:
        set_grad_enabled(True)
