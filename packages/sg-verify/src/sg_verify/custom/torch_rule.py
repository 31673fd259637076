"""``sg_verify.check_torch``: the same checks on a PyTorch rule.

A ``torch.autograd.Function`` (or any torch function) is wrapped as an
:class:`sg_tensor.Function` whose forward runs it in torch and whose ``backward`` is
torch's gradient of it (:class:`_TorchGradient`, itself a Function whose ``backward``
is torch's second derivative). Every check of :func:`sg_verify.check` then runs on the
torch rule unchanged: sg only carries torch's numbers from one side to the other (the
inputs go to torch as they are, float64 or float32; the gradients come back as torch
computed them). The own-rule mutants transform what torch's rule returned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

import sg_tensor as st
from sg_scalar import NotTwiceDifferentiableError
from sg_verify.custom.check import (
    _name_of,
    checked_options,
    checked_probes,
    differentiated,
    inputs_and_dtype,
    run_checks,
)
from sg_verify.custom.mutants import Grads, RuleMutant
from sg_verify.custom.result import CheckResult
from sg_verify.pytorch import require_torch

__all__ = ["check_torch"]


def check_torch(
    fn: Any,
    *inputs: Any,
    dtype: Any = None,
    params: dict[str, Any] | None = None,
    probes: Iterable[Sequence[Any]] = (),
    seed: int = 0,
    mutants: bool = True,
    raise_on_failure: bool = False,
    name: str | None = None,
) -> CheckResult:
    """Check the gradient rule of a PyTorch function at ``inputs`` (torch tensors or
    numpy arrays), with every check and own-rule mutant of :func:`sg_verify.check`.

    ``fn`` is a ``torch.autograd.Function`` subclass (called as ``fn.apply(*inputs,
    **params)``) or a function of torch tensors returning one or a tuple of them.
    ``dtype=np.float32`` (the default for float32 inputs) also checks the rule run in
    float32 against itself in float64,
    within float32's rounding times the measured conditioning, where
    ``torch.autograd.gradcheck`` "will likely fail". Needs the ``torch`` extra.

    For example (the package's doctests run without torch; the guide's run with it)::

        result = sg_verify.check_torch(lambda x: x.sin() * x, np.array([0.5, 1.0]))
        assert result.ok
    """
    torch = require_torch()
    params = checked_options(params, seed, who="check_torch")
    if isinstance(fn, type) and issubclass(fn, st.Function):
        raise TypeError(f"check_torch: {fn.__name__} is an sg_tensor.Function; use check()")
    is_function = isinstance(fn, type) and issubclass(fn, torch.autograd.Function)
    if not is_function and not callable(fn):
        raise TypeError(f"check_torch: {type(fn).__name__} is not a torch function")

    def forward(*xs: Any) -> Any:
        return fn.apply(*xs, **params) if is_function else fn(*xs, **params)

    label = name or _name_of(fn)
    arrays, dtype = inputs_and_dtype(inputs, dtype)
    probes = checked_probes(probes, len(arrays))
    keep = _torch_outputs(torch, forward, label, arrays)
    for k, point in enumerate(probes):
        _torch_outputs(torch, forward, label, inputs_and_dtype(point, dtype)[0], f"probe {k}")

    def mutate(mutant: RuleMutant) -> Callable[..., Any]:
        return _bridge(torch, forward, label, mutant.transform).apply

    call = _bridge(torch, forward, label, None).apply
    result = run_checks(label, call, arrays, dtype, mutate if mutants else None,
                        probes=probes, seed=seed, keep=keep)  # fmt: skip
    if raise_on_failure:
        result.raise_for_failure()
    return result


def _torch_outputs(
    torch: Any, forward: Callable[..., Any], name: str, arrays: list[np.ndarray], where: str = ""
) -> list[int]:
    """:func:`sg_verify.check`'s up-front refusals for a torch function (an output that
    is not a torch tensor, no floating output, a forward that is not finite at
    ``arrays``); the outputs to differentiate (:func:`~sg_verify.custom.check.differentiated`)."""
    xs = [torch.from_numpy(a.copy()).requires_grad_() for a in arrays]
    with torch.enable_grad():  # so that a detached or non-differentiable output shows
        outs = _outputs(forward(*xs))
    for k, o in enumerate(outs):
        if not isinstance(o, torch.Tensor):
            raise TypeError(
                f"check_torch: {name} returned a {type(o).__name__} as output {k}; it must "
                "return a torch tensor or a tuple of them"
            )
    datas = [o.detach().numpy() for o in outs]
    return differentiated("check_torch", name, datas, [o.requires_grad for o in outs], where)


def _to_torch(torch: Any, x: Any, requires_grad: bool = False) -> Any:
    data = np.array(x.data if isinstance(x, st.Tensor) else x)  # torch gets its own copy
    return torch.from_numpy(data).requires_grad_(requires_grad)


def _outputs(out: Any) -> list[Any]:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _bridge(
    torch: Any,
    forward: Callable[..., Any],
    name: str,
    transform: Callable[[Grads], Grads] | None,
) -> type[st.Function]:
    """``forward`` (a torch function) as an sg Function whose rule is torch's."""

    def forward_in_torch(ctx: Any, *xs: Any) -> Any:
        ctx.save_for_backward(*xs)
        with torch.no_grad():
            # torch.from_numpy shares the input's memory: a torch rule that writes into
            # its input shows up in the no-mutation property.
            out = forward(*[torch.from_numpy(x.data) for x in xs])
        for k, o in enumerate(_outputs(out)):
            if not isinstance(o, torch.Tensor):
                raise TypeError(
                    f"check_torch: {name} returned a {type(o).__name__} as output {k}; it "
                    "must return a torch tensor or a tuple of them"
                )
        results = [st.Tensor(o.detach().numpy().copy()) for o in _outputs(out)]
        return results[0] if not isinstance(out, (tuple, list)) else tuple(results)

    def backward_in_torch(ctx: Any, *grads: Any) -> Any:
        xs = ctx.saved_tensors
        floating = [g for g in grads if g is not None]  # None: an integer output's
        found = _TorchGradient.apply(*xs, *floating, forward=forward, n_inputs=len(xs))
        found = found if isinstance(found, tuple) else (found,)
        return found if transform is None else transform(found)

    # type(): the operator takes the class's name, which is the user's function's
    methods = {
        "forward": staticmethod(forward_in_torch),
        "backward": staticmethod(backward_in_torch),
    }
    bridge: type[st.Function] = type(name, (st.Function,), methods)
    return bridge


