"""Memory: graphs are freed by reference counting, and backward() frees them early.

The cyclic garbage collector is off in these tests: a graph that needed it would hold a
reference cycle and outlive ``del``. A training loop's traced memory must stay flat; the
same measurement must see the growth of a loop that keeps one graph per step alive.
"""

from __future__ import annotations

import gc
import tracemalloc
import weakref
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from sg_tensor import Function, Tensor, no_grad

LEAK_BOUND = 64 * 1024  # bytes between step 100 and step 1000


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


def _graph(x: Tensor, w: Tensor) -> tuple[Tensor, list[Tensor]]:
    a = x @ w
    b = a.tanh()
    c = b + a  # a diamond: a reaches c directly and through b
    d = c.maximum(x.sum()) ** 2
    e = d[:, ::-1].softmax(axis=1)
    return (e * w).sum(), [a, b, c, d, e]


def _leaves() -> tuple[Tensor, Tensor]:
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((3, 3)), requires_grad=True)
    w = Tensor(rng.standard_normal((3, 3)), requires_grad=True)
    return x, w


@pytest.mark.usefixtures("gc_off")
def test_dropped_graph_is_freed_by_reference_counting() -> None:
    x, w = _leaves()
    out, intermediates = _graph(x, w)
    refs = [weakref.ref(t) for t in [*intermediates, out]]
    del out, intermediates
    assert [r() for r in refs] == [None] * len(refs)


@pytest.mark.usefixtures("gc_off")
def test_backward_frees_intermediates_while_the_output_is_alive() -> None:
    x, w = _leaves()
    out, intermediates = _graph(x, w)
    refs = [weakref.ref(t) for t in intermediates]
    del intermediates
    assert all(r() is not None for r in refs)  # held by out's graph
    out.backward()
    assert [r() for r in refs] == [None] * len(refs)
    assert out.data.shape == ()
    assert x.grad is not None
    assert w.grad is not None


@pytest.mark.usefixtures("gc_off")
def test_retain_graph_keeps_the_intermediates() -> None:
    x, w = _leaves()
    out, intermediates = _graph(x, w)
    refs = [weakref.ref(t) for t in intermediates]
    del intermediates
    out.backward(retain_graph=True)
    assert all(r() is not None for r in refs)
    out.backward()  # the last pass frees them
    assert [r() for r in refs] == [None] * len(refs)


@pytest.mark.usefixtures("gc_off")
def test_leaves_do_not_keep_the_graph_alive() -> None:
    x, w = _leaves()
    out, intermediates = _graph(x, w)
    refs = [weakref.ref(t) for t in [*intermediates, out]]
    out.backward(retain_graph=True)
    del out, intermediates
    assert [r() for r in refs] == [None] * len(refs)
    assert x.grad is not None  # the gradients stay on the leaves


def _train(steps: int, checkpoints: tuple[int, ...], keep: list[Tensor] | None) -> list[int]:
    """A 2-16-1 MLP with manual SGD; the traced memory at each checkpoint step."""
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((32, 2))
    ys = (xs[:, :1] * xs[:, 1:] > 0).astype(np.float64)
    w1 = Tensor(rng.standard_normal((2, 16)) * 0.5, requires_grad=True)
    b1 = Tensor(np.zeros(16), requires_grad=True)
    w2 = Tensor(rng.standard_normal((16, 1)) * 0.5, requires_grad=True)
    b2 = Tensor(np.zeros(1), requires_grad=True)
    params = [w1, b1, w2, b2]
    lr = 0.05
    measured = []
    first_loss = last_loss = 0.0
    for step in range(1, steps + 1):
        h = (xs @ w1 + b1).relu()
        p = (h @ w2 + b2).sigmoid()
        loss = -(ys * (p + 1e-9).log() + (1 - ys) * (1 - p + 1e-9).log()).mean()
        loss.backward(retain_graph=keep is not None)
        if keep is not None:
            keep.append(loss)
        with no_grad():
            for param in params:
                param.data -= lr * param.grad
                param.grad = None
        last_loss = loss.item()
        if step == 1:
            first_loss = last_loss
        if step in checkpoints:
            gc.collect()
            measured.append(tracemalloc.get_traced_memory()[0])
    assert last_loss < first_loss  # it does learn
    return measured


