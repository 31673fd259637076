"""A captured step replays exactly what the eager step computes, and refuses what it cannot."""

from __future__ import annotations

import dataclasses
import gc
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import sg_tensor as st
from sg_tensor import CaptureError, Tensor
from sg_tensor.capturing import replayed
from sg_tensor.kernels import INTO


@replayed
def sgd_update(params: list[Tensor], lr: float) -> None:
    """A hand-written update, replayed by every call of a captured step."""
    for p in params:
        p.data -= lr * p.grad
        p.grad = None


def mlp_params(widths: tuple[int, ...], seed: int = 0) -> list[Tensor]:
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        params.append(Tensor(rng.standard_normal((fan_out, fan_in)) / np.sqrt(fan_in),
                             requires_grad=True))  # fmt: skip
        params.append(Tensor(rng.uniform(-0.1, 0.1, fan_out), requires_grad=True))
    return params


def mlp_step(params: list[Tensor], spelling: str = "linear") -> Callable[..., Tensor]:
    def step(x: Tensor, y: Tensor) -> Tensor:
        h = x
        for i in range(0, len(params), 2):
            w, b = params[i], params[i + 1]
            h = st.linear(h, w, b) if spelling == "linear" else h @ w.T + b
            if i + 2 < len(params):
                h = h.relu()
        d = h - y
        loss = (d * d).mean()
        loss.backward()
        sgd_update(params, 0.05)
        return loss

    return step


def batches(n: int, shape_x: tuple[int, ...], shape_y: tuple[int, ...], seed: int = 1) -> list:
    rng = np.random.default_rng(seed)
    return [(Tensor(rng.standard_normal(shape_x)), Tensor(rng.standard_normal(shape_y)))
            for _ in range(n)]  # fmt: skip