class _TorchGradient(st.Function):
    """torch's gradient of ``forward`` at ``xs`` for output gradients ``grads`` (the
    arguments after the first ``n_inputs``); its own rule is torch's second derivative."""

    @staticmethod
    def forward(ctx: Any, *args: Any, forward: Callable[..., Any], n_inputs: int) -> Any:
        torch = require_torch()
        ctx.save_for_backward(*args)
        ctx.forward, ctx.n_inputs = forward, n_inputs
        with torch.enable_grad():
            xs, outs, gs = _torch_graph(torch, forward, args, n_inputs)
            found = _gradients(torch, outs, xs, gs, create_graph=False)
        results = tuple(st.Tensor(g.detach().numpy().copy()) for g in found)
        return results if len(results) > 1 else results[0]

    @staticmethod
    @st.once_differentiable  # third derivatives are not checked
    def backward(ctx: Any, *weights: Any) -> Any:
        torch = require_torch()
        args = ctx.saved_tensors
        with torch.enable_grad():
            xs, outs, gs = _torch_graph(torch, ctx.forward, args, ctx.n_inputs, gs_grad=True)
            found = _gradients(torch, outs, xs, gs, create_graph=True)
            _require_differentiable(found, gs)
            pairs = [
                (g, _to_torch(torch, w)) for g, w in zip(found, weights)
                if w is not None and g.requires_grad
            ]  # fmt: skip
            wrt = [*xs, *gs]
            try:
                second = (
                    torch.autograd.grad(
                        [g for g, _ in pairs], wrt, [w for _, w in pairs], allow_unused=True
                    )
                    if pairs
                    else [None] * len(wrt)
                )
            except NotImplementedError as error:
                # torch has no second derivative for an operator (pdist): first order only,
                # as for a rule marked @once_differentiable, not a failure of the rule
                raise NotTwiceDifferentiableError(f"torch: {error}") from error
        return tuple(None if s is None else s.detach().numpy().copy() for s in second)


def _require_differentiable(found: list[Any], gs: list[Any]) -> None:
    """Refuse a torch rule whose gradient has no graph of its own (``@once_differentiable``,
    or computed outside torch's autograd): it has no second derivative to check.

    The gradient is linear in the output gradients ``gs``, which require grad here, so a
    nonzero gradient that does not require grad, or hangs off torch's error node, was cut
    off from them.
    """
    for i, g in enumerate(found):
        cut = not g.requires_grad and bool(g.detach().any())
        error_node = g.grad_fn is not None and "Error" in type(g.grad_fn).__name__
        if error_node or (cut and any(x.requires_grad for x in gs)):
            raise NotTwiceDifferentiableError(
                f"torch's gradient for input {i} has no graph of its own: its backward is "
                "marked @once_differentiable or computes outside torch's autograd"
            )


def _torch_graph(
    torch: Any, forward: Callable[..., Any], args: Sequence[Any], n: int, gs_grad: bool = False
) -> tuple[list[Any], list[Any], list[Any]]:
    """Fresh torch leaves for the inputs (and output gradients), and the outputs."""
    xs = [_to_torch(torch, x, True) for x in args[:n]]
    gs = [_to_torch(torch, g, gs_grad) for g in args[n:]]
    outs = [o for o in _outputs(forward(*xs)) if o.is_floating_point()]
    return xs, outs, gs


def _gradients(
    torch: Any, outs: list[Any], xs: list[Any], gs: list[Any], create_graph: bool
) -> list[Any]:
    """torch's gradient of ``sum(out * g)`` for each input (zeros where none flows)."""
    pairs = [(o, g) for o, g in zip(outs, gs) if o.requires_grad]
    if not pairs:
        return [torch.zeros_like(x) for x in xs]
    found = torch.autograd.grad(
        [o for o, _ in pairs], xs, [g.to(o.dtype) for o, g in pairs],
        allow_unused=True, create_graph=create_graph,
    )  # fmt: skip
    return [torch.zeros_like(x) if g is None else g for g, x in zip(found, xs)]
