"""Convolutions in PyTorch's layout: ``conv2d``, ``conv_transpose2d``, ``conv1d``,
``conv_transpose1d``.

A convolution (PyTorch's, a cross-correlation) slides a kernel over the input: output
pixel ``(p, q)`` of channel ``o`` is the dot product of kernel ``o`` with the window of
the input at ``(p * stride, q * stride)``. Its gradients are convolutions too:

- the input's is the *transposed convolution* of the output gradient with the same
  kernel: each window sends its share of the gradient back to the pixels it read;
- the kernel's is the correlation of the input with the output gradient
  (``conv2d_weight``, an operator only rules call).

Each of the three is linear in each of its two arguments, and their gradients are the
same three again. So the rules below call one another, and second derivatives (a
gradient penalty on a CNN) come from the same rules.

The arithmetic is numpy's strided windows and one batched matrix product ("im2col"): the
windows are an ``as_strided`` view of the padded input, copied once into columns and
multiplied by the kernel as a matrix. The transposed direction multiplies first and adds
the columns back into place one kernel offset at a time (a loop over the ``kh * kw``
offsets, never over pixels or batch elements).

Inside, ``padding`` is a pair ``(before, after)`` per spatial axis. ``after`` may be
negative: rows past the last window, which no window reads (``conv_transpose2d``'s
``output_padding`` adds them).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from sg_scalar.bounds import Bounds
from sg_scalar.declare import REAL, Case, Torch
from sg_tensor.arguments import int_tuple
from sg_tensor.op import OPS, call, composite, op, positional
from sg_tensor.tensor import Tensor, as_tensor, operand

Grads = tuple[Any, ...]
Pair = tuple[int, int]
Padding = tuple[Pair, Pair]


# ---------------------------------------------------------------------------------------
# The arithmetic, on arrays
# ---------------------------------------------------------------------------------------
def out_size(size: Pair, kernel: Pair, stride: Pair, padding: Padding, dilation: Pair) -> Pair:
    """The number of windows along each spatial axis."""
    h, w = (
        (n + before + after - d * (k - 1) - 1) // s + 1
        for n, k, s, (before, after), d in zip(size, kernel, stride, padding, dilation)
    )
    return h, w


def windows(
    x: np.ndarray, kernel: Pair, stride: Pair, padding: Padding, dilation: Pair, out: Pair,
    fill: float = 0.0, writeable: bool = False,
) -> np.ndarray:  # fmt: skip
    """Every window of ``x`` (N, C, H, W) padded with ``fill``, as a read-only view of
    shape ``(N, C, kh, kw, Ho, Wo)``: ``[n, c, i, j, p, q]`` is the input pixel that
    kernel offset ``(i, j)`` meets in output pixel ``(p, q)``. ``writeable``: a view to
    write ``x`` through, where nothing is padded and no two windows share a pixel."""
    (top, bottom), (left, right) = padding
    padded_from = x
    if top or left or bottom > 0 or right > 0:
        n, c, h, w = x.shape
        padded = np.full((n, c, h + top + max(bottom, 0), w + left + max(right, 0)), fill, x.dtype)
        padded[:, :, top : top + h, left : left + w] = x
        x = padded
    # as_strided checks nothing: a view reaching past the array would read (or, writeable,
    # overwrite) memory that is not the array's. The geometry's callers compute it right;
    # this makes a wrong one (a changed rule, a source mutant) an error, not corruption.
    for axis, n, k, s, d, o in zip("HW", x.shape[2:], kernel, stride, dilation, out):
        if o > 0 and k > 0 and (o - 1) * s + (k - 1) * d >= n:
            raise ValueError(
                f"windows: {o} windows of {k} (stride {s}, dilation {d}) reach past the "
                f"{n} {axis} pixels of the {'padded ' if x is not padded_from else ''}input"
            )
    sn, sc, sh, sw = x.strides
    shape = x.shape[:2] + tuple(kernel) + tuple(out)
    steps = (sn, sc, sh * dilation[0], sw * dilation[1], sh * stride[0], sw * stride[1])
    return as_strided(x, shape, steps, writeable=writeable)


def _columns(x: np.ndarray, kernel: Pair, groups: int, out: Pair, **geometry: Any) -> np.ndarray:
    """The windows as one matrix per group: ``(N, groups, C/groups * kh * kw, Ho * Wo)``
    (a copy: the "im2col" of the input)."""
    view = windows(x, kernel, out=out, **geometry)
    n, c = x.shape[:2]
    return view.reshape(n, groups, c // groups * kernel[0] * kernel[1], out[0] * out[1])


def add_back(cols: np.ndarray, size: Pair, stride: Pair, padding: Padding, dilation: Pair) -> Any:
    """The adjoint of :func:`windows`: each window's values, ``(N, C, kh, kw, Ho, Wo)``,
    added back at the pixels the window read, in an ``(N, C, *size)`` array."""
    n, c, kh, kw, ho, wo = cols.shape
    (top, bottom), (left, right) = padding
    height, width = size[0] + top + max(bottom, 0), size[1] + left + max(right, 0)
    padded = np.zeros((n, c, height, width), dtype=cols.dtype)
    (sh, sw), (dh, dw) = stride, dilation
    for i in range(kh):  # one kernel offset at a time: a strided slice per offset
        for j in range(kw):
            rows = slice(i * dh, i * dh + sh * (ho - 1) + 1, sh)
            columns = slice(j * dw, j * dw + sw * (wo - 1) + 1, sw)
            padded[:, :, rows, columns] += cols[:, :, i, j]
    if padded.shape[2:] == tuple(size):
        return padded
    return np.ascontiguousarray(padded[:, :, top : top + size[0], left : left + size[1]])


def _add_bias(out: np.ndarray, b: np.ndarray | None) -> Any:
    if b is None:
        return out
    bias = b.reshape((-1, 1, 1))
    if bias.dtype == out.dtype:
        out += bias  # the product is a fresh array: add in place, no second array
        return out
    return out + bias


def _conv2d(
    x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *, stride: Pair,
    padding: Padding, dilation: Pair, groups: int,
) -> Any:  # fmt: skip
    n, _, h, width = x.shape
    o, _, kh, kw = w.shape
    out = out_size((h, width), (kh, kw), stride, padding, dilation)
    cols = _columns(x, (kh, kw), groups, out, stride=stride, padding=padding, dilation=dilation)
    kernel = w.reshape(groups, o // groups, cols.shape[2])
    product = np.matmul(kernel, cols)  # (N, groups, O/groups, Ho * Wo)
    return _add_bias(product.reshape(n, o, *out), b)


def _conv_transpose2d(
    y: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *, stride: Pair,
    padding: Padding, dilation: Pair, groups: int, size: Pair,
) -> Any:  # fmt: skip
    n, o, ho, wo = y.shape
    _, cg, kh, kw = w.shape
    reach = (dilation[0] * (kh - 1), dilation[1] * (kw - 1))
    (top, bottom), (left, right) = padding
    pads = ((reach[0] - top, reach[0] - bottom), (reach[1] - left, reach[1] - right))
    gathered = (ho + sum(pads[0]) - reach[0], wo + sum(pads[1]) - reach[1])
    if stride == (1, 1) and min(pads[0][0], pads[1][0]) >= 0 and gathered == tuple(size):
        return _add_bias(_transposed_as_correlation(y, w, pads, dilation, groups), b)
    kernel = w.reshape(groups, o // groups, cg * kh * kw)
    cols = np.matmul(kernel.transpose(0, 2, 1), y.reshape(n, groups, o // groups, ho * wo))
    cols = cols.reshape(n, groups * cg, kh, kw, ho, wo)
    return _add_bias(add_back(cols, size, stride, padding, dilation), b)


def _transposed_as_correlation(
    y: np.ndarray, w: np.ndarray, pads: Padding, dilation: Pair, groups: int
) -> Any:
    """A stride-1 transposed convolution as a plain one: each input pixel gathers the
    output pixels whose windows read it, which is a convolution of ``y`` padded by
    ``pads`` (the kernel's reach less the forward's padding) with the kernel flipped and
    its two channel axes swapped. One product with gathered windows, where the
    scattering form adds the windows back one kernel offset at a time."""
    o, cg, kh, kw = w.shape
    flipped = w[:, :, ::-1, ::-1].reshape(groups, o // groups, cg, kh, kw)
    kernel = flipped.transpose(0, 2, 1, 3, 4).reshape(groups * cg, o // groups, kh, kw)
    return _conv2d(y, kernel, stride=(1, 1), padding=pads, dilation=dilation, groups=groups)


def _conv2d_weight(
    x: np.ndarray, g: np.ndarray, *, stride: Pair, padding: Padding, dilation: Pair,
    groups: int, kernel: Pair,
) -> Any:  # fmt: skip
    n, c = x.shape[:2]
    o, ho, wo = g.shape[1:]
    view = windows(x, kernel, stride, padding, dilation, (ho, wo))
    # The batch folded into the product's inner axis: one product per group over all the
    # samples' pixels (with the windows gathered batch-inside), not one per sample summed.
    view = view.reshape(n, groups, c // groups, *view.shape[2:])
    cols = np.ascontiguousarray(view.transpose(1, 2, 3, 4, 0, 5, 6))
    cols = cols.reshape(groups, c // groups * kernel[0] * kernel[1], n * ho * wo)
    grads = np.ascontiguousarray(g.reshape(n, groups, o // groups, ho * wo).transpose(1, 2, 0, 3))
    product = np.matmul(grads.reshape(groups, o // groups, n * ho * wo), cols.transpose(0, 2, 1))
    return product.reshape(o, c // groups, *kernel)


# ---------------------------------------------------------------------------------------
# Arguments: PyTorch's, checked with the operator's name and the shapes involved
# ---------------------------------------------------------------------------------------
def _padding(
    value: Any, kernel: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...],
    where: str,
) -> tuple[Pair, ...]:  # fmt: skip
    """PyTorch's ``padding``: an int, one per spatial axis, ``"valid"`` (none) or
    ``"same"`` (the output as large as the input; the odd pixel of an even total goes
    after, as PyTorch pads)."""
    if isinstance(value, str):
        if value == "valid":
            return tuple((0, 0) for _ in kernel)
        if value != "same":
            raise ValueError(f"{where}: padding must be an int, ints, 'valid' or 'same', got "
                             f"{value!r}")  # fmt: skip
        if any(s != 1 for s in stride):
            raise ValueError(f"{where}: padding='same' is not supported for strided "
                             f"convolutions (stride {stride})")  # fmt: skip
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return tuple((t // 2, t - t // 2) for t in totals)
    return tuple((p, p) for p in int_tuple(value, len(kernel), "padding", where, least=0))


def _groups(value: Any, where: str) -> int:
    return int_tuple(value, 1, "groups", where)[0]


def _check_conv(
    where: str, x: Tensor, w: Tensor, b: Tensor | None, groups: int, transposed: bool = False
) -> None:
    """The shapes PyTorch accepts: ``x`` (N, C, ...) and ``w`` of the same rank, channels
    that match, groups dividing them, a bias per output channel."""
    rank = w.ndim
    if x.ndim != rank:
        raise ValueError(f"{where}: expected an input of {rank} dimensions (N, C, ...) to match "
                         f"weight {w.shape}, got input {x.shape}")  # fmt: skip
    in_channels = w.shape[0] if transposed else w.shape[1] * groups
    if x.shape[1] != in_channels:
        expects = "weight.shape[0]" if transposed else "weight.shape[1] * groups"
        raise ValueError(f"{where}: input {x.shape} has {x.shape[1]} channels but weight "
                         f"{w.shape} with groups={groups} expects {in_channels} "
                         f"({expects})")  # fmt: skip
    if w.shape[0] % groups:
        raise ValueError(f"{where}: weight {w.shape}: its {w.shape[0]} "
                         f"{'input' if transposed else 'output'} channels are not divisible "
                         f"by groups={groups}")  # fmt: skip
    out_channels = w.shape[1] * groups if transposed else w.shape[0]
    if b is not None and b.shape != (out_channels,):
        raise ValueError(f"{where}: bias must have shape ({out_channels},) for weight "
                         f"{w.shape}, got {b.shape}")  # fmt: skip
    if 0 in x.shape[1:] or 0 in w.shape:
        raise ValueError(f"{where}: empty input {x.shape} or weight {w.shape}")


def _operands(where: str, input: Any, weight: Any, bias: Any, spatial: int) -> Any:
    """``input`` batched (an unbatched one gets a batch axis, as PyTorch accepts), the
    weight and bias as Tensors, and whether a batch axis was added."""
    x = as_tensor(input)
    w = operand(weight, x, where)
    b = None if bias is None else operand(bias, x, where)
    if w.ndim != spatial + 2:
        raise ValueError(f"{where}: weight must have {spatial + 2} dimensions, got {w.shape}")
    unbatched = x.ndim == spatial + 1
    if unbatched:
        x = x.reshape((1,) + x.shape)
    if x.data.dtype.kind != "f":
        raise TypeError(f"{where}: input must be floating point, got dtype {x.dtype}")
    return x, w, b, unbatched


def _apply(name: str, x: Tensor, w: Tensor, b: Tensor | None, ctx: dict[str, Any]) -> Tensor:
    inputs = (x, w) if b is None else (x, w, b)
    return Tensor._apply_n(OPS[name], inputs, ctx)


def _shown(sizes: tuple[Any, ...], spatial: int) -> tuple[Any, ...]:
    """The last ``spatial`` entries of a per-axis tuple: a 1-D call runs as 2-D of height
    1, and its messages speak of its own axis."""
    return sizes[-spatial:]


def _convolve(
    where: str, x: Tensor, w: Tensor, b: Tensor | None, stride: Pair, padding: Padding,
    dilation: Pair, groups: int, spatial: int = 2,
) -> Tensor:  # fmt: skip
    """``conv2d``'s operator on a 4-D input, after checking the windows fit (``spatial``:
    the axes the caller has, for its messages)."""
    kernel = w.shape[2:]
    reach = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    padded = tuple(n + a + c for n, (a, c) in zip(x.shape[2:], padding))
    if any(r > p for r, p in zip(reach, padded)):
        n = spatial
        raise ValueError(f"{where}: the kernel {_shown(kernel, n)} with dilation "
                         f"{_shown(dilation, n)} spans {_shown(reach, n)}, larger than the "
                         f"padded input {_shown(padded, n)} (input "
                         f"{x.shape[:2] + _shown(x.shape, n)}, padding "
                         f"{_shown(padding, n)})")  # fmt: skip
    ctx = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    return _apply("conv2d", x, w, b, ctx)


def _conv2d_entry(
    input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
    dilation: Any = 1, groups: Any = 1,
) -> Tensor:  # fmt: skip
    """The 2-D convolution (cross-correlation) of ``input`` (N, C, H, W) or (C, H, W)
    with ``weight`` (O, C / groups, kh, kw), plus ``bias`` (O,): PyTorch's ``conv2d``.

    ``stride``, ``dilation``: an int or a pair; ``padding``: an int, a pair, ``"valid"``
    or ``"same"``; ``groups`` splits the channels into that many separate convolutions.
    """
    where = "conv2d"
    x, w, b, unbatched = _operands(where, input, weight, bias, 2)
    g = _groups(groups, where)
    _check_conv(where, x, w, b, g)
    s = int_tuple(stride, 2, "stride", where)
    d = int_tuple(dilation, 2, "dilation", where)
    p = _padding(padding, w.shape[2:], s, d, where)
    out = _convolve(where, x, w, b, s, p, d, g)  # type: ignore[arg-type]
    return out.reshape(out.shape[1:]) if unbatched else out


def _conv1d_entry(
    input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
    dilation: Any = 1, groups: Any = 1,
) -> Tensor:  # fmt: skip
    """The 1-D convolution of ``input`` (N, C, L) or (C, L) with ``weight`` (O, C /
    groups, k), plus ``bias`` (O,): PyTorch's ``conv1d``, computed as a ``conv2d`` of
    height 1."""
    where = "conv1d"
    x, w, b, unbatched = _operands(where, input, weight, bias, 1)
    g = _groups(groups, where)
    _check_conv(where, x, w, b, g)
    (s,) = int_tuple(stride, 1, "stride", where)
    (d,) = int_tuple(dilation, 1, "dilation", where)
    (p,) = _padding(padding, w.shape[2:], (s,), (d,), where)
    flat_x = x.reshape(x.shape[:2] + (1,) + x.shape[2:])
    flat_w = w.reshape(w.shape[:2] + (1,) + w.shape[2:])
    out = _convolve(where, flat_x, flat_w, b, (1, s), ((0, 0), p), (1, d), g, spatial=1)
    out = out.reshape(out.shape[:2] + out.shape[3:])
    return out.reshape(out.shape[1:]) if unbatched else out


def _transposed(
    where: str, x: Tensor, w: Tensor, b: Tensor | None, stride: tuple[int, ...],
    padding: tuple[int, ...], output_padding: tuple[int, ...], dilation: tuple[int, ...],
    groups: int, spatial: int = 2,
) -> Tensor:  # fmt: skip
    """``conv_transpose2d``'s operator: the adjoint of the convolution whose input has the
    size PyTorch gives the transposed output, ``(n - 1) * s - 2 p + d (k - 1) + op + 1``
    (``spatial``: the axes the caller has, for its messages)."""
    kernel, n = w.shape[2:], spatial
    for op_, s, d in zip(output_padding, stride, dilation):
        if op_ >= max(s, d):
            raise ValueError(f"{where}: output_padding {_shown(output_padding, n)} must be "
                             f"smaller than stride {_shown(stride, n)} or dilation "
                             f"{_shown(dilation, n)}")  # fmt: skip
    size = tuple(
        (n - 1) * s - 2 * p + d * (k - 1) + op_ + 1
        for n, k, s, p, d, op_ in zip(x.shape[2:], kernel, stride, padding, dilation,
                                      output_padding)
    )  # fmt: skip
    if any(m < 1 for m in size):
        raise ValueError(f"{where}: input {x.shape[:2] + _shown(x.shape, n)} with weight "
                         f"{w.shape[:2] + _shown(w.shape, n)}, stride {_shown(stride, n)} and "
                         f"padding {_shown(padding, n)} gives an empty output "
                         f"{_shown(size, n)}")  # fmt: skip
    pads = tuple((p, p - op_) for p, op_ in zip(padding, output_padding))
    ctx = {"stride": stride, "padding": pads, "dilation": dilation, "groups": groups,
           "size": size}  # fmt: skip
    return _apply("conv_transpose2d", x, w, b, ctx)


def _conv_transpose2d_entry(
    input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
    output_padding: Any = 0, groups: Any = 1, dilation: Any = 1,
) -> Tensor:  # fmt: skip
    """The transposed 2-D convolution (the gradient of ``conv2d`` with respect to its
    input) of ``input`` (N, C_in, H, W) or unbatched with ``weight`` (C_in, C_out /
    groups, kh, kw), plus ``bias`` (C_out,): PyTorch's ``conv_transpose2d``, with its
    argument order. ``output_padding`` adds rows and columns at the end of the output."""
    where = "conv_transpose2d"
    x, w, b, unbatched = _operands(where, input, weight, bias, 2)
    g = _groups(groups, where)
    _check_conv(where, x, w, b, g, transposed=True)
    s = int_tuple(stride, 2, "stride", where)
    d = int_tuple(dilation, 2, "dilation", where)
    p = int_tuple(padding, 2, "padding", where, least=0)
    op_ = int_tuple(output_padding, 2, "output_padding", where, least=0)
    out = _transposed(where, x, w, b, s, p, op_, d, g)
    return out.reshape(out.shape[1:]) if unbatched else out


def _conv_transpose1d_entry(
    input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
    output_padding: Any = 0, groups: Any = 1, dilation: Any = 1,
) -> Tensor:  # fmt: skip
    """The transposed 1-D convolution of ``input`` (N, C_in, L) with ``weight`` (C_in,
    C_out / groups, k): PyTorch's ``conv_transpose1d``, a ``conv_transpose2d`` of height 1."""
    where = "conv_transpose1d"
    x, w, b, unbatched = _operands(where, input, weight, bias, 1)
    g = _groups(groups, where)
    _check_conv(where, x, w, b, g, transposed=True)
    s = (1,) + int_tuple(stride, 1, "stride", where)
    d = (1,) + int_tuple(dilation, 1, "dilation", where)
    p = (0,) + int_tuple(padding, 1, "padding", where, least=0)
    op_ = (0,) + int_tuple(output_padding, 1, "output_padding", where, least=0)
    flat_x = x.reshape(x.shape[:2] + (1,) + x.shape[2:])
    flat_w = w.reshape(w.shape[:2] + (1,) + w.shape[2:])
    out = _transposed(where, flat_x, flat_w, b, s, p, op_, d, g, spatial=1)
    out = out.reshape(out.shape[:2] + out.shape[3:])
    return out.reshape(out.shape[1:]) if unbatched else out