@pytest.mark.parametrize("spelling", ["linear", "matmul"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_replayed_steps_are_bit_identical_to_eager_steps(spelling: str, dtype: Any) -> None:
    eager_params = [
        Tensor(p.data.astype(dtype), requires_grad=True) for p in mlp_params((3, 8, 8, 2))
    ]
    captured_params = [Tensor(p.data.copy(), requires_grad=True) for p in eager_params]
    eager = mlp_step(eager_params, spelling)
    captured = st.capture(mlp_step(captured_params, spelling))
    for x, y in batches(30, (16, 3), (16, 2)):
        x, y = x.astype(dtype), y.astype(dtype)
        expected, got = eager(x, y), captured(x, y)
        assert got.data.tobytes() == expected.data.tobytes()
        for a, b in zip(eager_params, captured_params):
            assert a.data.tobytes() == b.data.tobytes()
    assert (captured.captures, captured.replays) == (1, 29)


def test_gradients_are_left_in_grad_as_an_eager_backward_leaves_them() -> None:
    w = Tensor(np.array([[1.0, -2.0], [0.5, 3.0]]), requires_grad=True)
    b = Tensor(np.array([0.1, -0.1]), requires_grad=True)

    def loss_of(x: Tensor) -> Tensor:
        loss = (st.linear(x, w, b).relu() ** 2).sum()
        loss.backward()
        return loss

    captured = st.capture(loss_of)
    for x in (np.array([[1.0, 2.0]]), np.array([[3.0, -1.0]]), np.array([[0.5, 0.5]])):
        w.grad = b.grad = None
        captured(Tensor(x))
        got = w.grad.copy(), b.grad.copy()
        w.grad = b.grad = None
        loss_of(Tensor(x))
        assert np.array_equal(got[0], w.grad)
        assert np.array_equal(got[1], b.grad)


def test_gradients_not_cleared_between_calls_accumulate_as_in_eager_mode() -> None:
    w = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)

    def step(x: Tensor) -> Tensor:
        loss = (x * w).sum() * 2.0
        loss.backward()
        return loss

    captured = st.capture(step)
    xs = [Tensor(np.array(v)) for v in ([1.0, 0.0, 2.0], [0.5, 1.5, -1.0], [3.0, 3.0, 3.0])]
    held = []
    for x in xs:
        captured(x)
        held.append(w.grad)  # the array the caller sees must not change afterwards
    assert np.array_equal(w.grad, 2.0 * sum(x.data for x in xs))
    assert np.array_equal(held[0], 2.0 * xs[0].data)
    assert np.array_equal(held[1], 2.0 * (xs[0].data + xs[1].data))


def test_the_returned_tensor_is_a_copy_the_next_replay_does_not_change() -> None:
    w = Tensor(np.ones(4), requires_grad=True)
    captured = st.capture(lambda x: (x * w).sum())
    first = captured(Tensor(np.arange(4.0)))
    second = captured(Tensor(np.full(4, 2.0)))
    third = captured(Tensor(np.full(4, 3.0)))
    assert (first.item(), second.item(), third.item()) == (6.0, 8.0, 12.0)
    assert not third.requires_grad  # a replay builds no graph


def test_another_shape_dtype_or_flag_captures_again() -> None:
    w = Tensor(np.ones(3), requires_grad=True)
    captured = st.capture(lambda x, scale: (x * w).sum() * scale)
    assert captured(Tensor(np.ones((2, 3))), 2.0).item() == 12.0
    assert captured(Tensor(np.ones((5, 3))), 2.0).item() == 30.0  # new shape
    assert captured(Tensor(np.ones((5, 3), dtype=np.float32)), 2.0).item() == 30.0  # dtype
    assert captured(Tensor(np.ones((5, 3))), 3.0).item() == 45.0  # another plain value
    assert captured(Tensor(np.ones((5, 3)), requires_grad=True), 3.0).item() == 45.0
    assert captured.captures == 5
    assert captured(Tensor(np.full((2, 3), 2.0)), 2.0).item() == 24.0  # the first tape again
    assert (captured.captures, captured.replays) == (5, 1)


def test_a_parameter_changed_from_outside_captures_again() -> None:
    w = Tensor(np.ones(3), requires_grad=True)
    captured = st.capture(lambda x: (x * w).sum())
    captured(Tensor(np.ones(3)))
    w.data = np.ones(4)  # another shape: the tape cannot hold
    assert captured(Tensor(np.ones(4))).item() == 4.0
    assert captured.captures == 2


def test_recapture_false_raises_naming_both_calls() -> None:
    captured = st.capture(lambda x: x.sum(), recapture=False)
    captured(Tensor(np.ones((2, 3))))
    with pytest.raises(CaptureError, match=r"Tensor\(5, 3\) float64.*captured with.*\(2, 3\)"):
        captured(Tensor(np.ones((5, 3))))


@pytest.mark.parametrize(
    ("body", "what"),
    [
        (lambda x: x.sum().item(), "item"),
        (lambda x: float(x.sum()), "item"),
        (lambda x: x.tolist(), "tolist"),
        (lambda x: x * 2.0 if x.sum() else x, r"bool\(tensor\)"),
        (lambda x: x * st.randn(3), "random"),
        (lambda x: x.add_(1.0), "in-place"),
        (lambda x: x.__setitem__(0, 1.0), "in-place"),
        (lambda x: x * 2.0 if x.allclose(x * 1.0) else x, "allclose"),
        (lambda x: x * 2.0 if x.equal(x * 1.0) else x, "equal"),
        (lambda x: (x * Tensor(np.ones(3), requires_grad=True)).retain_grad(), "retain_grad"),
        (lambda x: st.tensor(x.numpy() * 2.0), r"numpy\(\)"),
        (lambda x: st.tensor(np.asarray(x) * 2.0), "np.asarray"),
    ],
)
def test_what_cannot_be_replayed_is_refused_while_capturing(body: Any, what: str) -> None:
    captured = st.capture(body)
    with pytest.raises(CaptureError, match=what):
        captured(Tensor(np.ones(3)))
    assert st.capturing.recording() is None  # a failed capture leaves nothing recording


def test_reading_or_setting_grad_and_second_order_are_refused() -> None:
    w = Tensor(np.ones(3), requires_grad=True)

    def manual_update(x: Tensor) -> None:
        (x * w).sum().backward()
        w.data -= 0.1 * w.grad  # a raw update a replay would skip: refused

    with pytest.raises(CaptureError, match=r"reading \.grad"):
        st.capture(manual_update)(Tensor(np.ones(3)))
    with pytest.raises(CaptureError, match="create_graph"):
        st.capture(lambda x: (x * w).sum().backward(create_graph=True))(Tensor(np.ones(3)))
    with pytest.raises(CaptureError, match=r"autograd\.grad"):
        st.capture(lambda x: st.autograd.grad((x * w).sum(), w))(Tensor(np.ones(3)))


def test_a_custom_function_is_refused() -> None:
    class Double(st.Function):
        @staticmethod
        def forward(ctx: Any, x: Tensor) -> Tensor:
            return x * 2.0

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            return g * 2.0

    with pytest.raises(CaptureError, match=r"Double\.apply"):
        st.capture(lambda x: Double.apply(x))(Tensor(np.ones(3)))


def test_inputs_computed_outside_the_graph_and_constants() -> None:
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    offset = Tensor(np.array([10.0, 20.0]))  # read from outside at every call

    def f(x: Tensor) -> Tensor:
        y = x * 3.0 + offset - Tensor(np.array([1.0, 1.0]))  # a constant made inside
        return (y * w).sum()

    captured = st.capture(f)
    captured(Tensor(np.zeros(2)))
    offset.data[...] = [0.0, 0.0]  # changed in place: the replay reads the new values
    assert captured(Tensor(np.ones(2))).item() == f(Tensor(np.ones(2))).item() == 6.0


# Every operator that declares a kernel, at shapes covering its kernel's branches: the
# captured gradient and value equal the eager ones bit for bit.
KERNEL_CASES: dict[str, list[Callable[..., Tensor]]] = {
    "linear": [
        lambda x, w, b: st.linear(x.reshape((4, 3)), w, b),
        lambda x, w, b: st.linear(x.reshape((2, 2, 3)), w, b),
        lambda x, w, b: st.linear(x.reshape((4, 3)), w),
        lambda x, w, b: st.linear(x[:3][None, :], w.detach(), b),
    ],
    "relu": [lambda x, w, b: x.relu()],
    "add": [lambda x, w, b: x + b[0], lambda x, w, b: x.reshape((4, 3)) + w[0]],
    "sub": [lambda x, w, b: x - b[0], lambda x, w, b: w[0] - x.reshape((4, 3))],
    "mul": [lambda x, w, b: x * b[0], lambda x, w, b: x.reshape((4, 3)) * w.detach()[0]],
    "mean": [
        lambda x, w, b: x.mean(),
        lambda x, w, b: x.reshape((4, 3)).mean(axis=0),
        lambda x, w, b: x.reshape((2, 2, 3)).mean(axis=(0, 2), keepdims=True),
    ],
}


def test_every_kernel_has_cases() -> None:
    assert {op.name for op in INTO} <= set(KERNEL_CASES)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    ("name", "index"), [(n, i) for n, cases in KERNEL_CASES.items() for i in range(len(cases))]
)
def test_kernels_give_the_operators_bits(name: str, index: int, dtype: Any) -> None:
    body = KERNEL_CASES[name][index]
    rng = np.random.default_rng(index)
    w = Tensor(rng.standard_normal((5, 3)).astype(dtype), requires_grad=True)
    b = Tensor(rng.standard_normal(5).astype(dtype), requires_grad=True)

    def f(x: Tensor) -> Tensor:
        out = body(x, w, b)
        loss = (out * out).sum()
        loss.backward()
        return out

    captured = st.capture(f)
    for _ in range(4):
        x = Tensor(rng.standard_normal(12).astype(dtype), requires_grad=True)
        x2 = Tensor(x.data.copy(), requires_grad=True)
        w.grad = b.grad = None
        got = captured(x)
        got_grads = [None if t.grad is None else t.grad.copy() for t in (w, b)]
        w.grad = b.grad = None
        expected = f(x2)
        assert got.data.tobytes() == expected.data.tobytes()
        assert x.grad.tobytes() == x2.grad.tobytes()
        for g, t in zip(got_grads, (w, b)):
            assert (g is None and t.grad is None) or g.tobytes() == t.grad.tobytes()
    assert captured.replays == 3


