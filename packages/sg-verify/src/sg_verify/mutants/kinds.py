"""Generic mutants, and the helpers that declare the operator-specific ones.

The generic kinds (:data:`~sg_verify.mutants.GENERIC_KINDS`) change one input's gradient
after the correct rule ran, for every input of every operator of both rule tables. An
operator-specific mutant replaces (or wraps) one rule; the helpers here build its
patches and give it the probes of its operator. The notes explain the expected misses.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection
from typing import Any

from sg_tensor.op import fitted as fitted_rule
from sg_verify.mutants.mutant import GENERIC_KINDS, Mutant, Patch, Rule
from sg_verify.mutants.probes import _operator_probes


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


def _flip(grad: Any) -> Any:
    return -grad


def _scaled(factor: float) -> Callable[[Any], Any]:
    def change(grad: Any) -> Any:
        return grad * factor

    return change


def _zeroed(grad: Any) -> Any:
    return grad * 0.0


_GENERIC: dict[str, tuple[Callable[[Any], Any], str]] = {
    "sign_flip": (_flip, "the gradient of input {i} has its sign flipped"),
    "scale_1e-3": (_scaled(1 + 1e-3), "the gradient of input {i} is scaled by 1 + 1e-3"),
    "scale_1e-7": (_scaled(1 + 1e-7), "the gradient of input {i} is scaled by 1 + 1e-7"),
    "zero": (_zeroed, "input {i} gets a zero gradient"),
}

_SUBTLE_NOTE = (
    "A relative 1e-7 is below the central-difference tolerance (1e-6, itself set by the "
    "truncation and round-off error of a difference with step 1e-6): FD is expected to "
    "miss it. PyTorch agrees with sg to 1e-12 and catches it."
)
_KINK_NOTE = (
    "Only a probe exactly on the kink shows the convention. The registry samplers avoid "
    "kinks, and at the probe the central difference averages the two one-sided slopes "
    "(0.5 for relu at 0), so the unmutated rule fails FD there too: FD is not a valid "
    "witness at a kink and misses this mutant by design. PyTorch has the same convention "
    "as sg and catches it."
)

_ABS_KINK_NOTE = (
    "Only a probe exactly on the kink shows the convention. The kink of |x| is "
    "symmetric: the central difference there is (|h| - |-h|) / 2h = 0, which is exactly "
    "the sign(0) = 0 convention, so unlike relu's, this kink is a valid FD witness and "
    "both oracles catch the mutant."
)


def _arity(rule: Rule) -> int:
    """How many inputs a rule has (a variadic rule counts as one: its first input)."""
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    params = list(inspect.signature(rule).parameters.values())[2:]  # after g, out
    return max(1, sum(p.kind in positional for p in params))


def _generic_mutants(engine: str, name: str, target: Any, rule: Rule) -> list[Mutant]:
    mutants = []
    probes = _operator_probes(engine, name)
    for i in range(_arity(rule)):
        for kind in GENERIC_KINDS:
            change, text = _GENERIC[kind]
            mutants.append(
                Mutant(
                    name=f"{engine}:{name}:{kind}[in{i}]",
                    operator=name,
                    engine=engine,
                    kind=kind,
                    description=text.format(i=i),
                    patches=(Patch(target, "vjp", _change_input(i, change)),),
                    spec_ops=frozenset({name}),
                    probes=probes,
                    expected_misses=frozenset({"fd"}) if kind == "scale_1e-7" else frozenset(),
                    note=_SUBTLE_NOTE if kind == "scale_1e-7" else "",
                )
            )
    return mutants


# ---------------------------------------------------------------------------------------
# Declaring operator-specific mutants
# ---------------------------------------------------------------------------------------
def _raw_rule(target: Any) -> Callable[[Any], Any]:
    """A patch builder that replaces the fitted ``vjp`` with the raw, unfitted rule."""

    def wrap(original: Any) -> Any:
        return target.rule

    return wrap


def _rule_patch(target: Any, rule: Rule, fitted: bool = False) -> tuple[Patch, ...]:
    new = fitted_rule(rule) if fitted else rule
    return (Patch(target, "vjp", lambda original: new),)


def _wrapping_patch(target: Any, make: Callable[[Rule], Rule], fitted: bool) -> tuple[Patch, ...]:
    """Mutate the raw rule (``target.rule``, read when applied), then refit if needed."""

    def wrap(original: Any) -> Any:
        mutated = make(target.rule)
        return fitted_rule(mutated) if fitted else mutated

    return (Patch(target, "vjp", wrap),)


def _specific(
    engine: str,
    operator: str,
    label: str,
    kind: str,
    patches: tuple[Patch, ...],
    description: str,
    expected_misses: Collection[str] = (),
    note: str = "",
) -> Mutant:
    return Mutant(
        name=f"{engine}:{operator}:{label}",
        operator=operator,
        engine=engine,
        kind=kind,
        description=description,
        patches=patches,
        spec_ops=frozenset({operator}),
        probes=_operator_probes(engine, operator),
        expected_misses=frozenset(expected_misses),
        note=note,
    )


def _doc(fn: Callable[..., Any]) -> str:
    return " ".join((fn.__doc__ or "").split())