# ---------------------------------------------------------------------------------------
# The three operators and their rules (each is the others' gradient)
# ---------------------------------------------------------------------------------------
def _conv_bound(b: Bounds) -> float:
    """``|out| <= max|x| max|w| (C / groups) kh kw + max|b|``."""
    terms = math.prod(b.shapes[1][1:])
    return b.m(0) * b.m(1) * terms + (b.m(2) if len(b.shapes) > 2 else 0.0)


def _transpose_bound(b: Bounds) -> float:
    """Each output pixel adds at most ``C_in * kh * kw`` products."""
    terms = b.shapes[1][0] * math.prod(b.shapes[1][2:])
    return b.m(0) * b.m(1) * terms + (b.m(2) if len(b.shapes) > 2 else 0.0)


X = (2, 3, 5, 6)
CONV2D = [
    positional(_conv2d_entry, (X, (4, 3, 3, 3), (4,))),
    positional(_conv2d_entry, (X, (4, 3, 3, 2), (4,)), stride=2, padding=1),
    positional(_conv2d_entry, (X, (2, 3, 2, 3)), padding=(2, 1), dilation=2),
    positional(_conv2d_entry, ((2, 6, 4, 5), (6, 2, 2, 2), (6,)), stride=(1, 2), groups=3),
    positional(_conv2d_entry, ((1, 2, 4, 4), (3, 2, 2, 3), (3,)), padding="same"),
    positional(_conv2d_entry, (X, (2, 3, 1, 1), (2,)), stride=3, padding="valid"),
    positional(_conv2d_entry, ((3, 5, 5), (2, 3, 3, 3), (2,)), "unbatched", padding=1),
]  # fmt: skip
"""Strides, padding of every form, dilation, groups, a 1x1 kernel, an unbatched input."""


