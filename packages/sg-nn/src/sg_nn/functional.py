"""``sg_nn.functional``: what ``torch.nn.functional`` is to ``torch.nn``.

Every function takes PyTorch's name, arguments and defaults (``dim=``, ``reduction=``,
``negative_slope=``...), accepts sg Tensors, numpy arrays and numbers, and returns a
Tensor whose values and gradients are PyTorch's (float64 results agree to about 1e-15):

>>> import numpy as np
>>> import sg_nn.functional as F
>>> F.leaky_relu(np.array([-2.0, 3.0]), negative_slope=0.1)
Tensor([-0.2,  3. ])
>>> F.softmax(np.array([[0.0, 0.0]]), dim=1)
Tensor([[0.5, 0.5]])

The activations are defined in :mod:`sg_nn.activation_functions`, the losses in
:mod:`sg_nn.losses`; all are importable from here. PyTorch's ``inplace=`` arguments
are accepted and change nothing: sg computes out of place (never overwriting a tensor
that a graph may need), so the values and gradients are the same and the input is left
as it was.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

import sg_tensor as st
from sg_nn import init
from sg_nn._checks import check_values
from sg_nn.activation_functions import (
    celu,
    elu,
    gelu,
    glu,
    hardshrink,
    hardsigmoid,
    hardswish,
    hardtanh,
    leaky_relu,
    log_softmax,
    logsigmoid,
    mish,
    prelu,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    softmax,
    softmin,
    softplus,
    softshrink,
    softsign,
    tanh,
    tanhshrink,
    threshold,
)
from sg_nn.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    gaussian_nll_loss,
    hinge_loss,
    huber_loss,
    kl_div,
    l1_loss,
    margin_ranking_loss,
    mse_loss,
    nll_loss,
    poisson_nll_loss,
    smooth_l1_loss,
    soft_margin_loss,
)
from sg_tensor import Tensor
from sg_tensor.capturing import CaptureError, computed, refuse
from sg_tensor.op import call as apply_op

__all__ = [
    "adaptive_avg_pool2d", "avg_pool1d", "avg_pool2d", "batch_norm", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "celu", "conv1d", "conv2d", "conv_transpose1d",
    "conv_transpose2d", "cross_entropy", "dropout", "dropout1d", "dropout2d", "elu", "embedding",
    "gaussian_nll_loss", "gelu", "glu", "hardshrink", "hardsigmoid", "hardswish", "hardtanh",
    "hinge_loss", "huber_loss", "kl_div", "l1_loss", "layer_norm", "leaky_relu", "linear",
    "log_softmax", "logsigmoid", "margin_ranking_loss", "max_pool1d", "max_pool2d", "mish",
    "mse_loss", "nll_loss", "normalize", "one_hot", "pad", "poisson_nll_loss", "prelu", "relu",
    "relu6", "selu", "sigmoid", "silu", "smooth_l1_loss", "soft_margin_loss", "softmax", "softmin",
    "softplus", "softshrink", "softsign", "tanh", "tanhshrink", "threshold"
]  # fmt: skip


def linear(input: Any, weight: Any, bias: Any = None) -> Tensor:
    """``input @ weight.T + bias``, ``weight`` of shape ``(out_features, in_features)``."""
    return st.linear(st.as_tensor(input), weight, bias)


def dropout(
    input: Any,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    *,
    rng: np.random.Generator | None = None,
) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``.

    ``inplace`` is accepted and changes nothing (sg computes out of place).

    The identity when ``training`` is false or ``p == 0``; all zeros for ``p == 1``.
    The mask is drawn from ``rng``, or from the default generator of :mod:`sg_nn.init`
    (reset by :func:`sg_nn.manual_seed`). Note that ``training`` defaults to ``True`` here,
    as in PyTorch: inside a module, pass ``self.training``.
    """
    return _dropout("dropout", input, p, training, rng, None)


