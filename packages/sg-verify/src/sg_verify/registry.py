"""The operator registry: one check per way of calling each operator, from its declaration.

Every operator of sg-scalar and sg-tensor is declared once, next to its rule
(:mod:`sg_scalar.declare`). Its examples (:func:`sg_scalar.examples.examples`) are the
calls worth checking: each public form (method, function, operator symbol, reflected
operand, numpy function) in each declared case, at each shape its signature is checked
at. An :class:`OpSpec` adds what the oracles need: the PyTorch counterpart resolved from
the declaration's name for it. Every oracle, the random
expressions and the mutants take their operators from here.
"""

from __future__ import annotations

import operator as _operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import sg_scalar
import sg_tensor
from sg_scalar.declare import Declaration, Form, Params
from sg_scalar.examples import Example
from sg_scalar.examples import examples as _examples
from sg_scalar.rules import shapes as scalar_shapes
from sg_tensor.op import default_shapes as tensor_shapes
from sg_verify.pytorch import require_torch
from sg_verify.tolerances import TORCH_TOL

__all__ = ["SCALAR_SPECS", "TENSOR_SPECS", "OpSpec", "all_specs", "declarations", "torch_call"]

Sampler = Callable[[np.random.Generator], list[np.ndarray]]

REFERENCE_OPS = frozenset({"add", "mul", "matmul", "relu", "sum"})
"""The operators of the reference system: parity over expressions built from these
alone must reach 1e-14."""


