"""Pooling in PyTorch's layout: ``max_pool2d``, ``avg_pool2d``, ``adaptive_avg_pool2d``
and their 1-D forms.

Pooling reduces each window of a channel to one number, with the windows of
:func:`sg_tensor.convolution.windows` (a strided view, no copy for the forward):

- ``max_pool2d`` keeps the largest value; its gradient goes back to that one input,
  the *first* maximum of the window in reading order where several tie (PyTorch's rule),
  adding up where overlapping windows chose the same input. That is ``getitem``'s
  adjoint, ``scatter``, at the winning positions.
- ``avg_pool2d`` divides the window's sum by its size (or by the number of input pixels
  in it, ``count_include_pad=False``); its gradient spreads each output gradient evenly
  over the window: a transposed convolution with a kernel of ones.
- ``adaptive_avg_pool2d`` averages windows that tile the input into a given output
  size, one axis at a time: the windows gathered by indexing and summed, so it needs no
  rule of its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sg_scalar.declare import Case, Tie, Torch
from sg_tensor.arguments import int_tuple
from sg_tensor.capturing import computed
from sg_tensor.convolution import Padding, Pair, out_size, windows
from sg_tensor.elementwise import _where
from sg_tensor.op import OPS, call, composite, data, op, positional
from sg_tensor.tensor import Tensor, as_tensor

Grads = tuple[Any, ...]


# ---------------------------------------------------------------------------------------
# Arguments and the windows' geometry (PyTorch's pooling_output_shape)
# ---------------------------------------------------------------------------------------
def _pooled_size(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """Windows along one axis: PyTorch's count, where with ``ceil_mode`` a last partial
    window counts if it starts inside the input or its left padding."""
    span = n + 2 * p - d * (k - 1) - 1
    size = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (size - 1) * s >= n + p:
        size -= 1
    return size


def pool_geometry(
    where: str, x: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
    dilation: Any = 1, ceil_mode: Any = False, spatial: int = 2,
) -> dict[str, Any]:  # fmt: skip
    """The pooling operator's context from the public arguments: kernel, stride, dilation,
    and the padding before and after each axis (after: enough for ``ceil_mode``'s
    partial window)."""
    if not isinstance(ceil_mode, (bool, np.bool_)):
        raise TypeError(f"{where}: ceil_mode must be True or False, got {ceil_mode!r}")
    kernel = int_tuple(kernel_size, spatial, "kernel_size", where, 1)
    no_stride = stride is None or (isinstance(stride, (tuple, list)) and not stride)
    steps = kernel if no_stride else stride
    strides = int_tuple(steps, spatial, "stride", where, 1)
    pads = int_tuple(padding, spatial, "padding", where, 0)
    dilations = int_tuple(dilation, spatial, "dilation", where, 1)
    if any(p > k // 2 for k, p in zip(kernel, pads)):
        raise ValueError(f"{where}: padding {padding} must be at most half of the kernel "
                         f"size {kernel_size}")  # fmt: skip
    size = x.shape[-spatial:]
    out = tuple(_pooled_size(n, k, s, p, d, bool(ceil_mode))
                for n, k, s, p, d in zip(size, kernel, strides, pads, dilations))  # fmt: skip
    if any(n < 1 for n in out):
        raise ValueError(f"{where}: input {x.shape} is too small for kernel {kernel}, stride "
                         f"{strides}, padding {pads} and dilation {dilations} (output "
                         f"{out})")  # fmt: skip
    reach = zip(out, strides, dilations, kernel, size, pads)
    after = tuple((o - 1) * s + d * (k - 1) + 1 - n - p for o, s, d, k, n, p in reach)
    return {"kernel": kernel, "stride": strides, "padding": tuple(zip(pads, after)),
            "dilation": dilations}  # fmt: skip


def _batched(where: str, input: Any, spatial: int = 2) -> tuple[Tensor, bool]:
    x = as_tensor(input)
    if x.ndim not in (spatial + 1, spatial + 2):
        raise ValueError(f"{where}: expected a {spatial + 2}-D input (N, C, ...) or a "
                         f"{spatial + 1}-D one (C, ...), got shape {x.shape}")  # fmt: skip
    if x.data.dtype.kind != "f":
        raise TypeError(f"{where}: input must be floating point, got dtype {x.dtype}")
    if 0 in x.shape[-spatial - 1 :]:
        raise ValueError(f"{where}: empty input {x.shape}")
    unbatched = x.ndim == spatial + 1
    return (x.reshape((1,) + x.shape) if unbatched else x), unbatched


def pooled_size(
    x: np.ndarray, *, stride: Pair, padding: Padding, dilation: Pair, kernel: Pair
) -> Pair:
    """The output size of a pooling operator's context on ``x`` (N, C, H, W): as many
    windows as a convolution with that geometry has."""
    _, _, h, w = x.shape
    return out_size((h, w), kernel, stride, padding, dilation)


# ---------------------------------------------------------------------------------------
# max_pool2d
# ---------------------------------------------------------------------------------------
def _max_pool2d(
    x: np.ndarray, *, kernel: Pair, stride: Pair, padding: Padding, dilation: Pair
) -> Any:
    out = pooled_size(x, stride=stride, padding=padding, dilation=dilation, kernel=kernel)
    view = windows(x, kernel, stride, padding, dilation, out, fill=-np.inf)
    return _fold(np.maximum, view)


def _fold(ufunc: np.ufunc, view: np.ndarray) -> Any:
    """``ufunc`` folded over the kernel offsets of a windows view ``(N, C, kh, kw, Ho,
    Wo)``: one pass per offset over contiguous output (a reduction over the view's
    strided kernel axes is several times slower)."""
    result = view[:, :, 0, 0].copy()
    for i in range(view.shape[2]):
        for j in range(view.shape[3]):
            if i or j:
                ufunc(result, view[:, :, i, j], out=result)
    return result


def winners(
    x: np.ndarray, kernel: Pair, stride: Pair, padding: Padding, dilation: Pair,
    peaks: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The row and column in ``x`` of each window's first maximum (reading order), each
    of shape ``(N, C, Ho, Wo)``; ``peaks`` are the maxima if known (the forward's)."""
    out = pooled_size(x, stride=stride, padding=padding, dilation=dilation, kernel=kernel)
    view = windows(x, kernel, stride, padding, dilation, out, fill=-np.inf)
    if peaks is None:
        peaks = _fold(np.maximum, view)
    first = np.zeros(peaks.shape, dtype=np.intp)  # the offset of each window's maximum
    inside = _inside(x.shape[2:], kernel, stride, padding, dilation, out)
    for k in reversed(range(kernel[0] * kernel[1])):  # the last write is the first maximum
        row, col = divmod(k, kernel[1])
        hit = view[:, :, row, col] == peaks
        if inside is not None:  # a padding cell never wins, even against -inf (PyTorch's)
            hit &= inside[0][row][:, None] & inside[1][col]
        np.copyto(first, k, where=hit)
    if np.isnan(peaks).any():  # PyTorch's: a NaN is the maximum, the window's last NaN
        for k in range(kernel[0] * kernel[1]):
            row, col = divmod(k, kernel[1])
            np.copyto(first, k, where=np.isnan(view[:, :, row, col]))
    di, dj = np.divmod(first, kernel[1])
    rows = np.arange(out[0]).reshape(-1, 1) * stride[0] - padding[0][0] + di * dilation[0]
    cols = np.arange(out[1]) * stride[1] - padding[1][0] + dj * dilation[1]
    # A window wholly in the padding (dilated, or ceil_mode) has no input to pick: its
    # -inf peak's gradient goes to the nearest input.
    return np.clip(rows, 0, x.shape[2] - 1), np.clip(cols, 0, x.shape[3] - 1)


