"""sg-tensor's ``hvp``, ``jacobian``, ``hessian``, ``vjp`` and ``jvp`` against
``torch.autograd.functional``.

Each case is a small function written twice, once with sg's operators and once with
torch's, evaluated at a fixed random point. The scalar functions are checked by all
three helpers (the Jacobian of a scalar function is its gradient); the vector ones by
``jacobian``. The measure is the scale-aware difference of :func:`scale_aware`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import sg_tensor as st
from sg_verify.oracles import worst_difference
from sg_verify.pytorch import require_torch
from sg_verify.tolerances import FUNCTIONAL_TOL

__all__ = ["FUNCTIONAL_CASES", "FunctionalCase", "FunctionalResult", "run_functional"]


@dataclass(frozen=True)
class FunctionalCase:
    """One function, in sg and in torch, and the point it is differentiated at."""

    name: str
    sg: Callable[..., Any]
    torch: Callable[..., Any] | None  # None: the same code runs on torch tensors
    shapes: tuple[tuple[int, ...], ...]  # one shape per input; several: a tuple of inputs
    scalar: bool  # a scalar output: hvp and hessian apply


@dataclass
class FunctionalResult:
    """The worst difference of one helper on one case."""

    case: str
    helper: str  # "hvp", "jacobian", "hessian", "vjp" or "jvp"
    worst: float

    @property
    def passed(self) -> bool:
        return self.worst <= FUNCTIONAL_TOL


_R = np.random.default_rng(7)
_A = _R.standard_normal((4, 4))
_W1, _W2 = _R.standard_normal((5, 4)), _R.standard_normal((3, 5))
_Y = np.eye(4)[[0, 2, 3]]


def _t(array: np.ndarray) -> Any:
    torch = require_torch()
    return torch.tensor(array, dtype=torch.float64)


_Fn = Callable[..., Any]
_Case = tuple[str, _Fn, _Fn | None, tuple[tuple[int, ...], ...], bool]
FUNCTIONAL_CASES = [FunctionalCase(*case) for case in list[_Case]([
    ("two inputs: tanh(w @ x) . x",
     lambda x, w: ((w @ x).tanh() * x[:3]).sum() + (x * x).sum() * w.sum(), None,
     ((4,), (3, 4)), True),
    ("two inputs, two outputs (vector)", lambda x, w: (w @ x, (x * w[0]).exp()), None,
     ((4,), (3, 4)), False),
    ("quadratic form x.A.x", lambda x: x @ _A @ x, lambda x: x @ _t(_A) @ x, ((4,),), True),
    ("logsumexp", lambda x: x.logsumexp(), lambda x: x.logsumexp(dim=0), ((5,),), True),
    ("cross-entropy of logits", lambda x: -(x.log_softmax(axis=1) * _Y).sum(),
     lambda x: -(x.log_softmax(dim=1) * _t(_Y)).sum(), ((3, 4),), True),
    ("two-layer tanh net", lambda x: ((_W2 @ (_W1 @ x).tanh()).sigmoid() ** 2).sum(),
     lambda x: ((_t(_W2) @ (_t(_W1) @ x).tanh()).sigmoid() ** 2).sum(), ((4,),), True),
    ("rosenbrock", lambda x: (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum(),
     None, ((5,),), True),
    ("gelu, softplus and variance", lambda x: (x.gelu() * x.softplus()).var(),
     lambda x: (_torch_f().gelu(x) * _torch_f().softplus(x)).var(),
     ((2, 3),), True),
    ("softmax (vector)", lambda x: x.softmax(axis=-1), lambda x: x.softmax(dim=-1), ((5,),),
     False),
    ("tanh of a linear map (vector)", lambda x: (_A @ x).tanh(), lambda x: (_t(_A) @ x).tanh(),
     ((4,),), False),
    ("gathered products (vector)",
     lambda x: x[np.array([0, 2, 2])] * (0.5 * x.sum(axis=0)).exp(),
     lambda x: x[[0, 2, 2]] * (0.5 * x.sum(dim=0)).exp(), ((3, 4),), False),
])]  # fmt: skip


def _torch_f() -> Any:
    return require_torch().nn.functional


def run_functional(seed: int = 0) -> list[FunctionalResult]:
    """Every case through sg's helpers and torch.autograd.functional's (needs torch)."""
    torch = require_torch()
    functional = torch.autograd.functional
    rng = np.random.default_rng(seed)
    results = []
    for case in FUNCTIONAL_CASES:
        reference = case.torch or case.sg
        several = len(case.shapes) > 1
        xs = tuple(rng.uniform(-1.0, 1.0, shape) for shape in case.shapes)
        sg_in = xs if several else xs[0]
        torch_in = tuple(_t(x) for x in xs) if several else _t(xs[0])
        jac = st.jacobian(case.sg, sg_in)
        jac_ref = functional.jacobian(reference, torch_in)
        results.append(FunctionalResult(case.name, "jacobian", _worst(jac, jac_ref)))
        # vjp and jvp: a random output vector, a random input vector
        out_shape = jac_ref.shape[: jac_ref.ndim - len(case.shapes[0])] if not several else None
        if out_shape is not None:
            u = rng.standard_normal(out_shape)
            _, vj = st.autograd.functional.vjp(case.sg, sg_in, u)
            _, vj_ref = functional.vjp(reference, torch_in, _t(u))
            results.append(FunctionalResult(case.name, "vjp", _worst(vj, vj_ref)))
        ws = tuple(rng.standard_normal(shape) for shape in case.shapes)
        _, jv = st.autograd.functional.jvp(case.sg, sg_in, ws if several else ws[0])
        w_ref = tuple(_t(w) for w in ws) if several else _t(ws[0])
        _, jv_ref = functional.jvp(reference, torch_in, w_ref)
        results.append(FunctionalResult(case.name, "jvp", _worst(jv, jv_ref)))
        if case.scalar:
            vs = tuple(rng.standard_normal(shape) for shape in case.shapes)
            _, hv = st.hvp(case.sg, sg_in, vs if several else vs[0])
            v_ref = tuple(_t(v) for v in vs) if several else _t(vs[0])
            _, hv_ref = functional.hvp(reference, torch_in, v_ref)
            results.append(FunctionalResult(case.name, "hvp", _worst(hv, hv_ref)))
            hess = st.hessian(case.sg, sg_in)
            hess_ref = functional.hessian(reference, torch_in)
            results.append(FunctionalResult(case.name, "hessian", _worst(hess, hess_ref)))
    return results


def _worst(got: Any, expected: Any) -> float:
    """The worst scale-aware difference, over nested tuples of results (sg against torch)."""
    if isinstance(got, tuple) and isinstance(expected, tuple) and len(got) == len(expected):
        return max((_worst(g, e) for g, e in zip(got, expected)), default=0.0)
    if isinstance(got, tuple) or isinstance(expected, tuple):
        return float("inf")
    return worst_difference([("", got.data, expected.detach().numpy())])[0]