def _array_memory() -> int:
    """Bytes of numpy array data alive now (tracemalloc's numpy domain)."""
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.DomainFilter(True, np.lib.tracemalloc_domain)]
    )
    return sum(stat.size for stat in snapshot.statistics("filename"))


def test_memory_stays_flat_over_a_thousand_replays() -> None:
    params = mlp_params((4, 16, 16, 1))
    captured = st.capture(mlp_step(params))
    data = batches(4, (32, 4), (32, 1))
    gc.collect()
    tracemalloc.start()
    try:
        for i in range(3000):  # Python's free lists fill up (2,000 tuples of a size...)
            captured(*data[i % 4])
        total = [tracemalloc.get_traced_memory()[0]]
        for i in range(1000):
            captured(*data[i % 4])
        total.append(tracemalloc.get_traced_memory()[0])
        arrays = []
        for i in range(1000):
            captured(*data[i % 4])
            if i % 500 == 0:
                arrays.append(_array_memory())
    finally:
        tracemalloc.stop()
    assert total[1] - total[0] < 4096, total  # nothing grows with the number of steps
    assert arrays[0] == arrays[1], arrays  # no array is kept from step to step


def test_masks_and_indices_made_from_the_inputs_are_remade_at_every_replay() -> None:
    w = Tensor(np.array([1.0, -2.0, 3.0, 0.5]), requires_grad=True)

    def f(x: Tensor, labels: np.ndarray) -> Tensor:
        y = x * w
        kept = st.where(x > 0.0, y, 0.0)  # a comparison, then where's condition
        picked = kept[np.arange(3), labels]  # an index array given as an argument
        best = y.argmax(dim=1)  # an integer result, used as an index
        loss = picked.sum() + y[np.arange(3), best.data].sum()
        loss.backward()
        return loss

    captured = st.capture(f)
    rng = np.random.default_rng(7)
    for _ in range(4):
        x, labels = rng.standard_normal((3, 4)), rng.integers(0, 4, 3)
        w.grad = None
        got = captured(Tensor(x), labels).item()
        got_grad = w.grad
        w.grad = None
        assert got == f(Tensor(x), labels).item()
        assert np.array_equal(got_grad, w.grad)
    assert captured.replays == 3