def _inside(
    size: tuple[int, ...], kernel: Pair, stride: Pair, padding: Padding, dilation: Pair,
    out: tuple[int, int],
) -> tuple[list[np.ndarray], list[np.ndarray]] | None:  # fmt: skip
    """``None`` without padding; else, per axis and kernel offset, which windows' cell at
    that offset is in the input (not in the padding)."""
    if not any(before or after for before, after in padding):
        return None
    axes = []
    for n, k, step, (before, _), d, o in zip(size, kernel, stride, padding, dilation, out):
        starts = np.arange(o) * step - before
        cells = [starts + i * d for i in range(k)]  # each offset's input position
        axes.append([(c >= 0) & (c < n) for c in cells])
    return axes[0], axes[1]


def _routed_apart(
    g: np.ndarray, x: np.ndarray, peaks: np.ndarray, kernel: Pair, stride: Pair, dilation: Pair
) -> np.ndarray:
    """The max-pool gradient where no two windows share a pixel and none reaches into
    padding, and no window holds a NaN: each window's gradient written straight to its
    first maximum through a windows view of the result, one kernel offset at a time (the
    same numbers as the scatter, with no sums to make)."""
    out, flat = peaks.shape[2:], ((0, 0), (0, 0))
    grad = np.zeros(x.shape, dtype=g.dtype)
    targets = windows(grad, kernel, stride, flat, dilation, out, writeable=True)
    view = windows(x, kernel, stride, flat, dilation, out)
    taken = None  # the windows whose first maximum an earlier offset already was
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            hit = view[:, :, i, j] == peaks
            if taken is None:
                taken = hit
            else:
                hit &= ~taken
                taken |= hit
            targets[:, :, i, j] = np.where(hit, g, 0.0)
    return grad


