"""Second-order oracles: the gradient of a gradient, checked two ways.

For an operator ``f`` at inputs ``x`` and an output cotangent ``v``, the first-order
gradient is the vector-Jacobian product ``g(x, v) = J(x)^T v``. The second-order check
differentiates ``phi(x, v) = sum_i <g_i(x, v), w_i>`` (random ``w_i``, one per input)
with respect to every input *and* ``v``, as ``torch.autograd.gradgradcheck`` does:

- with respect to ``x`` it is a Hessian-vector product, which exercises every rule run
  on nodes (``create_graph=True``);
- with respect to ``v`` it is ``J(x) w``, which catches a rule that uses its incoming
  gradient in a way that is not differentiable.

sg computes it with two reverse passes (``grad(..., create_graph=True)`` then ``grad``).
The references are central differences of sg's own *first-order* gradient (which the
first-order oracles already trust) and PyTorch float64 with ``create_graph=True``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import sg_scalar
import sg_tensor as st
from sg_scalar import Value
from sg_verify.numerical import differences
from sg_verify.oracles import (
    GradcheckError,
    OracleResult,
    _to_sg,
    central_differences,
    draw_cotangent,
    input_differences,
    judge,
    mismatch,
    of_input,
    project,
    rounding_free,
    sg_vjp,
    user_inputs,
    worst_difference,
)
from sg_verify.pytorch import require_torch
from sg_verify.registry import OpSpec
from sg_verify.tolerances import FD2_FLOOR, TORCH2_TOL

__all__ = [
    "SecondOrderProblem",
    "fd_check2",
    "gradgradcheck",
    "sg_second_order",
    "torch_check2",
    "torch_second_order",
]


class SecondOrderProblem:
    """The inputs ``x``, cotangent ``v`` and weights ``w`` of one second-order check."""

    def __init__(
        self, engine: str, fn: Callable[..., Any], arrays: Sequence[np.ndarray], seed: int = 0
    ) -> None:
        self.engine, self.fn = engine, fn
        self.arrays = [np.array(a, dtype=np.float64) for a in arrays]
        rng = np.random.default_rng(seed)
        self.cotangent = draw_cotangent(engine, fn, self.arrays, rng)
        self.weights = [rng.standard_normal(a.shape) for a in self.arrays]
        self.rng = rng

    def objective(self, *arrays: np.ndarray) -> float:
        """``phi``: the first-order gradients (sg, raw path) weighted by ``w``.

        The last argument is the cotangent ``v``; the others are the inputs.
        """
        *xs, v = arrays
        _, grads = sg_vjp(self.engine, self.fn, xs, np.asarray(v))
        return float(sum(np.sum(g * w) for g, w in zip(grads, self.weights)))


def _grad_fn(engine: str) -> Callable[..., tuple[Any, ...]]:
    return sg_scalar.grad if engine == "scalar" else st.grad


def _zeros_or(g: Any, shape: tuple[int, ...]) -> np.ndarray:
    if g is None:
        return np.zeros(shape)
    return np.asarray(g.data, dtype=np.float64).reshape(shape)


def sg_second_order(problem: SecondOrderProblem) -> list[np.ndarray]:
    """sg's gradient of ``phi`` with respect to each input and then ``v``."""
    engine = problem.engine
    grad = _grad_fn(engine)
    xs = _to_sg(engine, problem.arrays, requires_grad=True)
    if engine == "scalar":
        v: Any = Value(float(problem.cotangent), requires_grad=True)
    else:
        v = st.Tensor(problem.cotangent.copy(), requires_grad=True)
    out = problem.fn(*xs)
    firsts = grad(out, xs, v, create_graph=True, allow_unused=True)
    terms = [
        (g * float(w) if engine == "scalar" else (g * w).sum())
        for g, w in zip(firsts, problem.weights)
        if g is not None and g.requires_grad
    ]
    shapes = [a.shape for a in problem.arrays] + [problem.cotangent.shape]
    if not terms:  # phi does not depend on x or v through any graph: all zeros
        return [np.zeros(s) for s in shapes]
    phi = terms[0]
    for term in terms[1:]:
        phi = phi + term
    seconds = grad(phi, [*xs, v], allow_unused=True)
    return [_zeros_or(g, s) for g, s in zip(seconds, shapes)]


def torch_second_order(
    torch_fn: Callable[..., Any], problem: SecondOrderProblem
) -> list[np.ndarray]:
    """PyTorch float64's gradient of ``phi`` (``create_graph=True``)."""
    torch = require_torch()
    xs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in problem.arrays]
    v = torch.tensor(problem.cotangent, dtype=torch.float64, requires_grad=True)
    out = torch_fn(*xs)
    firsts = torch.autograd.grad(out, xs, v, create_graph=True, allow_unused=True)
    terms = [
        (g * torch.tensor(w)).sum()
        for g, w in zip(firsts, problem.weights)
        if g is not None and g.requires_grad
    ]
    shapes = [a.shape for a in problem.arrays] + [problem.cotangent.shape]
    if not terms:
        return [np.zeros(s) for s in shapes]
    seconds = torch.autograd.grad(sum(terms), [*xs, v], allow_unused=True)
    return [
        # force=True: torch may answer with a lazy "ZeroTensor" that refuses .numpy()
        np.zeros(s) if g is None else g.detach().numpy(force=True).reshape(s)
        for g, s in zip(seconds, shapes)
    ]