def _dropout(
    name: str, input: Any, p: float, training: bool, rng: Any, channels: dict[int, int] | None
) -> Tensor:
    """Dropout of single elements (``channels`` None) or of whole channels: one draw per
    leading index, ``channels[ndim]`` of them for an input of ``ndim`` dimensions."""
    if not 0 <= p <= 1:
        raise ValueError(f"{name}: p must be in [0, 1], got {p}")
    t = st.as_tensor(input)
    if channels is not None and t.ndim not in channels:
        ranks = " or ".join(f"{r}-D" for r in sorted(channels))
        raise ValueError(f"{name}: expected a {ranks} input, got shape {t.shape}")
    if not training or p == 0:
        return t
    if p == 1:  # zeros of t's dtype, as PyTorch's (an integer tensor's too)
        return t * np.zeros((), dtype=t.dtype)
    if t.dtype.kind != "f":  # as PyTorch: a scaled integer would not keep t's dtype
        raise _NotFloatingError(f"{name}: expected a floating-point input, got {t.dtype}")
    # A replay would reuse the captured draw: refused in a captured step (from rng too).
    refuse("drawing random numbers (dropout, randn, a shuffled loader)")
    generator = rng if rng is not None else init.default_generator()
    shape = t.shape
    if channels is not None:
        leading = channels[t.ndim]
        shape = t.shape[:leading] + (1,) * (t.ndim - leading)
    keep = generator.random(shape) >= p
    # The graph keeps the mask as booleans (sg_tensor's masked_scale operator)
    out: Tensor = apply_op("masked_scale", t, keep=keep, scale=_dropout_scale(p, t.dtype))
    return out


def _dropout_scale(p: float, dtype: np.dtype[Any]) -> float:
    """``1 / (1 - p)`` as PyTorch computes it: in float64 for float64, else in float32
    (its arithmetic type for float32 and float16)."""
    if dtype == np.float64:
        return 1.0 / (1.0 - p)
    return float(np.float32(1.0) / np.float32(1.0 - p))


class _NotFloatingError(TypeError, RuntimeError):
    """An integer input to dropout: a TypeError, and PyTorch's RuntimeError."""


# Convolution and pooling: sg-tensor's operators, under torch.nn.functional's names
conv1d, conv2d = st.conv1d, st.conv2d
conv_transpose1d, conv_transpose2d = st.conv_transpose1d, st.conv_transpose2d
max_pool1d, max_pool2d = st.max_pool1d, st.max_pool2d
avg_pool1d, avg_pool2d = st.avg_pool1d, st.avg_pool2d
adaptive_avg_pool2d = st.adaptive_avg_pool2d


def batch_norm(
    input: Any,
    running_mean: Any,
    running_var: Any,
    weight: Any = None,
    bias: Any = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each channel of ``input`` (N, C, ...), then ``* weight + bias``.

    ``training``: with the batch's mean and biased variance, the running statistics (if
    given, as arrays or Tensors) moved in place towards the batch's with ``momentum``
    (the unbiased variance, as PyTorch). Otherwise with the running statistics.
    """
    return st.batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps)


def dropout2d(
    input: Any,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    *,
    rng: np.random.Generator | None = None,
) -> Tensor:
    """Zero each channel of ``input`` (N, C, H, W) with probability ``p`` and scale the
    rest by ``1 / (1 - p)`` (the identity when not ``training``). A 3-D input is (N, C,
    L), as PyTorch reads it: one draw per (sample, channel)."""
    return _dropout("dropout2d", input, p, training, rng, {3: 2, 4: 2})


def dropout1d(
    input: Any,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    *,
    rng: np.random.Generator | None = None,
) -> Tensor:
    """Zero each channel of ``input`` (N, C, L) or (C, L) with probability ``p`` and scale
    the rest by ``1 / (1 - p)`` (the identity when not ``training``)."""
    return _dropout("dropout1d", input, p, training, rng, {2: 1, 3: 2})


def embedding(input: Any, weight: Any, padding_idx: int | None = None) -> Tensor:
    """The rows ``weight[input]``, of shape ``input.shape + (embedding_dim,)``.

    ``input`` holds integer indices into the ``(num_embeddings, embedding_dim)`` table;
    repeated indices add up their gradients, and the row ``padding_idx`` (if given; a
    negative one counts from the end) gets no gradient.
    """
    return _lookup("embedding", input, st.as_tensor(weight), padding_idx)


def _lookup(name: str, indices: Any, weight: Tensor, padding_idx: int | None) -> Tensor:
    """:func:`embedding`, its errors naming ``name`` (the caller: a function or a module)."""
    idx = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{name}: indices must be integers, got dtype {idx.dtype}")
    if weight.ndim != 2:
        raise ValueError(
            f"{name}: weight must be a 2-D table (num_embeddings, embedding_dim), "
            f"got shape {weight.shape}"
        )
    n = weight.shape[0]
    check_values(_in_range, name, idx, n)
    rows = weight[idx]
    if padding_idx is None:
        return rows
    padding = _padding_index(name, padding_idx, n)
    is_padding = computed(_row_mask, idx, padding)
    # The same values, but the padding rows come from a detached copy: no gradient.
    return st.where(is_padding, rows.detach(), rows)


def _in_range(name: str, idx: np.ndarray, n: int) -> None:
    """Refuse indices outside ``[0, n)`` (numpy's would wrap a negative one)."""
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise IndexError(
            f"{name}: indices must be in [0, {n}), got values from {idx.min()} to {idx.max()}"
        )


def _row_mask(idx: np.ndarray, index: int) -> np.ndarray:
    """Where ``idx == index``, for whole rows (a trailing axis of 1)."""
    mask: np.ndarray = (idx == index)[..., None]
    return mask


def _padding_index(name: str, padding_idx: int, num_embeddings: int) -> int:
    """``padding_idx`` in ``[0, num_embeddings)``; a negative one counts from the end."""
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, (int, np.integer)):
        raise TypeError(
            f"{name}: padding_idx must be an int or None, got {type(padding_idx).__name__}"
        )
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(
            f"{name}: padding_idx must be in [-{num_embeddings}, {num_embeddings}), "
            f"got {padding_idx}"
        )
    return int(padding_idx) % num_embeddings