def _same_padding_quietly(name: str) -> Torch:
    """PyTorch's ``F.<name>``, without the warning (once per process) that
    ``padding="same"`` with an even kernel pads a copy of the input (sg does too)."""

    def call(torch: Any, *args: Any, **params: Any) -> Any:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Using padding='same' with even kernel lengths")
            return getattr(torch.nn.functional, name)(*args, **params)

    return Torch(f"F.{name}", call=call)


@op("conv2d", _conv2d, "conv", _conv2d_entry, method=None,
    torch=_same_padding_quietly("conv2d"),
    inputs=(REAL, REAL, REAL), cases=CONV2D, bound=_conv_bound, needs_input_grad=True,
    grad_reads=((1,), (0,), ()), analytic=True)  # fmt: skip
def conv2d(
    g: Any, out: Any, x: Any, w: Any, b: Any = None, *, stride: Pair, padding: Padding,
    dilation: Pair, groups: int, needs_input_grad: tuple[bool, ...],
) -> Grads:  # fmt: skip
    """grad_x = conv_transpose2d(G, W), grad_W = the correlation of x with G, grad_b = G
    summed over the batch and the pixels.

    Each pixel of a window reads ``x`` once per kernel offset, so ``x``'s gradient
    collects the output gradient through the same kernel, sent back along the windows:
    the transposed convolution.
    """
    geometry = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    return _with_bias(
        needs_input_grad, g, b,
        lambda: call("conv_transpose2d", g, w, size=tuple(x.shape[2:]), **geometry),
        lambda: call("conv2d_weight", x, g, kernel=tuple(w.shape[2:]), **geometry),
    )  # fmt: skip