def test_training_loop_memory_stays_flat() -> None:
    tracemalloc.start()
    try:
        at_100, at_1000 = _train(1000, (100, 1000), keep=None)
    finally:
        tracemalloc.stop()
    assert at_1000 - at_100 < LEAK_BOUND, f"memory grew by {at_1000 - at_100} bytes"


def test_the_memory_measurement_sees_a_leak_of_one_graph_per_step() -> None:
    kept: list[Tensor] = []
    tracemalloc.start()
    try:
        at_100, at_300 = _train(300, (100, 300), keep=kept)
    finally:
        tracemalloc.stop()
    assert at_300 - at_100 > 10 * LEAK_BOUND  # a graph is ~20 KB: some 4 MB here


# ---------------------------------------------------------------------------------------
# Before a pass: the intermediates no rule reads and nobody holds give up their arrays
# ---------------------------------------------------------------------------------------
def _watching_chain(keep: str) -> tuple[list[bool], Tensor, Tensor, list[Tensor]]:
    """x -> z = x + 1 (add reads nothing) -> h = relu(z) (reads its output only) ->
    a probe whose rule, the first to run, looks at z's array -> sum. ``keep`` names the
    intermediates the caller holds."""
    from sg_scalar.graph import Op

    seen: list[bool] = []
    arrays: list[weakref.ref[np.ndarray]] = []

    def look(g: np.ndarray, out: np.ndarray, h: np.ndarray) -> tuple[np.ndarray]:
        seen.append(arrays[0]() is not None)
        return (g * 2.0,)

    probe = Op("watch", lambda h: h * 2.0, look)
    x = Tensor(np.random.default_rng(0).standard_normal((100, 100)), requires_grad=True)
    z = x + 1.0
    h = z.relu()
    arrays.append(weakref.ref(z.data))
    loss = h._apply1(probe).sum()
    held = [t for name, t in (("z", z), ("h", h)) if name in keep]
    return seen, x, loss, held


@pytest.mark.usefixtures("gc_off")
def test_an_intermediate_no_rule_reads_gives_up_its_array_before_the_pass() -> None:
    seen, x, loss, _ = _watching_chain(keep="")
    loss.backward()
    assert seen == [False]  # z's array was gone before the first rule ran
    want = 2.0 * (x.data + 1.0 > 0)
    np.testing.assert_array_equal(x.grad, want)


@pytest.mark.usefixtures("gc_off")
def test_an_intermediate_the_caller_holds_keeps_its_array() -> None:
    seen, x, loss, (z, _h) = _watching_chain(keep="zh")
    before = z.data.copy()
    loss.backward()
    assert seen == [True]
    np.testing.assert_array_equal(z.data, before)
    np.testing.assert_array_equal(x.grad, 2.0 * (before > 0))


@pytest.mark.usefixtures("gc_off")
def test_an_array_a_rule_reads_is_kept_and_a_second_pass_gives_the_same() -> None:
    x = Tensor(np.random.default_rng(1).standard_normal((100, 100)), requires_grad=True)
    e = x.exp()  # exp's rule reads its output: kept, though nobody holds e
    ref = weakref.ref(e.data)
    loss = (e + 1.0).relu().sum()
    del e
    loss.backward(retain_graph=True)
    assert ref() is not None
    first = x.grad.copy()
    loss.backward()  # the retained graph, its unread arrays released: the same gradient
    np.testing.assert_array_equal(x.grad, 2 * first)