def fd_second_order(
    problem: SecondOrderProblem, eps: float, directions: int = 8
) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """Central differences of ``phi`` for each input and ``v`` (see ``central_differences``)."""
    arrays = [*problem.arrays, problem.cotangent]
    return [
        central_differences(problem.objective, arrays, i, eps, directions, problem.rng)
        for i in range(len(arrays))
    ]


def _label(i: int, n_inputs: int) -> str:
    return "cotangent v" if i == n_inputs else f"input {i}"


def fd_check2(spec: OpSpec, arrays: Sequence[np.ndarray], seed: int = 0) -> OracleResult:
    """The second-order finite-difference oracle on one registry spec (``fd2``):
    extrapolated differences of sg's first-order gradient, each element held to their
    own error estimate (as :func:`~sg_verify.oracles.fd_check`)."""
    arrays, _ = rounding_free(spec, arrays, np.zeros(()))
    problem = SecondOrderProblem(spec.engine, spec.sg, arrays, seed)
    _, problem.cotangent = rounding_free(spec, arrays, problem.cotangent)
    problem.weights = [rounding_free(spec, [], w)[1] for w in problem.weights]
    got = sg_second_order(problem)
    points = [*problem.arrays, problem.cotangent]
    _, firsts = sg_vjp(spec.engine, spec.sg, problem.arrays, problem.cotangent)
    scale = float(sum(np.sum(np.abs(g * w)) for g, w in zip(firsts, problem.weights)))
    comparisons = []
    for i, point in enumerate(points):
        phi = of_input(problem.objective, points, i)
        if i < len(arrays):
            found = input_differences(spec, phi, points, i, problem.rng, scale, True)
        else:  # the cotangent: phi is linear in it
            found = differences(phi, point, 8, problem.rng, scale=scale)
        kind = "element" if found.directions is None else "direction"
        comparisons.append((f"{_label(i, len(arrays))} {kind}", found.project(got[i]), found))
    return judge("fd2", spec.name, comparisons, floor=FD2_FLOOR)


def torch_check2(
    spec: OpSpec, arrays: Sequence[np.ndarray], seed: int = 0, tol: float = TORCH2_TOL
) -> OracleResult:
    """The second-order PyTorch oracle on one registry spec (``torch2``), within ``tol``
    (scale-aware; :func:`sg_verify.check` passes the user's ``torch_tol``)."""
    problem = SecondOrderProblem(spec.engine, spec.sg, arrays, seed)
    got = sg_second_order(problem)
    expected = torch_second_order(spec.torch, problem)
    labels = [f"{_label(i, len(arrays))} element" for i in range(len(got))]
    worst, where = worst_difference(zip(labels, got, expected))
    return OracleResult("torch2", spec.name, worst, where, worst <= tol)


def gradgradcheck(
    fn: Callable[..., Any],
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    directions: int = 8,
    seed: int = 0,
    raise_exception: bool = True,
) -> bool:
    """Check sg's second derivatives of ``fn`` at ``inputs`` against finite differences.

    In the spirit of ``torch.autograd.gradgradcheck``: with a random output cotangent
    ``v`` and random weights ``w``, the gradient of ``<grad(fn)(x, v), w>`` with respect
    to every input and to ``v`` (computed by sg with ``create_graph=True``) must match
    central differences of sg's first-order gradient within ``atol + rtol * |reference|``.
    Inputs are numpy arrays, Tensors or numbers (``sg_scalar.Value`` inputs select the
    scalar engine). Raises :class:`~sg_verify.oracles.GradcheckError` naming the input,
    the index and the disagreement (or returns False with ``raise_exception=False``).

    >>> import numpy as np
    >>> gradgradcheck(lambda x, y: (x * y).sin().sum(axis=0), np.ones((2, 3)), np.arange(3.0))
    True
    """
    engine, arrays = user_inputs(inputs)
    problem = SecondOrderProblem(engine, fn, arrays, seed)
    got = sg_second_order(problem)
    for i, (reference, us) in enumerate(fd_second_order(problem, eps, directions)):
        shape = [*problem.arrays, problem.cotangent][i].shape
        what = f"second derivative with respect to {_label(i, len(arrays))} (shape {shape})"
        message = mismatch("gradgradcheck", what, project(got[i], us), reference, us, atol, rtol)
        if message is not None:
            if raise_exception:
                raise GradcheckError(message)
            return False
    return True
