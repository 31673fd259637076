"""What a mutant is: its kind, the patches that swap it in, and where it is checked.

A :class:`Mutant` swaps attributes (an operator's ``vjp``, one of the backward driver's
seams, the ``unbroadcast`` helper) while it is active and restores them on exit, also
when the check raises. :func:`patchable_state` snapshots everything a mutant may patch,
so a test can prove that a run left sg as it found it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sg_scalar
import sg_tensor
from sg_scalar import graph
from sg_tensor import op as tensor_op_module
from sg_tensor import shapes as tensor_shapes
from sg_tensor.tensor import Tensor
from sg_verify.registry import SCALAR_SPECS, TENSOR_SPECS, OpSpec

Rule = Callable[..., tuple[Any, ...]]

SEAMS = ("topological_order", "seed", "accumulate")
"""The backward driver's steps that driver mutants replace (see :mod:`sg_scalar.graph`)."""
GENERIC_KINDS = ("sign_flip", "scale_1e-3", "scale_1e-7", "zero")
"""The mutant kinds applied to every input of every operator of both rule tables."""
CONTRACT_KINDS = ("alias", "in_place", "float32", "wrong_axis")
"""The mutant kinds that break a rule's contract rather than its formula."""

KINDS: dict[str, str] = {
    "sign_flip": "one input's gradient with its sign flipped (the d(a - b) slip)",
    "scale_1e-3": "one input's gradient 0.1% too large (a wrong constant)",
    "scale_1e-7": (
        "one input's gradient off by a relative 1e-7: far below what a plain central "
        "difference resolves, caught by the extrapolated differences and by PyTorch"
    ),
    "zero": "one input gets a zero gradient (a forgotten term, a stray detach)",
    "alias": "a rule returns the output gradient itself (an alias of g, the wrong value)",
    "in_place": "a rule writes into the output gradient g (``g *= out``) or uses it as scratch",
    "float32": "one input's gradient computed in float32 for float64 inputs",
    "wrong_axis": "a reduction's rule over the next axis (derived from the declared axis)",
    "kink": "the other one-sided derivative at a declared kink (relu's gradient 1 at 0)",
    "tie": "a declared tie not split evenly between the tied inputs",
    "operator": "an operator-specific slip (transposed operand, missing sum term, ...)",
    "driver": "a broken step of the backward driver (assignment instead of accumulation, ...)",
    "helper": "a broken shared helper (unbroadcast, the gradient fit)",
}
"""Every mutant kind with what it breaks."""


@dataclass(frozen=True)
class Patch:
    """Replace ``target.attribute`` while a mutant is active.

    ``wrap(original)`` builds the replacement from the value found when the mutant is
    applied, so a wrapper always wraps the real current rule.
    """

    target: Any
    attribute: str
    wrap: Callable[[Any], Any]


@dataclass(frozen=True, eq=False)
class Mutant:
    """One deliberately wrong gradient, and where to check it.

    ``operator`` is the rule-table entry it breaks (``"<driver>"`` or ``"<unbroadcast>"``
    for the shared machinery). It is checked on the registry specs of ``engine`` that run
    a rule in ``spec_ops`` (every spec of the engine when ``None``), composites made of it
    included, plus its own ``probes`` (kinks, ties, reused inputs). ``expected_misses``
    names the oracles that are *expected* not to catch it, ``blind`` those that cannot be
    expected either way (a write into ``g`` shows in the values only where the written
    ``g`` is used again), and ``note`` says why.
    ``samples`` overrides the run's random inputs per spec: a driver mutant breaks the
    structure of a pass, which one input per spec shows as well as three.
    """

    name: str
    operator: str
    engine: str
    kind: str
    description: str
    patches: tuple[Patch, ...]
    spec_ops: frozenset[str] | None
    probes: tuple[OpSpec, ...] = ()
    expected_misses: frozenset[str] = frozenset()
    blind: frozenset[str] = frozenset()
    note: str = ""
    samples: int | None = None

    @contextmanager
    def applied(self) -> Iterator[Mutant]:
        """Patch the mutant in for the ``with`` block; restore everything on exit.

        Restoring happens in a ``finally``, so an exception (or a KeyboardInterrupt)
        inside the block leaves the rule tables, the driver and the helpers as they were.
        """
        saved: list[tuple[Any, str, Any]] = []
        try:
            for patch in self.patches:
                original = _stored(patch.target, patch.attribute)
                replacement = patch.wrap(original)
                saved.append((patch.target, patch.attribute, original))
                setattr(patch.target, patch.attribute, replacement)
            yield self
        finally:
            for target, attribute, original in reversed(saved):
                setattr(target, attribute, original)

    def specs(self) -> list[OpSpec]:
        """The registry specs this mutant runs on, then its own probes."""
        registry = TENSOR_SPECS if self.engine == "tensor" else SCALAR_SPECS
        chosen = [s for s in registry if self.spec_ops is None or s.rules & self.spec_ops]
        return chosen + list(self.probes)

    def to_dict(self) -> dict[str, Any]:
        """The mutant's description as plain data (no patches)."""
        return {
            "name": self.name,
            "operator": self.operator,
            "engine": self.engine,
            "kind": self.kind,
            "kind_meaning": KINDS.get(self.kind, ""),
            "description": self.description,
            "expected_misses": sorted(self.expected_misses),
            "blind": sorted(self.blind),
            "note": self.note,
            "probes": [p.name for p in self.probes],
        }

    def __repr__(self) -> str:
        return f"Mutant({self.name})"


def _stored(target: Any, attribute: str) -> Any:
    """``target.attribute`` as stored: a class's staticmethod stays one when put back."""
    if isinstance(target, type):
        return inspect.getattr_static(target, attribute)
    return getattr(target, attribute)


def patchable_state() -> dict[str, Any]:
    """Everything a mutant may patch, by identity: compare two snapshots to prove that
    a run restored the rule tables, the backward driver and the helpers."""
    state: dict[str, Any] = {
        **{f"graph.{seam}": getattr(graph, seam) for seam in SEAMS},
        "Tensor._fit_gradient": vars(Tensor)["_fit_gradient"],
        "sg_tensor.op.unbroadcast": tensor_op_module.unbroadcast,
        "sg_tensor.shapes.unbroadcast": vars(tensor_shapes)["unbroadcast"],
    }
    for name, tensor_op in sg_tensor.OPS.items():
        state[f"tensor:{name}"] = (tensor_op.vjp, tensor_op.forward)
    for name, scalar_op in sg_scalar.OPS.items():
        state[f"scalar:{name}"] = (scalar_op.vjp, scalar_op.forward)
    return state