def _winning_index(x: np.ndarray, peaks: Any, **geometry: Any) -> tuple[np.ndarray, ...]:
    rows, cols = winners(x, peaks=peaks, **geometry)
    n, c = x.shape[:2]
    return np.arange(n)[:, None, None, None], np.arange(c)[None, :, None, None], rows, cols


def _max_pool_entry(
    input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
    ceil_mode: bool = False, return_indices: bool = False,
) -> Any:  # fmt: skip
    """The maximum of each ``kernel_size`` window of ``input`` (N, C, H, W) or (C, H, W),
    moved by ``stride`` (default: the kernel size), over the input padded with ``-inf``:
    PyTorch's ``max_pool2d``. With ``return_indices``, also each maximum's position as
    ``row * W + column`` (int64). The gradient goes to the first maximum of a window."""
    where = "max_pool2d"
    x, unbatched = _batched(where, input)
    geometry = pool_geometry(where, x, kernel_size, stride, padding, dilation, ceil_mode)
    out = x._apply1(OPS["max_pool2d"], geometry)
    if unbatched:
        out = out.reshape(out.shape[1:])
    if not return_indices:
        return out
    return out, Tensor(computed(_flat_indices, x.data, geometry, unbatched))


def _flat_indices(x: np.ndarray, geometry: dict[str, Any], unbatched: bool) -> np.ndarray:
    """Each window's first maximum as ``row * W + column`` (int64): PyTorch's indices."""
    rows, cols = winners(x, **geometry)
    indices: np.ndarray = (rows * x.shape[3] + cols).astype(np.int64)
    return indices[0] if unbatched else indices


def _pool_bound(b: Any) -> float:
    return float(b.m())


X = (2, 3, 6, 7)
MAX_POOL = [
    positional(_max_pool_entry, (X,), kernel_size=2),
    positional(_max_pool_entry, (X,), kernel_size=3, stride=2, padding=1),
    positional(_max_pool_entry, (X,), kernel_size=(2, 3), stride=(1, 2), dilation=(2, 1)),
    positional(_max_pool_entry, (X,), kernel_size=3, stride=2, ceil_mode=True),
    positional(_max_pool_entry, ((3, 5, 5),), "unbatched, overlapping", kernel_size=2,
               stride=1),
    positional(_max_pool_entry, ((2, 3, 7, 7),), "overlapping, unpadded", kernel_size=3,
               stride=2),
    positional(_max_pool_entry, ((2, 3, 7, 9),), "apart, dilated", kernel_size=2,
               stride=(3, 4), dilation=(1, 2)),
]  # fmt: skip
"""Non-overlapping and overlapping windows (with and without padding), dilation,
ceil_mode's partial window, and windows apart with gaps between them (a stride beyond the
dilated kernel)."""


@op("max_pool2d", _max_pool2d, "pool", _max_pool_entry, method=None, cases=MAX_POOL,
    torch="F.max_pool2d", edges=[Tie(within=True, routing="first")],
    bound=_pool_bound)  # fmt: skip
