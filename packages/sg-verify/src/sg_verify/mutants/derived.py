"""Mutants made from the declarations: the generic ones and the conventions.

- *Generic* mutants change one input's gradient after the correct rule ran, for every
  input of every operator that has a rule (:data:`~sg_verify.mutants.GENERIC_KINDS`).
- *Kink* and *tie* mutants take each declared :class:`~sg_scalar.declare.Kink` and
  between-inputs :class:`~sg_scalar.declare.Tie` and give the other convention there:
  the rule is evaluated a hair to the other side of the kink (relu's gradient 1 at 0
  instead of 0), or with the first of two tied inputs nudged up (the whole gradient to
  it instead of half to each).

- *Contract* mutants break what a rule promises besides its values
  (:data:`~sg_verify.mutants.CONTRACT_KINDS`): it returns the output gradient itself,
  writes into it, computes in float32 for float64 inputs, or reduces over the wrong axis
  (for every operator declared with an ``axis``).

Each is checked on its operator's specs and its probes (:mod:`sg_verify.probes`), the
inputs placed exactly on the declared kinks and ties, where only a convention shows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from sg_scalar.declare import Declaration, Kink, Tie
from sg_tensor.op import unbroadcast
from sg_tensor.tensor import _reduces_to
from sg_verify.mutants.mutant import GENERIC_KINDS, Mutant, Patch, Rule
from sg_verify.probes import probes
from sg_verify.registry import all_specs as registry_specs
from sg_verify.registry import declarations

_ONE_SIDED_NOTE = (
    "Only a probe exactly on the kink shows the convention. There the finite-difference "
    "oracle takes the derivative from the declared side (one-sided differences, "
    "extrapolated), and PyTorch has the same convention as sg: both catch the mutant."
)
_MEAN_NOTE = (
    "Only a probe exactly on the kink or tie shows the convention. There the central "
    "difference is the average of the two one-sided slopes, which is exactly the "
    "declared convention (|x| at 0, an even split of a tie), so FD is a valid witness "
    "and both oracles catch the mutant."
)


# ---------------------------------------------------------------------------------------
# Generic mutants: one input's gradient changed after the (correct) rule ran
# ---------------------------------------------------------------------------------------
def _change_input(index: int, change: Callable[[Any], Any]) -> Callable[[Rule], Rule]:
    def wrap(vjp: Rule) -> Rule:
        def mutated(*args: Any, **kwargs: Any) -> tuple[Any, ...]:
            grads = list(vjp(*args, **kwargs))
            if index < len(grads) and grads[index] is not None:
                grads[index] = change(grads[index])
            return tuple(grads)

        return mutated

    return wrap


_GENERIC: dict[str, tuple[Callable[[Any], Any], str]] = {
    "sign_flip": (lambda grad: -grad, "the gradient of input {i} has its sign flipped"),
    "scale_1e-3": (lambda grad: grad * (1 + 1e-3), "the gradient of input {i} is 0.1% too large"),
    "scale_1e-7": (lambda grad: grad * (1 + 1e-7), "the gradient of input {i} is off by 1e-7"),
    "zero": (lambda grad: grad * 0.0, "input {i} gets a zero gradient"),
}


def generic_mutants(decl: Declaration) -> list[Mutant]:
    """The four generic mutants of each input of ``decl`` (a variadic one: its first)."""
    assert decl.op is not None
    mutants = []
    for i in range(1 if decl.variadic else decl.arity):
        for kind in GENERIC_KINDS:
            change, text = _GENERIC[kind]
            mutants.append(
                Mutant(
                    name=f"{decl.engine}:{decl.name}:{kind}[in{i}]",
                    operator=decl.name,
                    engine=decl.engine,
                    kind=kind,
                    description=text.format(i=i),
                    patches=(Patch(decl.op, "vjp", _change_input(i, change)),),
                    spec_ops=frozenset({decl.name}),
                    probes=probes(decl),
                )
            )
    return mutants


# ---------------------------------------------------------------------------------------
# Conventions: the other side of a kink, a tie not split
# ---------------------------------------------------------------------------------------
def _select(at: Any, where_true: Any, where_false: Any) -> Any:
    if isinstance(at, (bool, np.bool_)):  # the scalar engine: plain numbers
        return where_true if at else where_false
    return np.where(at, where_true, where_false)


def _elsewhere(decl: Declaration, locate: Callable[..., Any]) -> Callable[[Rule], Rule]:
    """A rule that, where ``locate(inputs, params)`` gives a mask and nudged inputs, returns
    the gradients the correct rule gives at the nudged inputs."""

    def wrap(rule: Rule) -> Rule:
        def mutated(g: Any, out: Any, *inputs: Any, **ctx: Any) -> tuple[Any, ...]:
            grads = rule(g, out, *inputs, **ctx)
            params = {k: v for k, v in ctx.items() if k != "needs_input_grad"}
            at, nudged = locate(inputs, params)
            if not np.any(at):
                return grads
            assert decl.op is not None
            moved = rule(g, decl.op.forward(*nudged, **params), *nudged, **ctx)
            return tuple(None if a is None else _select(at, b, a) for a, b in zip(grads, moved))

        return mutated

    return wrap


def _nudge(x: Any, at: Any, direction: float, point: float) -> Any:
    return x + at * (direction * 1e-9 * max(1.0, abs(point)))


def convention_mutants(decl: Declaration) -> list[Mutant]:
    """A mutant per declared kink (the other side) and between-inputs tie (not split)."""
    mutants: list[Mutant] = []
    locate: Callable[..., Any]
    for n, edge in enumerate(decl.edges):
        if isinstance(edge, Kink):
            other = "left" if edge.side == "right" else "right"
            direction = -1.0 if other == "left" else 1.0

            def other_side(
                inputs: Any, params: Any, edge: Kink = edge, d: float = direction
            ) -> Any:
                point = edge.point(params)
                if point is None:
                    return False, inputs
                at = np.asarray(inputs[edge.input]) == point if edge.input < len(inputs) else False
                at = bool(at) if np.ndim(at) == 0 else at
                moved = list(inputs)
                moved[edge.input] = _nudge(inputs[edge.input], at, d, point)
                return at, moved

            locate = other_side
            label, kind = f"kink{n}_{other}", "kink"
            text = f"the gradient at the kink of input {edge.input} is the {other} derivative"
            text += f" (declared: {edge.side})"
            one_sided = edge.side != "mean"
        elif isinstance(edge, Tie) and not edge.within:

            def first_up(inputs: Any, params: Any) -> Any:
                tie = np.asarray(inputs[0]) == np.asarray(inputs[1])
                tie = bool(tie) if np.ndim(tie) == 0 else tie
                return tie, [_nudge(inputs[0], tie, 1.0, 0.0), inputs[1]]

            locate = first_up
            label, kind, one_sided = "tie_to_first", "tie", False
            text = "a tie gives the whole gradient to the first input instead of half to each"
        else:
            continue
        assert decl.op is not None
        mutants.append(
            Mutant(
                name=f"{decl.engine}:{decl.name}:{label}",
                operator=decl.name,
                engine=decl.engine,
                kind=kind,
                description=text,
                patches=(Patch(decl.op, "vjp", _elsewhere(decl, locate)),),
                spec_ops=frozenset({decl.name}),
                probes=probes(decl),
                note=_ONE_SIDED_NOTE if one_sided else _MEAN_NOTE,
            )
        )
    return mutants


# ---------------------------------------------------------------------------------------
# Contracts: the output gradient aliased or written into, float32, the wrong axis
# ---------------------------------------------------------------------------------------
def _returns_g(decl: Declaration, index: int) -> bool:
    """Whether "return the output gradient itself" is no mistake for input ``index`` of
    ``decl``: the correct rule's gradient is ``g``, or what the driver's fit makes of
    ``g`` (its broadcast axes summed: add, linear's bias, broadcast_to). Then no alias
    mutant is made (the leaves copy what they store). Asked of the rule on its first
    spec, for a random ``g``."""
    from sg_verify.properties import graph_nodes, leaves

    specs = [s for s in registry_specs() if s.engine == decl.engine and s.op == decl.name]
    if not specs:
        return False
    rng = np.random.default_rng(0)
    arrays = specs[0].sample(rng)
    xs = leaves(decl.engine, arrays, [True] * len(arrays), np.float64)
    for node in graph_nodes(specs[0].sg(*xs)):
        if node._op is decl.op and len(node._parents) > index:
            ctx = dict(node._ctx or {})
            if decl.op.needs_input_grad:
                ctx["needs_input_grad"] = tuple(p.requires_grad for p in node._parents)
            g = rng.standard_normal(np.shape(node.data))
            g = g if decl.engine == "tensor" else float(g)
            inputs = [p.data for p in node._parents]
            grad = decl.op.vjp(g, node.data, *inputs, **ctx)[index]
            shape = np.shape(inputs[index])
            if grad is None or np.shape(grad) != shape:
                return False
            if np.shape(g) != shape:
                if not _reduces_to(np.shape(g), shape):
                    return False
                g = unbroadcast(g, shape)
            return bool(np.array_equal(grad, g))
    return False


def _alias(index: int) -> Callable[[Rule], Rule]:
    def wrap(rule: Rule) -> Rule:
        def mutated(g: Any, out: Any, *inputs: Any, **ctx: Any) -> tuple[Any, ...]:
            grads = list(rule(g, out, *inputs, **ctx))
            if index < len(grads) and grads[index] is not None:
                grads[index] = g
            return tuple(grads)

        return mutated

    return wrap


def _in_place(index: int) -> Callable[[Rule], Rule]:
    def wrap(rule: Rule) -> Rule:
        def mutated(g: Any, out: Any, *inputs: Any, **ctx: Any) -> tuple[Any, ...]:
            grads = list(rule(g, out, *inputs, **ctx))
            if not isinstance(g, np.ndarray) or index >= len(grads) or grads[index] is None:
                return tuple(grads)  # a node (create_graph): nothing to write into
            mine = np.asarray(grads[index])
            if mine.shape == g.shape and mine.dtype == g.dtype and not np.shares_memory(mine, g):
                np.copyto(g, mine)  # the `g *= out; return (g,)` pattern
                grads[index] = g
            else:
                g[...] = 0.0  # g used as scratch space after the gradient was taken
            return tuple(grads)

        return mutated

    return wrap


def _to_float32(grad: Any) -> Any:
    if isinstance(grad, np.ndarray) and grad.dtype == np.float64:
        return grad.astype(np.float32)
    return grad  # a node (create_graph), or already float32


def _shifted(axis: Any, ndim: int) -> Any:
    """Every axis moved to the next one (mod ``ndim``): ``(0, 2)`` of 3 -> ``(0, 1)``."""
    if ndim < 2 or axis is None or isinstance(axis, bool):
        return axis
    if isinstance(axis, tuple):
        return tuple(sorted({(a + 1) % ndim for a in axis}))
    return (int(axis) + 1) % ndim


def _wrong_axis(rule: Rule) -> Rule:
    def mutated(g: Any, out: Any, *inputs: Any, **ctx: Any) -> tuple[Any, ...]:
        if "axis" in ctx and inputs:
            first: Any = inputs[0][0] if isinstance(inputs[0], (list, tuple)) else inputs[0]
            ndim = len(np.shape(getattr(first, "data", first)))
            ctx = {**ctx, "axis": _shifted(ctx["axis"], ndim)}
        return tuple(rule(g, out, *inputs, **ctx))

    return mutated


_CONTRACT_NOTE = (
    "A rule's contract beyond its values: the gradcheck properties call the rule "
    "directly and see a write into g or a float32 gradient for a float64 input exactly."
)


def _blind(decl: Declaration, label: str) -> frozenset[str]:
    """The value oracles that cannot be expected to see a contract mutant: a write into
    ``g`` shows in the values only where that ``g`` is used again, and a float32
    gradient not at all for an operator whose forward rounds to float32 (astype)."""
    if label.startswith("in_place") or (label.startswith("float32") and decl.rounding):
        return frozenset({"fd", "cs", "torch", "lifecycle"})
    return frozenset()


def contract_mutants(decl: Declaration) -> list[Mutant]:
    """Per input of ``decl``: the output gradient returned as is (``alias``, unless the
    correct rule does that), and, on arrays, written into (``in_place``) and computed in
    float32 (``float32``); ``wrong_axis`` for an operator declared with an ``axis``."""
    assert decl.op is not None
    kinds: list[tuple[str, str, Callable[[Rule], Rule]]] = []
    for i in range(1 if decl.variadic else decl.arity):
        if not _returns_g(decl, i):
            text = f"the rule returns the output gradient itself for input {i}"
            kinds.append((f"alias[in{i}]", text, _alias(i)))
        if decl.engine == "tensor":
            text = f"the rule writes input {i}'s gradient into the output gradient g"
            kinds.append((f"in_place[in{i}]", text, _in_place(i)))
            text = f"the gradient of input {i} is computed in float32 for float64 inputs"
            kinds.append((f"float32[in{i}]", text, _change_input(i, _to_float32)))
    if any("axis" in case.params for case in decl.cases):
        text = "the rule reduces over the next axis ((axis + 1) mod ndim)"
        kinds.append(("wrong_axis", text, _wrong_axis))
    return [
        Mutant(
            name=f"{decl.engine}:{decl.name}:{label}",
            operator=decl.name,
            engine=decl.engine,
            kind=label.split("[")[0],
            description=text,
            patches=(Patch(decl.op, "vjp", wrap),),
            spec_ops=frozenset({decl.name}),
            probes=probes(decl),
            blind=_blind(decl, label),
            note=_CONTRACT_NOTE,
        )
        for label, text, wrap in kinds
    ]


def derived_mutants(engine: str) -> list[Mutant]:
    """The generic, convention and contract mutants of every operator of ``engine``
    with a rule."""
    mutants: list[Mutant] = []
    for decl in declarations(engine):
        if decl.op is not None:
            mutants += generic_mutants(decl) + convention_mutants(decl) + contract_mutants(decl)
    return mutants