@dataclass(frozen=True)
class OpSpec:
    """How to check one way of calling an operator.

    ``sg(*inputs)`` and ``torch(*inputs)`` take the engine's inputs (Tensors or Values;
    torch tensors) and return one output. ``sample(rng)`` returns float64 arrays (0-d
    for the scalar engine) inside the operator's domain and away from its kinks.
    ``op`` is the operator it checks, ``covers`` the public names it exercises.
    """

    name: str
    engine: str  # "tensor" or "scalar"
    op: str
    sg: Callable[..., Any]
    torch: Callable[..., Any]
    sample: Sampler
    covers: tuple[str, ...]
    torch_tol: float = TORCH_TOL
    declaration: Declaration | None = None
    example: Example | None = None

    def other_side(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        """``arrays`` moved to the other side of the operator's branches: an input with
        one declared kink mirrored through it (relu's ``x`` to ``-x``), the two inputs of
        a between-inputs tie swapped (``maximum(a, b)`` with ``a < b`` instead of ``a > b``).

        A sample is one side of each branch; a check at a sample and at its other side
        sees both, the scalar engine's single-value inputs included.
        """
        moved = [np.array(a) for a in arrays]
        kinks = self.kinks()
        for i, point, _ in kinks:
            if sum(j == i for j, _, _ in kinks) == 1 and i < len(moved):
                moved[i] = 2 * point - moved[i]
        decl = self.declaration
        tie = decl.ties if decl is not None else None
        two = len(moved) == 2 and moved[0].shape == moved[-1].shape
        if tie is not None and not tie.within and two:
            moved = [moved[1], moved[0]]
        return moved

    def kinks(self, second_order: bool = False) -> list[tuple[int, float, str]]:
        """``(input, point, side)`` of each declared kink, ``input`` counted among this
        spec's inputs (a reflected form's constant is not one); the second derivative's
        side with ``second_order``."""
        example = self.example
        if example is None:
            return []
        offset = 1 if example.form.kind == "reflected" else 0
        return [
            (i - offset, point, side)
            for i, point, side in example.declaration.kinks(example.case.params, second_order)
            if i >= offset
        ]

    def __repr__(self) -> str:
        return f"OpSpec({self.engine}:{self.name})"

    @property
    def rules(self) -> frozenset[str]:
        """The rule-table entries this spec runs: its operator's, or a composite's parts."""
        decl = self.declaration
        if decl is None or decl.op is not None:
            return frozenset({self.op})
        return frozenset(decl.uses)


def declarations(engine: str) -> list[Declaration]:
    """Every declared operator (and composite) of ``engine``, in declaration order."""
    table = sg_tensor.DECLARATIONS if engine == "tensor" else sg_scalar.DECLARATIONS
    return list(table.values())


def examples(decl: Declaration) -> list[Example]:
    """The calls a check tries for ``decl`` (see :func:`sg_scalar.examples.examples`)."""
    return _examples(decl, tensor_shapes if decl.engine == "tensor" else scalar_shapes)


def spec(example: Example) -> OpSpec:
    """The oracles' view of one example."""
    decl, form = example.declaration, example.form
    return OpSpec(
        name=example.name,
        engine=decl.engine,
        op=decl.name,
        sg=example.call,
        torch=torch_call(decl, example.case.params, form),
        sample=lambda rng: [np.asarray(a, dtype=np.float64) for a in example.draw(rng)],
        covers=(decl.name, form.api),
        declaration=decl,
        example=example,
    )


# ---------------------------------------------------------------------------------------
# The PyTorch counterpart, resolved from its name
# ---------------------------------------------------------------------------------------
_SYMBOLS: dict[str, Callable[..., Any]] = {
    "+": _operator.add, "-": _operator.sub, "*": _operator.mul, "/": _operator.truediv,
    "**": _operator.pow, "@": _operator.matmul, "-x": _operator.neg, "abs": abs,
}  # fmt: skip


def torch_call(decl: Declaration, params: Params, form: Form | None = None) -> Callable[..., Any]:
    """``decl``'s PyTorch counterpart as a function of torch inputs, for ``params``.

    A reflected ``form`` (``2.5 - x``) puts the same constant on the left in torch.
    """
    counterpart = decl.torch
    if counterpart is None:
        raise ValueError(f"{decl.engine} operator {decl.name!r} declares no PyTorch counterpart")

    def call(*inputs: Any) -> Any:
        torch = require_torch()
        if form is not None and form.kind == "reflected":
            inputs = (_torch_constant(torch, form, inputs[0]), *inputs)
        args: list[Any] = [list(inputs)] if decl.variadic else list(inputs)
        if counterpart.call is not None:
            result = counterpart.call(torch, *args, **params)
        else:
            result = _by_name(torch, counterpart.name, counterpart.rename, args, params)
        return result if decl.output is None else result[decl.output]

    return call


def _by_name(torch: Any, name: str, rename: Any, args: list[Any], params: Params) -> Any:
    keywords = {k: v for k, v in params.items() if k not in rename.values()}
    keywords.update({theirs: params[ours] for theirs, ours in rename.items() if ours in params})
    if keywords.get("dim", 0) is None:  # sg's axis=None: every axis
        keywords["dim"] = tuple(range(args[0].ndim))
    if name in _SYMBOLS:
        values = list(keywords.values())
        return _SYMBOLS[name](*args, *values)
    if name.startswith("Tensor."):
        return getattr(args[0], name[len("Tensor.") :])(*args[1:], **keywords)
    module = torch.nn.functional if name.startswith("F.") else torch
    return getattr(module, name.split(".", 1)[1])(*args, **keywords)


def _torch_constant(torch: Any, form: Form, x: Any) -> Any:
    """The reflected form's constant in torch: the same number, or the same array."""
    if form.target != "array":
        return form.target
    shape = (
        x.shape[:-2] + (x.shape[-1], x.shape[-2]) if form.name == "@" and x.ndim >= 2 else x.shape
    )
    return torch.full(shape, 1.5, dtype=x.dtype)


def _specs(engine: str) -> list[OpSpec]:
    return [spec(example) for decl in declarations(engine) for example in examples(decl)]


TENSOR_SPECS: list[OpSpec] = _specs("tensor")
"""Every way of calling an operator of sg-tensor that the oracles check."""
SCALAR_SPECS: list[OpSpec] = _specs("scalar")
"""Every way of calling an operator of sg-scalar that the oracles check."""


def all_specs() -> list[OpSpec]:
    """Every spec of both engines."""
    return TENSOR_SPECS + SCALAR_SPECS
