"""Backward passes in several threads at once: each pass keeps its own bookkeeping."""

from __future__ import annotations

import sys
import threading

import numpy as np

import sg_tensor as st


def _run_together(*loops: object) -> list[BaseException]:
    """Run each callable in its own thread, started together; the errors they raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(len(loops))

    def run(loop: object) -> None:
        try:
            start.wait()
            loop()  # type: ignore[operator]
        except BaseException as error:  # reported by the test, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(loop,)) for loop in loops]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: more interleavings
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    return errors


def test_concurrent_backward_passes_never_give_two_leaves_one_gradient_array() -> None:
    # ``add`` hands one array to both its inputs; each leaf must store its own copy even
    # while another thread's backward passes start and end in between.
    leaves = [st.tensor(np.ones(3), requires_grad=True) for _ in range(1000)]
    other = st.tensor(np.ones(3), requires_grad=True)
    shared: list[int] = []  # per pass, how many leaves shared another's array
    done = threading.Event()

    def many_leaves() -> None:
        for _ in range(60):
            for leaf in leaves:
                leaf.grad = None
            rest = leaves[1]
            for leaf in leaves[2:]:
                rest = rest + leaf
            (leaves[0] + rest * 2.0).sum().backward()
            # Each leaf's gradient is an array of its own: no two share a buffer.
            buffers = {leaf.grad.__array_interface__["data"][0] for leaf in leaves}
            if len(buffers) < len(leaves):
                shared.append(len(leaves) - len(buffers))
        done.set()

    def short_passes() -> None:
        for _ in range(100_000):
            if done.is_set():
                return
            other.grad = None
            (other * 2.0).sum().backward()

    assert _run_together(many_leaves, short_passes) == []
    assert shared == []
    np.testing.assert_array_equal(leaves[0].grad, np.ones(3))
    np.testing.assert_array_equal(leaves[-1].grad, np.full(3, 2.0))
    np.testing.assert_array_equal(other.grad, np.full(3, 2.0))


def test_threads_computing_gradients_get_what_a_single_thread_gets() -> None:
    rng = np.random.default_rng(0)
    problems = [(rng.standard_normal((8, 4)), rng.standard_normal((4, 3))) for _ in range(4)]

    def gradients(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        xt, wt = st.tensor(x, requires_grad=True), st.tensor(w, requires_grad=True)
        (xt @ wt).tanh().sum().backward()
        assert xt.grad is not None
        assert wt.grad is not None
        return xt.grad, wt.grad

    expected = [gradients(x, w) for x, w in problems]
    got: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {i: [] for i in range(4)}

    def worker(i: int) -> None:
        for _ in range(200):
            got[i].append(gradients(*problems[i]))

    assert _run_together(*[lambda i=i: worker(i) for i in range(4)]) == []
    for i, results in got.items():
        for gx, gw in results:
            np.testing.assert_array_equal(gx, expected[i][0])
            np.testing.assert_array_equal(gw, expected[i][1])


def test_two_threads_replaying_one_captured_step_get_their_own_results() -> None:
    # a tape's buffers are shared by its replays: they take turns (one lock per tape)
    w = st.Tensor(np.array([1.0, 2.0, 3.0]))
    step = st.capture(lambda x: (x * w + x).relu())
    step(st.Tensor(np.ones(3)))
    wrong: list[int] = []

    def replays(seed: int) -> None:
        rng = np.random.default_rng(seed)
        for _ in range(1000):
            x = rng.standard_normal(3)
            if not np.array_equal(step(st.Tensor(x)).data, np.maximum(x * w.data + x, 0)):
                wrong.append(seed)

    assert _run_together(lambda: replays(0), lambda: replays(1)) == []
    assert wrong == []
