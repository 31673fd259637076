"""Batch normalisation: PyTorch's ``batch_norm``.

In training, each channel is normalised with the mean and the (biased) variance of its
values over the batch and the spatial axes, ``x_hat = (x - mean) / sqrt(var + eps)``,
then scaled and shifted per channel, ``x_hat * weight + bias``; the running statistics
move towards the batch's (with the *unbiased* variance, as PyTorch keeps them). In
evaluation, the running statistics replace the batch's.

The normalisation's rule is the one people get wrong: ``mean`` and ``var`` depend on
every input of the channel, so besides the direct term the gradient has one term
through the mean and one through the variance:

    grad_x = (g - mean(g) - x_hat * mean(g * x_hat)) / sqrt(var + eps)

The scale and shift are ``mul`` and ``add``, whose rules give ``weight`` and ``bias``
their gradients.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sg_scalar.bounds import Bounds
from sg_scalar.declare import REAL, Case, Torch
from sg_tensor.capturing import computed, replayed
from sg_tensor.op import OPS, composite, op, positional
from sg_tensor.tensor import Tensor, as_tensor, operand

Grads = tuple[Any, ...]
Axes = tuple[int, ...]


def _normalized(x: Any, axes: Axes, eps: float) -> tuple[Any, Any]:
    """``x_hat`` and ``1 / sqrt(var + eps)`` (biased variance over ``axes``), on arrays or
    nodes."""
    centred = x - x.mean(axis=axes, keepdims=True)
    inv_std = 1.0 / ((centred * centred).mean(axis=axes, keepdims=True) + eps) ** 0.5
    return centred * inv_std, inv_std


def _per_channel(v: Any, ndim: int) -> Any:
    """A (C,) vector shaped to broadcast against (N, C, ...)."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def _batch_norm(
    x: np.ndarray, w: np.ndarray | None = None, b: np.ndarray | None = None, *, axes: Axes,
    eps: float,
) -> Any:  # fmt: skip
    out, _ = _normalized(x, axes, eps)
    wider = np.result_type(*[a for a in (x, w, b) if a is not None])
    if out.dtype != wider:  # float32 x, float64 weight: float64, as in evaluation mode
        out = out.astype(wider)
    if w is not None:
        out *= _per_channel(w, x.ndim)
    if b is not None:
        out += _per_channel(b, x.ndim)
    return out


def _channel(t: Any, x: Tensor, name: str) -> Any:
    """A per-channel Tensor or array shaped to broadcast against ``x`` (N, C, ...)."""
    value = _channel_values(t, x, name)
    view = (1, -1) + (1,) * (x.ndim - 2)
    return t.reshape(view) if isinstance(t, Tensor) else value.reshape(view)


def _running(running: Any, view: tuple[int, ...], dtype: np.dtype[Any]) -> np.ndarray:
    """A running statistic (a Tensor or an array, read now) shaped to broadcast per channel."""
    values = running.data if isinstance(running, Tensor) else running
    return np.asarray(values, dtype=dtype).reshape(view)


def _inverse_std(var: Any, view: tuple[int, ...], dtype: np.dtype[Any], eps: float) -> Any:
    """``1 / sqrt(var + eps)`` in the input's dtype, per channel: evaluation's scale."""
    return 1.0 / np.sqrt(_running(var, view, dtype) + eps)


def _channel_values(t: Any, x: Tensor, name: str) -> np.ndarray:
    """``t``'s values, once they hold one number per channel of ``x`` (N, C, ...)."""
    shape = (x.shape[1],)
    value = t.data if isinstance(t, Tensor) else np.asarray(t)
    if value.shape != shape:
        raise ValueError(f"batch_norm: {name} must have shape {shape} for an input of shape "
                         f"{x.shape}, got {value.shape}")  # fmt: skip
    return value


def _updatable(running: Any, name: str) -> None:
    """Running statistics must be floating arrays or Tensors: they are updated in place."""
    target = running.data if isinstance(running, Tensor) else running
    if not isinstance(target, np.ndarray) or target.dtype.kind != "f":
        what = getattr(target, "dtype", type(running).__name__)
        raise TypeError(f"batch_norm: {name} must be a floating-point array or Tensor, "
                        f"updated in place in training; got {what}")  # fmt: skip


