"""Graphs are freed by reference counting alone, and backward() frees them early.

Every test runs with the cyclic garbage collector off: a graph that needed it would
contain a reference cycle and outlive ``del`` (micrograd's closures do).
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from sg_scalar import Value, no_grad


@pytest.fixture
def gc_off() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.collect()  # start clean, so nothing found dead below was left by earlier tests
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _graph(x: Value, y: Value) -> tuple[Value, list[Value]]:
    a = x * y
    b = a.exp()
    c = b + a  # a diamond: a reaches c directly and through b
    d = c.maximum(x) ** 2.0
    return d / y, [a, b, c, d]


@pytest.mark.usefixtures("gc_off")
def test_dropped_graph_is_freed_by_reference_counting() -> None:
    x, y = Value(0.5), Value(1.5)
    out, intermediates = _graph(x, y)
    refs = [weakref.ref(node) for node in [*intermediates, out]]
    assert all(ref() is not None for ref in refs)
    del out, intermediates
    assert [ref() for ref in refs] == [None] * len(refs)
    assert x.data == 0.5  # the leaves are still held, and still usable
    assert (x * y).data == 0.75


@pytest.mark.usefixtures("gc_off")
def test_backward_frees_intermediates_while_the_output_is_held() -> None:
    x, y = Value(0.5), Value(1.5)
    out, intermediates = _graph(x, y)
    refs = [weakref.ref(node) for node in intermediates]
    del intermediates
    assert all(ref() is not None for ref in refs)  # held by out's graph
    out.backward()
    assert [ref() for ref in refs] == [None] * len(refs)
    assert out._parents == ()
    assert out.data != 0.0
    assert x.grad != 0.0
    assert y.grad != 0.0


@pytest.mark.usefixtures("gc_off")
def test_retain_graph_keeps_intermediates_alive() -> None:
    x, y = Value(0.5), Value(1.5)
    out, intermediates = _graph(x, y)
    refs = [weakref.ref(node) for node in intermediates]
    del intermediates
    out.backward(retain_graph=True)
    assert all(ref() is not None for ref in refs)
    assert len(out._parents) == 2
    grads = (x.grad, y.grad)
    out.backward()  # a second pass still works, then frees the graph
    assert (x.grad, y.grad) == (2 * grads[0], 2 * grads[1])
    assert [ref() for ref in refs] == [None] * len(refs)
    assert out._parents == ()


@pytest.mark.usefixtures("gc_off")
def test_dropped_deep_chain_is_freed_without_crashing() -> None:
    x = Value(1.0)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    middle = y
    for _ in range(50_000):
        middle = middle._parents[0]
    ref, out_ref = weakref.ref(middle), weakref.ref(y)
    del middle, y
    assert ref() is None
    assert out_ref() is None


@pytest.mark.usefixtures("gc_off")
def test_values_made_under_no_grad_hold_no_inputs() -> None:
    x = Value(2.0)
    with no_grad():
        a = x * 3.0
        out = a.exp()
    ref = weakref.ref(a)
    del a
    assert ref() is None
    assert out._parents == ()


@pytest.mark.usefixtures("gc_off")
def test_backward_frees_each_intermediate_once_the_pass_is_past_it() -> None:
    # A rule at the bottom of a chain looks at the chain above it: every node whose rule
    # has run (and that nothing else holds) must already be gone, not kept by the pass.
    from sg_scalar.graph import Op
    from sg_scalar.value import _apply1

    seen: list[list[bool]] = []
    refs: list[weakref.ref[Value]] = []

    def probe_rule(g: float, out: float, x: float) -> tuple[float]:
        seen.append([ref() is not None for ref in refs])
        return (g,)

    probe = Op("probe", lambda x: x, probe_rule)
    x = Value(0.5)
    a = _apply1(probe, x)
    b = a.exp()
    c = b * 2.0
    out = c.sin()
    refs[:] = [weakref.ref(node) for node in (b, c)]
    del a, b, c
    out.backward()
    assert seen == [[False, False]]
    assert x.grad != 0.0