def layer_norm(
    input: Any,
    normalized_shape: int | Sequence[int],
    weight: Any = None,
    bias: Any = None,
    eps: float = 1e-5,
) -> Tensor:
    """``(x - mean) / sqrt(var + eps) * weight + bias`` over the trailing
    ``normalized_shape`` dimensions (biased variance, as PyTorch)."""
    x = st.as_tensor(input)
    shape = _normalized_shape("layer_norm", normalized_shape)
    n = len(shape)
    if n == 0 or x.ndim < n or x.shape[x.ndim - n :] != shape:
        raise ValueError(f"layer_norm: expected inputs ending in shape {shape}, got {x.shape}")
    for name, t in (("weight", weight), ("bias", bias)):
        given = None if t is None else tuple(np.shape(getattr(t, "data", t)))
        if given is not None and given != shape:
            raise ValueError(f"layer_norm: expected {name} of the normalized shape {shape}, "
                             f"got shape {given}")  # fmt: skip
    axes = tuple(range(x.ndim - n, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True, correction=0)  # the biased variance, as PyTorch
    out = (x - mean) / (var + eps).sqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def _normalized_shape(where: str, normalized_shape: Any) -> tuple[int, ...]:
    """``normalized_shape`` (an int, or a sequence of ints, numpy's included) as a tuple."""
    items = (normalized_shape,) if np.ndim(normalized_shape) == 0 else normalized_shape
    try:
        return tuple(operator.index(n) for n in items)
    except TypeError:
        raise TypeError(f"{where}: normalized_shape must be an int or a sequence of ints, "
                        f"got {normalized_shape!r}") from None  # fmt: skip


def normalize(input: Any, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """``input / max(||input||_p, eps)``, the norm taken along ``dim``.

    As PyTorch, no gradient flows through the norm where it is below ``eps``. ``p`` may
    be any positive number or ``inf``.
    """
    x = st.as_tensor(input)
    if not p > 0:
        raise ValueError(f"normalize: p must be positive (or inf), got {p}")
    axis = dim if x.ndim else None
    small = _p_norm(x.detach(), p, axis) < eps
    # Rows whose norm is clamped: their norm gets no gradient, so compute it on a
    # harmless stand-in (the norm of zeros would have an infinite derivative). Where no
    # row is small the wheres change nothing; a captured step finds each replay's rows.
    x_for_norm = st.where(small, 1.0, x)
    norm = st.where(small, eps, _p_norm(x_for_norm, p, axis))
    return x / norm


def _p_norm(x: Tensor, p: float, axis: int | None) -> Tensor:
    """The ``p``-norm along ``axis`` (kept): sg-tensor's ``norm`` operator."""
    norm: Tensor = x.norm(p, dim=axis, keepdim=True)
    return norm


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """Integer class indices of any shape as one-hot rows: shape ``tensor.shape + (C,)``,
    dtype int64, ``C = num_classes``, or ``max(tensor) + 1`` if it is -1."""
    idx = np.asarray(tensor.data if isinstance(tensor, Tensor) else tensor)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected integer class indices, got dtype {idx.dtype}")
    columns = num_classes
    if num_classes == -1 and idx.size:
        columns = int(idx.max()) + 1  # a shape: fixed in a captured step
    return Tensor(computed(_one_hot, idx, num_classes, columns))


def _one_hot(idx: np.ndarray, num_classes: int, columns: int) -> np.ndarray:
    """The rows of :func:`one_hot`, ``columns`` wide (checked at every replay of a captured
    step, whose shapes are the capture's)."""
    if idx.size and idx.min() < 0:
        raise ValueError(f"one_hot: class indices must not be negative, got {idx.min()}")
    if num_classes == -1:
        if not idx.size:
            raise ValueError("one_hot: cannot infer num_classes from an empty tensor")
        if idx.max() + 1 != columns:
            raise CaptureError(
                f"one_hot: num_classes=-1 made {columns} classes at capture, and this "
                f"replay's indices make {idx.max() + 1}: pass num_classes"
            )
    elif idx.size and idx.max() >= num_classes:
        raise ValueError(
            f"one_hot: class index {idx.max()} is out of range for num_classes={num_classes}"
        )
    rows: np.ndarray = (idx[..., None] == np.arange(columns)).astype(np.int64)
    return rows


PAD_MODES: dict[str, Any] = {
    "constant": None, "reflect": "reflect", "replicate": "edge", "circular": "wrap"
}  # fmt: skip
"""PyTorch's padding modes, and numpy's ``np.pad`` mode that picks the same elements."""


def pad(
    input: Any, pad: Sequence[int], mode: str = "constant", value: float | None = None
) -> Tensor:
    """Pad, the widths given as PyTorch does: flat, last dimension first.

    ``pad=(1, 2)`` adds 1 before and 2 after along the last dimension; ``(1, 2, 0, 3)``
    also 3 after along the one before it. ``mode`` is PyTorch's: ``"constant"`` (with
    ``value``, 0 by default; a negative width crops), ``"reflect"`` (the mirror image
    without the edge: each width below the dimension's size), ``"replicate"`` (the edge
    repeated) or ``"circular"`` (the other end: each width at most the size). The
    gradient of a copied element goes back to where it was copied from.
    (:func:`sg_tensor.pad` takes numpy's ``pad_width``.)
    """
    if mode not in PAD_MODES:
        raise ValueError(f"pad: mode must be one of {sorted(PAD_MODES)}, got {mode!r}")
    if mode != "constant" and value not in (None, 0):
        raise ValueError(f'pad: padding mode "{mode}" doesn\'t take in value argument')
    x = st.as_tensor(input)
    if any(isinstance(w, bool) or not isinstance(w, (int, np.integer)) for w in pad):
        raise TypeError(f"pad: the widths must be ints, got {tuple(pad)!r}")
    widths = [int(w) for w in pad]
    if len(widths) % 2 or len(widths) // 2 > x.ndim:
        raise ValueError(
            f"pad: expected an even number of widths, at most 2 per dimension of the input "
            f"{x.shape}, got {tuple(widths)}"
        )
    pairs = [(0, 0)] * x.ndim
    for i in range(len(widths) // 2):
        pairs[x.ndim - 1 - i] = (widths[2 * i], widths[2 * i + 1])
    if mode != "constant":
        return _pad_by_copies(x, pairs, mode)
    if any(w < 0 for w in widths):  # PyTorch crops there: pad the rest, then cut
        grown = st.pad(
            x, [(max(a, 0), max(b, 0)) for a, b in pairs], 0.0 if value is None else value
        )
        kept = tuple(slice(max(-a, 0), n - max(-b, 0)) for (a, b), n in zip(pairs, grown.shape))
        if any(k.start > k.stop for k in kept):
            raise ValueError(f"pad: the widths {tuple(widths)} crop more than {x.shape} holds")
        return grown[kept]
    return st.pad(x, pairs, 0.0 if value is None else value)


def _pad_by_copies(x: Tensor, pairs: list[tuple[int, int]], mode: str) -> Tensor:
    """Pad by copying elements of ``x`` (reflect, replicate, circular): along each padded
    dimension, ``index_select`` of the positions numpy's ``np.pad`` of ``arange`` names,
    so the gradient of each copy is summed into its source."""
    for axis, (before, after) in enumerate(pairs):
        if before == after == 0:
            continue
        n = x.shape[axis]
        limit = n - 1 if mode == "reflect" else n  # reflect never repeats the edge
        if min(before, after) < 0 or max(before, after) > limit or n == 0:
            raise ValueError(
                f"pad: {mode} padding of ({before}, {after}) along dimension {axis} of the "
                f"input {x.shape}: each width must be between 0 and {limit} (the "
                f"dimension's size{' - 1' if mode == 'reflect' else ''})"
            )
        positions = np.pad(np.arange(n), (before, after), mode=PAD_MODES[mode])
        x = x.index_select(axis, Tensor(positions))
    return x