def _with_bias(needs: tuple[bool, ...], g: Any, b: Any, first: Any, second: Any) -> Grads:
    """The gradients of a convolution's two operands (each computed only if needed) and,
    if it has a bias, the bias's: ``g`` summed over the batch and the pixels."""
    grads = (first() if needs[0] else None, second() if needs[1] else None)
    if b is None:
        return grads
    return grads + ((g.sum(axis=(0, 2, 3)) if needs[2] else None),)


TRANSPOSED = [
    positional(_conv_transpose2d_entry, ((2, 3, 4, 3), (3, 2, 3, 3), (2,))),
    positional(_conv_transpose2d_entry, ((2, 3, 3, 4), (3, 2, 3, 2), (2,)), stride=2,
               padding=1, output_padding=1),
    positional(_conv_transpose2d_entry, ((1, 2, 3, 3), (2, 3, 2, 2)), stride=(2, 3),
               output_padding=(1, 0), dilation=2),
    positional(_conv_transpose2d_entry, ((2, 4, 3, 3), (4, 1, 3, 2), (2,)), padding=(1, 0),
               groups=2),
    positional(_conv_transpose2d_entry, ((1, 2, 3, 3), (2, 2, 2, 2)), output_padding=1,
               dilation=2),
]  # fmt: skip
"""Strides with an output padding, dilation, groups, and an output padding that only a
dilation allows (rows no window reaches)."""