def _update(running: Any, batch: np.ndarray, momentum: float) -> None:
    """``running = (1 - momentum) * running + momentum * batch``, in place (the running
    statistics are buffers the caller owns, as in PyTorch)."""
    target = running.data if isinstance(running, Tensor) else running
    target *= 1.0 - momentum
    target += momentum * batch.astype(target.dtype, copy=False)


@replayed  # a captured training step updates the statistics at every replay
def update_running_stats(running_mean: Any, running_var: Any, x: Tensor, momentum: float) -> None:
    """Move the running statistics (arrays or tensors, updated in place) ``momentum`` of
    the way towards the batch ``x``'s: its mean and its unbiased variance per channel."""
    data = x.data
    axes = (0,) + tuple(range(2, data.ndim))
    count = data.size // max(data.shape[1], 1)
    _update(running_mean, data.mean(axis=axes), momentum)
    unbiased = data.var(axis=axes) * (count / (count - 1))
    _update(running_var, unbiased, momentum)


def _batch_norm_entry(
    input: Any, weight: Any = None, bias: Any = None, running_mean: Any = None,
    running_var: Any = None, training: bool = False, momentum: float = 0.1, eps: float = 1e-5,
) -> Tensor:  # fmt: skip
    """Normalise each channel of ``input`` (N, C, ...) then ``* weight + bias`` per channel:
    PyTorch's ``torch.batch_norm`` argument order (``sg_nn.functional.batch_norm`` has
    ``torch.nn.functional``'s). ``training``: the batch's statistics, and the running
    ones (if given) updated in place with ``momentum``; else the running ones."""
    x = as_tensor(input)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected an input (N, C, ...), got shape {x.shape}")
    if x.data.dtype.kind != "f":
        raise TypeError(f"batch_norm: input must be floating point, got dtype {x.dtype}")
    for name, value in (("momentum", momentum), ("eps", eps)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"batch_norm: {name} must be a number, got {value!r}")
    if not eps >= 0 or (training and not eps > 0):
        raise ValueError(f"batch_norm: eps must be positive, got {eps!r}")
    axes = (0,) + tuple(range(2, x.ndim))
    if training:
        count = x.size // max(x.shape[1], 1)
        if count <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input of shape {x.shape}")  # fmt: skip
        if (running_mean is None) != (running_var is None):
            raise ValueError("batch_norm: give both running_mean and running_var, or neither")
        affine = [None if t is None else operand(t, x, "batch_norm") for t in (weight, bias)]
        for t, name in zip(affine, ("weight", "bias")):
            if t is not None:
                _channel(t, x, name)
        if affine[0] is None and affine[1] is not None:  # the operator's inputs: (x, w, b)
            affine[0] = Tensor(np.ones(x.shape[1], dtype=x.dtype))
        if running_mean is not None:  # checked first: a failed call changes nothing
            for running, name in ((running_mean, "running_mean"), (running_var, "running_var")):
                _channel_values(running, x, name)
                _updatable(running, name)
            update_running_stats(running_mean, running_var, x, momentum)
        inputs = [x] + [t for t in affine if t is not None]
        ctx = {"axes": axes, "eps": float(eps)}
        return Tensor._apply_n(OPS["batch_norm"], inputs, ctx)
    if running_mean is None or running_var is None:
        raise ValueError("batch_norm: running_mean and running_var must be given in "
                         "evaluation mode (training=False)")  # fmt: skip
    # computed: a captured evaluation step reads the running statistics again at each
    # replay (training between two calls, a loaded state dict), as an eager call does
    _channel_values(running_mean, x, "running_mean")  # checked here; read at each replay below
    _channel_values(running_var, x, "running_var")
    view = (1, -1) + (1,) * (x.ndim - 2)
    mean = computed(_running, running_mean, view, x.dtype)
    scale = computed(_inverse_std, running_var, view, x.dtype, eps)
    out: Tensor = (x - mean) * scale
    if weight is not None:
        out = out * _channel(operand(weight, x, "batch_norm"), x, "weight")
    if bias is not None:
        out = out + _channel(operand(bias, x, "batch_norm"), x, "bias")
    return out