@pytest.mark.usefixtures("gc_off")
@pytest.mark.parametrize("hook", ["settrace", "setprofile"])
def test_a_tracer_or_profiler_never_makes_a_held_tensor_look_unheld(hook: str) -> None:
    # Python 3.10 copies a frame's locals for a Python-level tracer: the references the
    # release counts itself are measured at each pass, under the same conditions
    import sys

    set_hook = getattr(sys, hook)
    x = Tensor(np.random.default_rng(2).standard_normal((100, 100)), requires_grad=True)
    for tracing in (True, False):
        h = x @ x  # held by this test
        before = h.data.copy()
        set_hook((lambda *args: None) if tracing else None)
        try:
            h.relu().sum().backward()
        finally:
            set_hook(None)
        np.testing.assert_array_equal(h.data, before)


# -- a second contribution to one gradient is summed into the first --------------------
def _used_twice(keep: list[np.ndarray] | None) -> tuple[Tensor, list[weakref.ref]]:
    """``x`` through a user's identity, read by two user operators whose backward makes
    a fresh array (also put in ``keep``, if given): x's gradient is the driver's sum."""
    made: list[weakref.ref] = []

    class Identity(Function):
        @staticmethod
        def forward(ctx: Any, x: Tensor) -> Tensor:
            return x + 0.0

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            return g

    class Double(Function):
        @staticmethod
        def forward(ctx: Any, h: Tensor) -> Tensor:
            return h * 2.0

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            r = g * 2.0
            made.append(weakref.ref(r.data))
            if keep is not None:
                keep.append(r.data)
            return r

    x = Tensor(np.arange(3.0), requires_grad=True)
    h = Identity.apply(x)
    (Double.apply(h) + Double.apply(h) * 3.0).sum().backward()
    return x, made


@pytest.mark.usefixtures("gc_off")
def test_a_second_contribution_is_summed_into_the_first_when_only_the_pass_holds_it() -> None:
    x, made = _used_twice(None)
    np.testing.assert_array_equal(x.grad, np.full(3, 8.0))
    # the first rule's array carries the sum (and is x's .grad): no third array was made
    assert [ref() is x.grad for ref in made].count(True) == 1


@pytest.mark.usefixtures("gc_off")
def test_a_contribution_someone_holds_is_never_written() -> None:
    kept: list[np.ndarray] = []
    x, _ = _used_twice(kept)
    np.testing.assert_array_equal(x.grad, np.full(3, 8.0))
    # each rule's array still holds what that rule returned (2 and 6, in either order)
    assert sorted(k.tolist() for k in kept) == [[2.0] * 3, [6.0] * 3]
    assert all(k is not x.grad for k in kept)


@pytest.mark.usefixtures("gc_off")
def test_a_gradient_handed_to_two_inputs_is_not_summed_in_place() -> None:
    # add's rule hands one g to both inputs; x + x sums that array with itself
    x = Tensor(np.arange(3.0), requires_grad=True)
    h = x * 1.0
    (h + h).sum().backward()
    np.testing.assert_array_equal(x.grad, np.full(3, 2.0))
    y = Tensor(np.arange(3.0), requires_grad=True)
    u = y * 1.0
    ((u + u) + u).backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(y.grad, [3.0, 6.0, 9.0])


@pytest.mark.usefixtures("gc_off")
@pytest.mark.parametrize("hook", ["settrace", "setprofile"])
def test_a_tracer_never_makes_a_held_contribution_look_unheld(hook: str) -> None:
    import sys

    set_hook = getattr(sys, hook)
    for tracing in (True, False):
        kept: list[np.ndarray] = []
        set_hook((lambda *args: None) if tracing else None)
        try:
            x, _ = _used_twice(kept)
        finally:
            set_hook(None)
        assert sorted(k.tolist() for k in kept) == [[2.0] * 3, [6.0] * 3]
        np.testing.assert_array_equal(x.grad, np.full(3, 8.0))