@replayed
def clip_to_unit_norm(w: Tensor) -> Tensor:
    """A replayed side effect that returns a tensor: the gradient's norm before clipping."""
    norm = np.sqrt(np.sum(w._grad * w._grad))
    if norm > 1.0:
        w._grad = w._grad / norm
    return Tensor(norm)


# sg_tensor's own computations on the inputs' values (a sign, a rounding, the positions
# of maxima, a sort order, the running statistics of evaluation mode) are made again at
# every replay: a replay on new numbers equals an eager call on them.
REMADE: dict[str, Callable[[Tensor], Any]] = {
    "sign": lambda x: (x.sign() * x).sum(),
    "round": lambda x: x.round() * x,
    "remainder": lambda x: (x % 1.3) * x,
    "max along a dim": lambda x: (x * 1.0).max(dim=0),
    "min along a dim, kept": lambda x: (x * 2.0).min(dim=1, keepdim=True),
    "sort": lambda x: (x * 1.0).sort(dim=1, descending=True),
    "topk": lambda x: (x * 1.0).topk(2, dim=1),
}


@pytest.mark.parametrize("name", sorted(REMADE))
def test_values_sg_computes_from_the_inputs_are_remade_at_every_replay(name: str) -> None:
    fn = REMADE[name]

    def step(x: Tensor) -> Any:
        result = fn(x)
        first = result[0] if isinstance(result, tuple) else result
        first.sum().backward()
        return result

    captured = st.capture(step)
    rng = np.random.default_rng(3)
    for _ in range(4):
        x = rng.standard_normal((4, 3)) * 3.0
        a, b = Tensor(x, requires_grad=True), Tensor(x, requires_grad=True)
        got, want = captured(a), step(b)
        for u, v in zip(*(r if isinstance(r, tuple) else (r,) for r in (got, want))):
            assert np.array_equal(u.data, v.data), name
        assert np.array_equal(a._grad, b._grad), name
    assert captured.replays == 3
    if isinstance(got, tuple):  # a named tuple (values, indices) comes back as one
        assert type(got) is type(want)
        assert got._fields == want._fields


def test_evaluation_batch_norm_reads_the_running_statistics_at_every_replay() -> None:
    mean, var = np.array([0.5, -1.0]), np.array([2.0, 0.5])
    evaluate = st.capture(lambda x: st.batch_norm(x, running_mean=mean, running_var=var))
    x = Tensor(np.random.default_rng(4).standard_normal((5, 2)))
    evaluate(x)
    mean[...], var[...] = [3.0, 1.0], [0.25, 4.0]  # trained (in place) between two calls
    want = st.batch_norm(x, running_mean=mean, running_var=var)
    assert np.array_equal(evaluate(x).data, want.data)
    assert evaluate.replays == 1