def _torch_batch_norm(
    torch: Any, x: Any, weight: Any = None, bias: Any = None, running_mean: Any = None,
    running_var: Any = None, training: bool = False, momentum: float = 0.1, eps: float = 1e-5,
) -> Any:  # fmt: skip
    """``torch.nn.functional.batch_norm``, whose running statistics come first."""
    mean, var = (None if a is None else torch.as_tensor(a) for a in (running_mean, running_var))
    return torch.nn.functional.batch_norm(x, mean, var, weight, bias, training, momentum, eps)


X = (4, 3, 2, 3)
RUNNING = (np.array([0.5, -1.0, 0.2]), np.array([1.5, 0.3, 2.0]))
BATCH_NORM = [
    positional(_batch_norm_entry, (X, (3,), (3,)), training=True),
    positional(_batch_norm_entry, ((5, 2),), "rows, eps=0.5", training=True, eps=0.5),
    positional(_batch_norm_entry, ((3, 2, 4), (2,)), training=True),
]  # fmt: skip
"""Training: a 4-D and a 3-D input, a batch of rows, with and without the affine part."""


def _bound(b: Bounds) -> float:
    """``|x_hat| <= sqrt(n)`` for ``n`` values per channel, times the weight, plus the bias."""
    shape = b.shapes[0]
    scale = math.sqrt(math.prod(shape) / shape[1])
    if len(b.shapes) > 1:
        scale *= b.m(1)
    return scale + (b.m(2) if len(b.shapes) > 2 else 0.0)


@op("batch_norm", _batch_norm, "batch_norm", _batch_norm_entry, method=None,
    inputs=(REAL, REAL, REAL), cases=BATCH_NORM, torch=Torch(call=_torch_batch_norm),
    bound=_bound, needs_input_grad=True, grad_reads=((0, 1), (0,), ()))  # fmt: skip
def batch_norm(
    g: Any, out: Any, x: Any, w: Any = None, b: Any = None, *, axes: Axes, eps: float,
    needs_input_grad: tuple[bool, ...],
) -> Grads:  # fmt: skip
    """grad_x = (h - mean(h) - x_hat * mean(h * x_hat)) / sqrt(var + eps) with h = g *
    weight, the means over the batch and spatial axes (the direct term, the mean's and the
    variance's); grad_weight = sum(g * x_hat), grad_bias = sum(g)."""
    x_hat, inv_std = _normalized(x, axes, eps)
    h = g if w is None else g * _per_channel(w, x.ndim)
    gx = gw = gb = None
    if needs_input_grad[0]:
        through_mean = h.mean(axis=axes, keepdims=True)
        through_var = x_hat * (h * x_hat).mean(axis=axes, keepdims=True)
        gx = (h - through_mean - through_var) * inv_std
    if w is not None and needs_input_grad[1]:
        gw = (g * x_hat).sum(axis=axes)
    if b is not None and needs_input_grad[2]:
        gb = g.sum(axis=axes)
    return (gx, gw, gb)[: 1 + (w is not None) + (b is not None)]


def _evaluation(x: Any, w: Any = None, b: Any = None, **params: Any) -> Tensor:
    """``batch_norm`` in evaluation mode: elementwise, with the running statistics."""
    return _batch_norm_entry(x, w, b, *RUNNING, training=False, **params)


def _torch_evaluation(torch: Any, x: Any, w: Any = None, b: Any = None, **params: Any) -> Any:
    return _torch_batch_norm(torch, x, w, b, *RUNNING, training=False, **params)


composite("batch_norm_eval", "batch_norm", None, method=None, function=None, uses=("sub", "mul",
          "add"), call=_evaluation, torch=Torch(call=_torch_evaluation), inputs=(REAL, REAL, REAL),
          cases=[Case({}, (X, (3,), (3,))), Case({"eps": 0.5}, (X,))])  # fmt: skip
"""Evaluation mode, checked as its own entry: it runs no ``batch_norm`` rule (the running
statistics are constants), and running statistics the checks keep as they are."""