def max_pool2d(
    g: Any, out: Any, x: Any, *, kernel: Pair, stride: Pair, padding: Padding, dilation: Pair
) -> Grads:
    """Each window's gradient goes to its first maximum; overlapping windows add up."""
    apart = all(s >= d * (k - 1) + 1 for s, k, d in zip(stride, kernel, dilation))
    unpadded = all(before == 0 and after <= 0 for before, after in padding)  # after < 0: cut
    if type(g) is np.ndarray and apart and unpadded and not np.isnan(out).any():
        return (_routed_apart(g, x, out, kernel, stride, dilation),)
    index = _winning_index(data(x), data(out), kernel=kernel, stride=stride, padding=padding,
                           dilation=dilation)  # fmt: skip
    return (call("scatter", g, shape=tuple(x.shape), index=index),)


# ---------------------------------------------------------------------------------------
# avg_pool2d
# ---------------------------------------------------------------------------------------
def _counts(n: int, out: int, k: int, s: int, before: int, include_pad: bool) -> np.ndarray:
    """How many pixels each window along one axis averages: PyTorch's, where the padding
    counts with ``include_pad`` but the part of a ``ceil_mode`` window past it never does."""
    starts = np.arange(out) * s - before
    ends = np.minimum(starts + k, n + before)
    if include_pad:
        return ends - starts
    return np.minimum(ends, n) - np.maximum(starts, 0)


def _divisor(
    x: np.ndarray, out: Pair, kernel: Pair, stride: Pair, padding: Padding,
    count_include_pad: bool, divisor_override: int | None,
) -> Any:  # fmt: skip
    if divisor_override is not None:
        return float(divisor_override)
    rows, cols = (
        _counts(n, o, k, s, before, count_include_pad)
        for n, o, k, s, (before, _) in zip(x.shape[2:], out, kernel, stride, padding)
    )
    return np.multiply.outer(rows, cols).astype(x.dtype)


def _avg_pool2d(
    x: np.ndarray, *, kernel: Pair, stride: Pair, padding: Padding, dilation: Pair,
    count_include_pad: bool, divisor_override: int | None,
) -> Any:  # fmt: skip
    out = pooled_size(x, stride=stride, padding=padding, dilation=dilation, kernel=kernel)
    total = _fold(np.add, windows(x, kernel, stride, padding, dilation, out))
    return total / _divisor(x, out, kernel, stride, padding, count_include_pad, divisor_override)


def _avg_pool_entry(
    input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
    count_include_pad: bool = True, divisor_override: Any = None,
) -> Tensor:  # fmt: skip
    """The mean of each ``kernel_size`` window of ``input`` (N, C, H, W) or (C, H, W),
    moved by ``stride`` (default: the kernel size), over the input padded with zeros:
    PyTorch's ``avg_pool2d``. ``count_include_pad=False`` divides by the input pixels in
    the window only; ``divisor_override`` by that number instead."""
    where = "avg_pool2d"
    x, unbatched = _batched(where, input)
    geometry = pool_geometry(where, x, kernel_size, stride, padding, 1, ceil_mode)
    if not isinstance(count_include_pad, (bool, np.bool_)):
        raise TypeError(f"{where}: count_include_pad must be True or False, got "
                        f"{count_include_pad!r}")  # fmt: skip
    if divisor_override is not None:
        if isinstance(divisor_override, bool) or not isinstance(
            divisor_override, (int, np.integer)
        ):
            raise TypeError(f"{where}: divisor_override must be an int, got "
                            f"{divisor_override!r}")  # fmt: skip
        if divisor_override == 0:
            raise ValueError(f"{where}: divisor_override must not be zero")
    override = None if divisor_override is None else int(divisor_override)
    ctx = {**geometry, "count_include_pad": bool(count_include_pad),
           "divisor_override": override}  # fmt: skip
    out = x._apply1(OPS["avg_pool2d"], ctx)
    return out.reshape(out.shape[1:]) if unbatched else out