def test_the_same_tensor_given_twice_is_a_pattern_of_its_own() -> None:
    f = st.capture(lambda x, y: x - 2.0 * y)
    t = Tensor(np.zeros(3))
    f(t, t)
    got = f(Tensor(np.array([1.0, 2.0, 3.0])), Tensor(np.array([10.0, 20.0, 30.0])))
    assert got.tolist() == [-19.0, -38.0, -57.0]
    assert f.captures == 2  # one tensor twice, then two tensors: two patterns
    u = Tensor(np.array([1.0, 1.0, 1.0]))
    assert f(u, u).tolist() == [-1.0, -1.0, -1.0]
    assert f.replays == 1


def test_numbers_are_told_apart_by_their_exact_value() -> None:
    f = st.capture(lambda x, c: 1.0 / (x * c))
    x = Tensor(np.array([1.0, -1.0]))
    with np.errstate(divide="ignore"):
        assert f(x, 0.0).tolist() == [np.inf, -np.inf]
        assert f(x, -0.0).tolist() == [-np.inf, np.inf]  # not 0.0's tape
        f(x, float("nan"))
        f(x, float("nan"))  # another nan object: the same value, replayed
    assert (f.captures, f.replays) == (3, 1)


def test_a_replayed_side_effect_gets_the_calls_tensor_and_returns_this_replays_result() -> None:
    def step(w: Tensor) -> Tensor:
        (w * w).sum().backward()
        return clip_to_unit_norm(w) * 1.0  # its result, used by the step and returned

    captured = st.capture(step)
    for values in ([3.0, 4.0], [6.0, 8.0], [0.1, 0.2]):
        a = Tensor(np.array(values), requires_grad=True)
        b = Tensor(np.array(values), requires_grad=True)
        got, want = captured(a), step(b)
        assert got.item() == want.item()
        assert np.array_equal(a._grad, b._grad)  # clipped in the argument itself
    assert captured.replays == 2


def test_a_gradient_a_rule_hands_on_is_never_overwritten_by_the_next_replay() -> None:
    # add's rule gives its gradient on unchanged: the leaf b stores the buffer of mul's
    # rule, which the next replay writes again
    b, b2 = (Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True) for _ in range(2))
    step = st.capture(lambda x: ((x + b) * x).sum().backward())
    held = []
    for i, v in enumerate([1.0, 2.0, 3.0, 4.0]):
        if i % 2 == 0:  # cleared every second call: accumulation in between
            b._grad = b2._grad = None
        x = Tensor(np.full(3, v))
        step(x)
        ((x + b2) * x).sum().backward()
        assert np.array_equal(b._grad, b2._grad)
        held.append((b._grad, b._grad.copy()))
    assert all(np.array_equal(array, copy) for array, copy in held)  # none changed since


def test_a_method_can_be_captured() -> None:
    class Model:
        def __init__(self, scale: float) -> None:
            self.scale = scale

        @st.capture
        def forward(self, x: Tensor) -> Tensor:
            return x * self.scale

    one, two = Model(1.0), Model(2.0)
    x = Tensor(np.array([1.0, 2.0]))
    assert one.forward(x).tolist() == [1.0, 2.0]
    assert two.forward(x).tolist() == [2.0, 4.0]
    assert one.forward(x).tolist() == [1.0, 2.0]  # each instance its own tape
    assert (one.forward.captures, one.forward.replays) == (1, 1)
    assert (two.forward.captures, two.forward.replays) == (1, 0)
    assert one.forward is one.forward
    assert one.forward is not two.forward


def test_instances_that_compare_equal_have_their_own_tapes() -> None:
    @dataclasses.dataclass(frozen=True)
    class Trainer:  # equal when their names are: a value, yet two models
        name: str
        weight: Tensor = dataclasses.field(compare=False, hash=False)

        @st.capture
        def step(self, x: Tensor) -> Tensor:
            return (x * self.weight).sum()

    a = Trainer("t", Tensor(np.array([1.0, 2.0])))
    b = Trainer("t", Tensor(np.array([10.0, 20.0])))
    x = Tensor(np.array([1.0, 1.0]))
    assert a == b
    assert a.step(x).item() == 3.0
    assert b.step(x).item() == 30.0  # b's own capture, not a replay of a's tape
    assert a.step(x).item() == 3.0
    assert a.step.replays == 1


