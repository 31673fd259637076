"""Edge cases of the graph machinery, each a small check with a readable outcome."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import sg_tensor as st
from sg_scalar import GraphReleasedError, Value, no_grad


@dataclass
class EdgeCase:
    """The outcome of one edge case: its name, whether it passed, and what was seen."""

    name: str
    passed: bool
    detail: str


def _deep_chain_scalar() -> str:
    x = Value(1.0)
    y = x
    for _ in range(100_000):
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad == 1.0, x.grad
    return "x.grad == 1.0 after a 100,000-node Value chain"


def _deep_chain_tensor() -> str:
    x = st.tensor(np.ones(3), requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    y.sum().backward()
    assert np.array_equal(x.grad, np.ones(3))
    return "x.grad == 1 after a 100,000-node Tensor chain"


def _diamond() -> str:
    x = Value(3.0)
    a, b = x * 2.0, x * x
    (a * b + a + b).backward()
    expected = 2 * (3 * 3) + 2 * 3 * (2 * 3) + 2 + 2 * 3  # d/dx of 2x*x^2 + 2x + x^2
    assert x.grad == expected, (x.grad, expected)
    return f"x.grad == {expected} through two paths that rejoin"


def _accumulation() -> str:
    x = st.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert np.array_equal(x.grad, 4 * x.data)
    return "two backward passes with retain_graph add up (as PyTorch)"


def _released() -> str:
    x = Value(2.0)
    y = x.exp() * x
    y.backward()
    try:
        y.backward()
    except GraphReleasedError:
        return "a second backward through a freed graph raises GraphReleasedError"
    raise AssertionError("no error")


def _no_grad() -> str:
    x = st.tensor([1.0], requires_grad=True)
    with no_grad():
        y = x * 2
    assert not y.requires_grad
    return "no_grad() records no graph"


def _detach() -> str:
    x = Value(2.0)
    y = x * x.detach()
    y.backward()
    assert x.grad == 2.0
    return "detach() cuts the gradient path"


def _freed_by_refcount() -> str:
    enabled = gc.isenabled()
    gc.disable()
    try:
        x = Value(1.0)
        y = (x * 2).exp() + x
        ref = weakref.ref(y)
        del y
        assert ref() is None
    finally:
        if enabled:
            gc.enable()
    return "a dropped graph is freed by reference counting alone"


def _error_text(action: Callable[[], object]) -> str:
    try:
        action()
    except (ValueError, TypeError) as error:
        return str(error)
    raise AssertionError("no error was raised")


def _bad_input() -> str:
    broadcast = _error_text(lambda: st.ones(2, 3) + st.ones(4))
    matmul = _error_text(lambda: st.ones(2, 3) @ st.ones(4, 5))
    for text, words in ((broadcast, ("add", "(2, 3)", "(4,)")), (matmul, ("matmul", "3 != 4"))):
        missing = [w for w in words if w not in text]
        if missing:
            raise AssertionError(f"{missing} not in error message {text!r}")
    return "bad shapes give errors naming the operator and the shapes"


CASES: dict[str, Callable[[], str]] = {
    "deep chain (Value)": _deep_chain_scalar,
    "deep chain (Tensor)": _deep_chain_tensor,
    "diamond": _diamond,
    "accumulation": _accumulation,
    "released graph": _released,
    "no_grad": _no_grad,
    "detach": _detach,
    "freed by refcount": _freed_by_refcount,
    "bad input": _bad_input,
}


def run_edge_cases() -> list[EdgeCase]:
    """Run every case; a failure is recorded with its reason, never raised."""
    results = []
    for name, case in CASES.items():
        try:
            results.append(EdgeCase(name, True, case()))
        except Exception as error:  # report, do not stop the report
            results.append(EdgeCase(name, False, f"{type(error).__name__}: {error}"))
    return results