AVG_POOL = [
    positional(_avg_pool_entry, (X,), kernel_size=2),
    positional(_avg_pool_entry, (X,), kernel_size=3, stride=2, padding=1),
    positional(_avg_pool_entry, (X,), kernel_size=3, stride=2, padding=1,
               count_include_pad=False),
    positional(_avg_pool_entry, (X,), kernel_size=(3, 2), stride=2, padding=1, ceil_mode=True),
    positional(_avg_pool_entry, (X,), kernel_size=3, stride=2, padding=1, ceil_mode=True,
               count_include_pad=False),
    positional(_avg_pool_entry, ((3, 5, 5),), "unbatched, divisor_override", kernel_size=2,
               stride=1, divisor_override=3),
]  # fmt: skip


@op("avg_pool2d", _avg_pool2d, "pool", _avg_pool_entry, method=None, cases=AVG_POOL,
    torch="F.avg_pool2d", bound=_pool_bound, analytic=True)  # fmt: skip
def avg_pool2d(
    g: Any, out: Any, x: Any, *, kernel: Pair, stride: Pair, padding: Padding, dilation: Pair,
    count_include_pad: bool, divisor_override: int | None,
) -> Grads:  # fmt: skip
    """Each output gradient, divided by its window's size, is spread over the window: a
    transposed convolution of each channel with a kernel of ones."""
    n, c, h, w = x.shape
    ho, wo = g.shape[2:]
    divisor = _divisor(data(x), (ho, wo), kernel, stride, padding, count_include_pad,
                       divisor_override)  # fmt: skip
    per_channel = (g / divisor).reshape((n * c, 1, ho, wo))
    ones = np.ones((1, 1) + tuple(kernel), dtype=data(x).dtype)
    spread = call("conv_transpose2d", per_channel, ones, stride=stride, padding=padding,
                  dilation=dilation, groups=1, size=(h, w))  # fmt: skip
    return (spread.reshape((n, c, h, w)),)


# ---------------------------------------------------------------------------------------
# adaptive_avg_pool2d: averaging matrices
# ---------------------------------------------------------------------------------------
def _average_along(x: Tensor, axis: int, out: int) -> Tensor:
    """The mean over each of PyTorch's ``out`` adaptive windows along ``axis``: window
    ``i`` runs from ``floor(i n / out)`` to ``ceil((i + 1) n / out)``. The windows are
    gathered (padded to the longest with a repeated index, masked out by ``where``, not
    multiplied by 0, so an inf or a nan stays in its own windows) and summed."""
    n = x.shape[axis]
    rows = np.arange(out)[:, None]
    starts, ends = (rows * n) // out, -((-(rows + 1) * n) // out)  # (out, 1)
    width = int((ends - starts).max(initial=1))
    positions = starts + np.arange(width)  # (out, width)
    trailing = (1,) * (x.ndim - axis - 1)
    picked = x[(slice(None),) * axis + (np.minimum(positions, n - 1),)]
    inside = (positions < ends).reshape(positions.shape + trailing)
    total = _where(inside, picked, 0.0).sum(axis=axis + 1)
    counts = (ends - starts).reshape((out,) + trailing).astype(x.dtype)
    return total / counts


def _adaptive_avg_pool_entry(input: Any, output_size: Any) -> Tensor:
    """The mean over each of ``output_size`` windows tiling ``input`` (N, C, H, W) or
    (C, H, W): PyTorch's ``adaptive_avg_pool2d`` (``None`` in ``output_size`` keeps
    that size). Windows of unequal sizes overlap where the sizes do not divide."""
    where = "adaptive_avg_pool2d"
    x, unbatched = _batched(where, input)
    if output_size is None:  # None keeps a size only inside a pair, as in PyTorch
        raise TypeError(f"{where}: output_size must be an int or 2 sizes (ints or None), "
                        "got None")  # fmt: skip
    sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * 2
    if len(sizes) != 2:
        raise ValueError(f"{where}: output_size must be an int or 2 sizes, got {output_size!r}")
    sizes = tuple(n if s is None else s for s, n in zip(sizes, x.shape[2:]))
    out = int_tuple(sizes, 2, "output_size", where, 0)
    pooled = _average_along(_average_along(x, 2, out[0]), 3, out[1])
    return pooled.reshape(pooled.shape[1:]) if unbatched else pooled


def _torch_adaptive(torch: Any, x: Any, output_size: Any) -> Any:
    return torch.nn.functional.adaptive_avg_pool2d(x, output_size)