def test_a_method_of_an_unhashable_instance_can_be_captured() -> None:
    @dataclasses.dataclass  # eq=True and not frozen: no hash
    class Scaler:
        scale: float

        @st.capture
        def forward(self, x: Tensor) -> Tensor:
            return x * self.scale

    s = Scaler(3.0)
    x = Tensor(np.array([1.0, 2.0]))
    assert s.forward(x).tolist() == s.forward(x).tolist() == [3.0, 6.0]
    assert (s.forward.captures, s.forward.replays) == (1, 1)


def test_the_least_recently_used_tape_is_the_one_dropped() -> None:
    f = st.capture(lambda x: x * 2.0)
    shapes = [(n,) for n in range(1, 10)]
    for shape in shapes[:8]:
        f(Tensor(np.ones(shape)))
    f(Tensor(np.ones(shapes[0])))  # replayed: now the most recently used
    f(Tensor(np.ones(shapes[8])))  # a ninth shape: drops shapes[1], not shapes[0]
    f(Tensor(np.ones(shapes[0])))
    assert (f.captures, f.replays) == (9, 2)
    f(Tensor(np.ones(shapes[1])))
    assert f.captures == 10


def pooled_indices(x: Tensor) -> Tensor:
    _, indices = st.max_pool2d(x, 2, return_indices=True)
    return indices


# More of what sg computes from values, remade at every replay (a second review's finds).
REMADE_TOO: dict[str, Callable[[Tensor], Any]] = {
    "max_pool2d indices": lambda x: pooled_indices(x.reshape((1, 1, 4, 3))) * 1,
    "tensor() copy": lambda x: st.tensor(x * 2.0) + x,
    "new_tensor copy": lambda x: x.new_tensor(x * 2.0) + x,
    "numpy's median": lambda x: x * np.median(x * 1.0),
    "numpy's cumprod": lambda x: x + np.cumprod(x * 1.0),
    "masked_fill with a tensor": lambda x: x.masked_fill(x > 0.0, x.sum()),
    "integer mean": lambda x: (x * 1e15).astype(np.int64).mean() + x,
}


@pytest.mark.parametrize("name", sorted(REMADE_TOO))
def test_more_values_computed_from_the_inputs_are_remade(name: str) -> None:
    fn = REMADE_TOO[name]
    captured = st.capture(fn)
    rng = np.random.default_rng(5)
    for _ in range(4):
        x = rng.standard_normal(12) * 3.0
        got, want = captured(Tensor(x)), fn(Tensor(x))
        assert np.array_equal(got.data, want.data), name
    assert captured.replays == 3


def test_a_hook_on_an_argument_is_refused_and_one_on_an_intermediate_replays() -> None:
    # An argument is another tensor at each replay: a hook registered on it inside the
    # step would run at capture only.
    w = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)

    def step(x: Tensor) -> None:
        x.register_hook(lambda g: g * 2.0)
        (x * w).sum().backward()

    with pytest.raises(CaptureError, match=r"register_hook\(\) on an argument of the step"):
        st.capture(step)(Tensor(np.ones(3), requires_grad=True))


def test_a_result_holding_tensors_in_an_object_is_refused_an_ordered_dict_kept() -> None:
    class Output:
        def __init__(self, loss: Tensor) -> None:
            self.loss = loss

    with pytest.raises(CaptureError, match="object of type Output holding tensors"):
        st.capture(lambda x: Output((x * 2.0).sum()))(Tensor(np.ones(3)))
    from collections import OrderedDict

    f = st.capture(lambda x: OrderedDict(loss=(x * 2.0).sum(), n=3))
    f(Tensor(np.ones(3)))
    again = f(Tensor(np.full(3, 5.0)))
    assert type(again) is OrderedDict
    assert again["loss"].item() == 30.0
    assert again["n"] == 3
    plain = st.capture(lambda x: Output(3))  # no tensor inside: returned as it was
    assert plain(Tensor(np.ones(3))).loss == 3
    # an object holding only tensors read from outside (a model) is the same object at
    # every replay: returned as it was
    w = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    model = Output(w)
    with_model = st.capture(lambda x: ((x * w).sum(), model))
    with_model(Tensor(np.ones(3)))
    loss, same = with_model(Tensor(np.full(3, 2.0)))
    assert same is model
    assert loss.item() == 12.0
    with pytest.raises(CaptureError, match=r"holding tensors of this call .*or its arguments"):
        st.capture(lambda x: Output(x))(Tensor(np.ones(3)))


