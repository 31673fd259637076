"""``grad_reads``: what an operator declares each input's gradient reads, checked.

A pass refuses a graph whose rules would read data modified in place since; for an
operator declaring ``grad_reads`` it refuses only an input a gradient it computes reads
(as PyTorch saves a tensor only for the gradients that need it). A wrong declaration
would let a modified input through to a gradient that reads it: each one is checked here
by changing every input the declaration says a gradient does not read, and comparing.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import sg_tensor as st
from sg_tensor import OPS, Tensor
from sg_tensor.op import call

R = np.random.default_rng(7)


def _normalized(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    return st.batch_norm(x, w, b, None, None, True)  # training: the batch's statistics


GEOMETRY = {"stride": (1, 1), "padding": ((0, 0), (0, 0)), "dilation": (1, 1), "groups": 1}
BUILDERS: dict[str, list[tuple[Callable[..., Tensor], tuple[tuple[int, ...], ...]]]] = {
    "mul": [(lambda a, b: a * b, ((3, 4), (3, 4)))],
    "div": [(lambda a, b: a / b, ((3, 4), (3, 4)))],
    "matmul": [(lambda a, b: a @ b, ((3, 4), (4, 5))), (lambda a, b: a @ b, ((4,), (4,))),
               (lambda a, b: a @ b, ((2, 3, 4), (4,)))],
    "linear": [(st.linear, ((5, 3), (2, 3), (2,))), (st.linear, ((2, 5, 3), (2, 3), (2,)))],
    "conv2d": [(st.conv2d, ((2, 3, 6, 6), (4, 3, 3, 3), (4,)))],
    "conv_transpose2d": [(st.conv_transpose2d, ((2, 3, 4, 4), (3, 2, 3, 3), (2,)))],
    "batch_norm": [(_normalized, ((6, 3), (3,), (3,))), (_normalized, ((2, 3, 4, 4), (3,), (3,)))],
    "conv2d_weight": [(lambda x, g: call("conv2d_weight", x, g, kernel=(3, 3), **GEOMETRY),
                       ((2, 3, 6, 6), (2, 4, 4, 4)))],
}  # fmt: skip


def test_every_operator_declaring_grad_reads_is_checked() -> None:
    declared = {name for name, op in OPS.items() if op.grad_reads is not None}
    assert declared == set(BUILDERS)


def _cases() -> list[tuple[str, Callable[..., Tensor], tuple[tuple[int, ...], ...], int]]:
    return [
        (name, build, shapes, i)
        for name, builds in BUILDERS.items()
        for build, shapes in builds
        for i in range(len(shapes))
    ]


@pytest.mark.parametrize(("name", "build", "shapes", "i"), _cases())
def test_a_gradient_does_not_read_the_inputs_its_declaration_leaves_out(
    name: str, build: Callable[..., Tensor], shapes: tuple[tuple[int, ...], ...], i: int
) -> None:
    arrays = [R.uniform(0.5, 2.0, s) for s in shapes]
    node = build(*[Tensor(a, requires_grad=True) for a in arrays])
    op, ctx = node._op, dict(node._ctx or {})
    assert op is OPS[name]
    ctx["needs_input_grad"] = tuple(j == i for j in range(len(shapes)))
    g = R.standard_normal(node.shape)
    expected = op.vjp(g, node.data, *arrays, **ctx)[i]
    read = set(op.grad_reads[i])
    changed = [a if j in read else R.uniform(-3.0, -1.0, a.shape) for j, a in enumerate(arrays)]
    np.testing.assert_array_equal(op.vjp(g, node.data, *changed, **ctx)[i], expected)
    if i not in read:  # the input itself changed too: its gradient does not depend on it
        assert not np.array_equal(changed[i], arrays[i])