composite("adaptive_avg_pool2d", "pool", _adaptive_avg_pool_entry, method=None,
          uses=("getitem", "where", "sum", "div"), torch=Torch(call=_torch_adaptive),
          cases=[Case({"output_size": 1}, (X,)), Case({"output_size": (4, 3)}, (X,)),
                 Case({"output_size": (None, 5)}, (X,)),
                 Case({"output_size": 4}, ((3, 9, 10),), label="unbatched")])  # fmt: skip


# ---------------------------------------------------------------------------------------
# The 1-D forms: the 2-D operators on inputs of height 1
# ---------------------------------------------------------------------------------------
def _as_2d(where: str, input: Any) -> Tensor:
    """(N, C, L) as (N, C, 1, L), (C, L) as (C, 1, L)."""
    _batched(where, input, spatial=1)  # checked with the 1-D shape and name
    t = as_tensor(input)
    return t.reshape(t.shape[:-1] + (1,) + t.shape[-1:])


def _one(value: Any, where: str, name: str) -> Any:
    """A 1-D size: an int or one int in a sequence (an empty stride is the default)."""
    if isinstance(value, (tuple, list)) and not value and name == "stride":
        return None
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ValueError(f"{where}: {name} must be an int or 1 int, got {value!r}")
        value = value[0]
    return value


def _max_pool1d_entry(
    input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
    ceil_mode: bool = False, return_indices: bool = False,
) -> Any:  # fmt: skip
    """PyTorch's ``max_pool1d`` on (N, C, L) or (C, L): ``max_pool2d`` with height 1."""
    where = "max_pool1d"
    x = _as_2d(where, input)
    k = _one(kernel_size, where, "kernel_size")
    s = _one(stride, where, "stride") if stride is not None else None
    # checked here first, so that an error names this operator and its 1-D arguments
    pool_geometry(where, as_tensor(input), k, s, _one(padding, where, "padding"),
                  _one(dilation, where, "dilation"), ceil_mode, spatial=1)  # fmt: skip
    result = _max_pool_entry(x, (1, k), (1, k if s is None else s), (0, _one(padding, where,
                             "padding")), (1, _one(dilation, where, "dilation")), ceil_mode,
                             return_indices)  # fmt: skip
    return _squeezed(result)


def _avg_pool1d_entry(
    input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:  # fmt: skip
    """PyTorch's ``avg_pool1d`` on (N, C, L) or (C, L): ``avg_pool2d`` with height 1."""
    where = "avg_pool1d"
    x = _as_2d(where, input)
    k = _one(kernel_size, where, "kernel_size")
    s = None if stride is None else _one(stride, where, "stride")
    pool_geometry(where, as_tensor(input), k, s, _one(padding, where, "padding"), 1, ceil_mode,
                  spatial=1)  # fmt: skip
    result = _avg_pool_entry(x, (1, k), (1, k if s is None else s),
                             (0, _one(padding, where, "padding")), ceil_mode,
                             count_include_pad)  # fmt: skip
    squeezed: Tensor = _squeezed(result)
    return squeezed


def _squeezed(result: Any) -> Any:
    """The height-1 axis removed again (from the indices too)."""
    if isinstance(result, tuple):
        return tuple(_squeezed(r) for r in result)
    return result.reshape(result.shape[:-2] + result.shape[-1:])


L = (2, 3, 7)
composite("max_pool1d", "pool", _max_pool1d_entry, method=None, uses=("max_pool2d",),
          torch="F.max_pool1d", edges=[Tie(within=True, routing="first")],
          cases=[positional(_max_pool1d_entry, (L,), kernel_size=2),
                 positional(_max_pool1d_entry, (L,), kernel_size=3, stride=2, padding=1,
                            ceil_mode=True)])  # fmt: skip
composite("avg_pool1d", "pool", _avg_pool1d_entry, method=None, uses=("avg_pool2d",),
          torch="F.avg_pool1d",
          cases=[positional(_avg_pool1d_entry, (L,), kernel_size=2),
                 positional(_avg_pool1d_entry, (L,), kernel_size=3, stride=2, padding=1,
                            count_include_pad=False)])  # fmt: skip