def test_a_python_value_numpy_reads_from_tensors_is_refused() -> None:
    with pytest.raises(CaptureError, match="numpy's allclose"):
        st.capture(lambda x: x * 2.0 if np.allclose(x, 0.0) else x)(Tensor(np.ones(3)))


def test_masked_fill_with_a_tensor_value_sends_it_its_gradient() -> None:
    x = Tensor(np.array([1.0, -2.0, 3.0]))
    v = Tensor(np.array(5.0), requires_grad=True)
    x.masked_fill(x > 0.0, v).sum().backward()
    assert v.grad == 2.0  # two places filled with it


def test_evaluation_batch_norm_with_array_arguments() -> None:
    f = st.capture(lambda x, m, v: st.batch_norm(x, running_mean=m, running_var=v))
    x = Tensor(np.random.default_rng(6).standard_normal((4, 3)))
    f(x, np.zeros(3), np.ones(3))
    mean, var = np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0])
    want = st.batch_norm(x, running_mean=mean, running_var=var)
    assert np.array_equal(f(x, mean, var).data, want.data)


def test_backward_through_a_graph_recorded_before_the_call_is_refused() -> None:
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    step = st.capture(lambda h: (h * h).sum().backward())
    with pytest.raises(CaptureError, match=r"backward\(\) through a tensor computed outside"):
        step(w * 2.0)
    outside = w * 3.0
    with pytest.raises(CaptureError, match="computed outside the step"):
        st.capture(lambda x: (x * outside).sum().backward())(Tensor(np.ones(2)))
    with pytest.raises(CaptureError, match=r"requires_grad_\(\) on an argument"):
        st.capture(lambda x: x.requires_grad_())(Tensor(np.ones(2)))


def test_what_a_caller_or_a_hook_keeps_is_never_written_by_a_later_replay() -> None:
    w = Tensor(np.array([3.0]), requires_grad=True)
    seed_step = st.capture(lambda x: (w + x).backward())  # the seed itself ends in w.grad
    for i in range(3):
        w.grad = None
        seed_step(Tensor(np.array([float(i)])))
        assert w.grad.tolist() == [1.0]
        w.grad *= 10.0  # the caller's own array: the next replay's seed is unchanged

    hooked: list[Tensor] = []
    logged: list[Tensor] = []
    log = replayed(logged.append)
    v = Tensor(np.array([1.0, 2.0]), requires_grad=True)

    def step(x: Tensor) -> None:
        h = v * x
        h.register_hook(hooked.append)
        log(h)
        (h * h).sum().backward()

    captured = st.capture(step)
    for i in range(3):
        captured(Tensor(np.array([1.0, float(i)])))
    assert [t.tolist() for t in logged] == [[1.0, 0.0], [1.0, 2.0], [1.0, 4.0]]
    assert [t.tolist() for t in hooked] == [[2.0, 0.0], [2.0, 4.0], [2.0, 8.0]]


def test_the_default_dtype_is_part_of_a_call() -> None:
    f = st.capture(lambda x: x + st.tensor([1.0, 2.0]))
    f(Tensor(np.ones(2)))
    st.set_default_dtype(np.float32)
    try:
        assert f(Tensor(np.ones(2))).dtype == np.float64  # float64 x + float32 constant
        assert st.tensor([1.0, 2.0]).dtype == np.float32
        assert f.captures == 2
    finally:
        st.set_default_dtype(np.float64)


def _clipping_step(w: Tensor, seen: list[bool]) -> Callable[[Tensor], Tensor]:
    """A step that reads ``w`` through ``w.detach()`` before ``w`` itself, then clips
    ``w``'s gradient in a replayed side effect (as ``clip_grad_value_``) and updates it."""

    @replayed
    def clip_and_update(t: Tensor) -> None:
        seen.append(t is w)
        t._grad = np.clip(t._grad, -0.5, 0.5)
        t.data -= 0.1 * t._grad
        t._grad = None

    def step(x: Tensor) -> Tensor:
        loss = (w * x).sum() + (w.detach() ** 2).sum()
        loss.backward()
        clip_and_update(w)
        return loss

    return step