@op("conv_transpose2d", _conv_transpose2d, "conv", _conv_transpose2d_entry, method=None,
    torch="F.conv_transpose2d", inputs=(REAL, REAL, REAL), cases=TRANSPOSED,
    bound=_transpose_bound, needs_input_grad=True, grad_reads=((1,), (0,), ()),
    analytic=True)  # fmt: skip
def conv_transpose2d(
    g: Any, out: Any, y: Any, w: Any, b: Any = None, *, stride: Pair, padding: Padding,
    dilation: Pair, groups: int, size: Pair, needs_input_grad: tuple[bool, ...],
) -> Grads:  # fmt: skip
    """grad_y = conv2d(G, W) (the adjoint of the adjoint), grad_W = the correlation of G
    with y, grad_b = G summed over the batch and the pixels."""
    geometry = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    return _with_bias(
        needs_input_grad, g, b,
        lambda: call("conv2d", g, w, **geometry),
        lambda: call("conv2d_weight", g, y, kernel=tuple(w.shape[2:]), **geometry),
    )  # fmt: skip


def _torch_conv2d_weight(
    torch: Any, x: Any, g: Any, *, stride: Pair, padding: Padding, dilation: Pair, groups: int,
    kernel: Pair,
) -> Any:  # fmt: skip
    """``torch.nn.grad.conv2d_weight`` on the input padded as sg pads it."""
    (top, bottom), (left, right) = padding
    padded = torch.nn.functional.pad(x, (left, right, top, bottom))
    shape = (g.shape[1], x.shape[1] // groups, *kernel)
    return torch.nn.grad.conv2d_weight(padded, shape, g, stride, 0, dilation, groups)


def _weight_case(
    x: tuple[int, int, int, int], o: int, kernel: Pair, label: str, **geometry: Any
) -> Case:
    """A case of ``conv2d_weight``: the output gradient's shape follows from the rest."""
    out = out_size(x[2:], kernel, geometry["stride"], geometry["padding"], geometry["dilation"])
    params = {**geometry, "kernel": kernel}
    return Case(params, (x, (x[0], o) + out), label=label)


WEIGHT = [
    _weight_case(X, 4, (3, 3), "plain", stride=(1, 1), padding=((0, 0), (0, 0)),
                 dilation=(1, 1), groups=1),
    _weight_case(X, 4, (3, 2), "strided, padded", stride=(2, 2), padding=((1, 1), (1, 0)),
                 dilation=(1, 1), groups=1),
    _weight_case((2, 4, 5, 5), 6, (2, 2), "groups, dilation", stride=(1, 1),
                 padding=((1, 1), (0, 0)), dilation=(2, 2), groups=2),
    _weight_case((1, 2, 6, 5), 2, (2, 2), "rows past the last window", stride=(2, 2),
                 padding=((1, -1), (0, 0)), dilation=(1, 1), groups=1),
]  # fmt: skip


@op("conv2d_weight", _conv2d_weight, "conv_weight", public=False, cases=WEIGHT,
    torch=Torch(call=_torch_conv2d_weight), inputs=(REAL, REAL),
    call=lambda x, g, **ctx: call("conv2d_weight", x, g, **ctx), analytic=True,
    needs_input_grad=True, grad_reads=((1,), (0,)))  # fmt: skip
def conv2d_weight(
    gw: Any, out: Any, x: Any, g: Any, *, stride: Pair, padding: Padding, dilation: Pair,
    groups: int, kernel: Pair, needs_input_grad: tuple[bool, ...],
) -> Grads:  # fmt: skip
    """The kernel's gradient of a convolution, as an operator of ``(x, G)`` so that
    ``conv2d``'s rule runs on nodes. It is bilinear: ``<dW, corr(x, G)> = <conv2d(x, dW),
    G>``, so grad_x = conv_transpose2d(G, dW) and grad_G = conv2d(x, dW)."""
    geometry = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    gx = gg = None
    if needs_input_grad[0]:
        gx = call("conv_transpose2d", g, gw, size=tuple(x.shape[2:]), **geometry)
    if needs_input_grad[1]:
        gg = call("conv2d", x, gw, **geometry)
    return gx, gg


CONV1D = [
    positional(_conv1d_entry, ((2, 3, 7), (4, 3, 3), (4,))),
    positional(_conv1d_entry, ((2, 3, 8), (2, 3, 2)), stride=2, padding=1, dilation=2),
    positional(_conv1d_entry, ((1, 4, 5), (4, 2, 4), (4,)), padding="same", groups=2),
]  # fmt: skip
composite("conv1d", "conv", _conv1d_entry, method=None, uses=("conv2d",),
          torch=_same_padding_quietly("conv1d"),
          inputs=(REAL, REAL, REAL), cases=CONV1D)  # fmt: skip
composite("conv_transpose1d", "conv", _conv_transpose1d_entry, method=None,
          torch="F.conv_transpose1d", uses=("conv_transpose2d",), inputs=(REAL, REAL, REAL),
          cases=[positional(_conv_transpose1d_entry, ((2, 3, 5), (3, 2, 3), (2,))),
                 positional(_conv_transpose1d_entry, ((1, 3, 4), (3, 1, 2)), stride=2,
                            output_padding=1, groups=3)])  # fmt: skip