def test_a_tensor_first_seen_through_detach_is_still_read_and_passed_as_itself() -> None:
    eager_w = Tensor(np.array([3.0, -4.0]), requires_grad=True)
    captured_w = Tensor(np.array([3.0, -4.0]), requires_grad=True)
    seen: list[bool] = []
    eager = _clipping_step(eager_w, [])
    captured = st.capture(_clipping_step(captured_w, seen))
    x = Tensor(np.array([10.0, 10.0]))
    for _ in range(3):
        assert captured(x).item() == eager(x).item()
    assert seen == [True, True, True]
    assert captured.replays == 2
    assert np.array_equal(captured_w.data, eager_w.data)
    captured_w.data = np.array([1.0, 1.0])  # rebound: the replay reads the new array
    eager_w.data = np.array([1.0, 1.0])
    assert captured(x).item() == eager(x).item() == 22.0
    captured_w.requires_grad_(False)  # frozen: a new capture, whose backward refuses
    with pytest.raises(RuntimeError):
        captured(x)


def test_a_non_leaf_argument_does_not_replay_the_tape_of_a_leaf() -> None:
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)

    def step(x: Tensor) -> Tensor:
        loss = (x * w).sum()
        loss.backward()
        return loss

    captured = st.capture(step)
    captured(Tensor(np.array([1.0, 1.0]), requires_grad=True))
    a = Tensor(np.array([3.0, 4.0]), requires_grad=True)
    with pytest.raises(CaptureError, match="backward\\(\\) through a tensor computed outside"):
        captured(a * 2.0)  # its gradient goes on to a: a new capture, refused
    strict = st.capture(step, recapture=False)
    strict(Tensor(np.array([1.0, 1.0]), requires_grad=True))
    with pytest.raises(CaptureError, match="requires_grad non-leaf"):
        strict(a * 2.0)


def test_two_leaves_on_one_array_are_not_one_leaf_passed_twice() -> None:
    def step(a: Tensor, b: Tensor) -> Tensor:
        loss = (a * a.exp() + b * 3.0).sum()
        loss.backward()
        return loss

    captured = st.capture(step)
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    captured(x, x)
    shared = np.array([0.5, 1.5, 2.5])
    a, b = Tensor(shared, requires_grad=True), Tensor(shared, requires_grad=True)
    captured(a, b)
    a2, b2 = Tensor(shared, requires_grad=True), Tensor(shared, requires_grad=True)
    step(a2, b2)
    assert np.array_equal(a.grad, a2.grad)
    assert np.array_equal(b.grad, b2.grad)
    assert captured.captures == 2


def test_a_replayed_function_gets_copies_of_the_tapes_buffers() -> None:
    kept: list[np.ndarray] = []

    @replayed
    def log(values: np.ndarray) -> None:
        kept.append(values)

    w = Tensor(np.array([1.0, -1.0]), requires_grad=True)

    def step(x: Tensor) -> Tensor:
        h = x * w  # into a buffer of the tape
        log(h.data)
        return h.sum()

    captured = st.capture(step)
    for k in range(3):
        captured(Tensor(np.array([float(k), float(k)])))
    assert [a.tolist() for a in kept] == [[0.0, -0.0], [1.0, -1.0], [2.0, -2.0]]


def test_a_replay_returns_arguments_and_outside_tensors_as_themselves() -> None:
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    captured = st.capture(lambda x: {"x": x, "w": w, "y": x * w})
    for _ in range(2):
        x = Tensor(np.array([3.0, 4.0]))
        out = captured(x)
        assert out["x"] is x
        assert out["w"] is w
        assert out["y"].tolist() == [3.0, 8.0]
    assert captured.replays == 1


class _Scaled:
    def __init__(self, w: list[float]) -> None:
        self.w = Tensor(np.array(w), requires_grad=True)

    @st.capture
    def total(self, x: Tensor) -> Tensor:
        return (self.w * x).sum()


def test_an_instance_with_a_captured_method_copies_pickles_and_frees_as_any_other() -> None:
    import copy
    import pickle
    import weakref

    m = _Scaled([1.0, 2.0])
    x = Tensor(np.array([1.0, 1.0]))
    assert m.total(x).item() == 3.0
    c = copy.copy(m)
    c.w = Tensor(np.array([10.0, 20.0]), requires_grad=True)
    assert c.total(x).item() == 30.0  # its own step, not m's
    assert c.total is not m.total
    deep = copy.deepcopy(m)
    assert deep.total(x).item() == 3.0
    assert pickle.loads(pickle.dumps(m)).total(x).item() == 3.0
    gone = weakref.ref(m)
    del m
    assert gone() is None  # no cycle keeps it (nor its tapes) alive
