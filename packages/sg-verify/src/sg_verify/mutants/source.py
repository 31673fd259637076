"""Source mutation testing: classic mutation operators applied to sg's real code.

The hand-written mutants (:mod:`~sg_verify.mutants.derived`, ``slips``, ``machinery``)
are mistakes someone thought of. Source mutants are every small edit of the code itself:
each mutation operator of :mod:`~sg_verify.mutants.source_operators` (``*`` for ``/``,
``<`` for ``<=``, a constant changed, a statement deleted, ...) applied at each place it
fits, one at a time, in

- **rules**: the gradient rule of every operator of both engines (``sg_tensor.OPS[name]
  .vjp``, ``sg_scalar.OPS[name].vjp``) and the private helpers only rules call
  (``_extremum_rule``, ``_product_of_others``, ``_swap_last``, ``_count``);
- **helpers**: the broadcasting helpers: ``sg_tensor.op.unbroadcast``,
  ``sg_tensor.reductions.expand``, ``sg_tensor.tensor._reduces_to`` and
  ``Tensor._fit_gradient``;
- **driver**: the backward driver of :mod:`sg_scalar.graph`: ``_walk`` (the loop),
  ``_propagate``, ``backward`` and the seams ``topological_order``, ``seed``,
  ``accumulate``, ``_exact_gradient``, ``_summing``.

Not mutated, and why: ``sg_tensor.op.fit`` (nothing in sg calls it: every mutant would
be dead code), ``data``/``indicator``/``call`` of ``sg_tensor.op`` (plumbing that hands
rules their arrays, not arithmetic), :mod:`sg_scalar.ieee` (the math library the
forwards share), ``graph.grad`` and ``graph._vjp_on_nodes`` (reached only through
``grad()`` and ``create_graph=True``, which the per-operator oracles do not run).

How a mutant is made: the function's source (``inspect.getsource``), dedented and parsed,
its decorators dropped (``@op`` registers an operator: it must never run again), one
mutation applied, the single function compiled and defined in the original function's
module globals (a closure is rebuilt from its cells; a function whose cells cannot be
read is skipped, and counted). The :class:`SourceMutant` (a
:class:`~sg_verify.mutants.mutant.Mutant` of kind ``"source"``) patches the attribute
the code is looked up through at call time: the operator's ``vjp`` for a rule, the
module global for a helper or a driver function (in every sg module that binds it under
its name: ``unbroadcast`` lives in ``sg_tensor.op`` and ``sg_tensor.shapes``), the class
attribute for ``Tensor._fit_gradient`` (as a staticmethod). Each mutant's id is
``module:function:line:col:mutation``, the line counted from the ``def`` line, e.g.
``sg_tensor.elementwise:sin:3:12:Mult->Div``.

A mutated loop may never end (``stack.pop()`` deleted): while a source mutant is active
a watchdog (``SIGALRM``, main thread only) raises :class:`MutantTimeoutError` inside mutated
code that has run for :data:`HANG_SECONDS`; the check that was running fails, which
counts as a kill, and every later call of that mutant raises at once.

They run through the ordinary runner (:func:`~sg_verify.mutants.runner.run_chosen`,
every oracle that can run here: the registry specs of the rule's operator, composites
included, with the probes on its kinks, ties and zero spreads; every spec of the engine,
plus the reuse probes, for helpers and the driver; the driver's mutants run on the
tensor *and* the scalar specs), against the unmutated baseline. A mutant no oracle kills
then meets, one after the other while it survives, the checks of
:mod:`~sg_verify.mutants.source_checks` (``contract``: the engine contract of the driver
and the helpers, on graphs and rules the registry never makes; ``special``: PyTorch and
finite differences at exact 0s and 1s, for rules; ``second``: second order) and the
random-expression parity (:func:`sg_verify.expressions.run_parity`, ``parity``
expressions of its engine against PyTorch), the check that sees whole graphs. Those
columns of the kill matrix run on the mutants still alive only.
Every mutant that still survives must be classified in
:mod:`~sg_verify.mutants.source_equivalents`: **equivalent** (no input can tell it
apart) or a **documented limit** (a real change no check sees yet, and which check
would). :func:`run_source_mutants` returns a :class:`SourceReport` with the kill rate of
the non-equivalent mutants, by oracle; ``sample=N`` runs a deterministic sample,
stratified by mutated function.
"""

from __future__ import annotations
import __future__

import ast
import builtins
import functools
import importlib
import inspect
import signal
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FunctionType, ModuleType
from typing import Any

import numpy as np

import sg_scalar
import sg_tensor
from sg_scalar import graph
from sg_tensor import op as tensor_op_module
from sg_tensor.tensor import Tensor
from sg_verify.mutants.machinery import reuse_probes
from sg_verify.mutants.mutant import Mutant, Patch
from sg_verify.mutants.report import MutantReport, MutantResult, Verdict
from sg_verify.mutants.runner import ORACLES, checked_oracles, run_chosen
from sg_verify.mutants.source_checks import CHECKS as SURVIVOR_CHECKS
from sg_verify.mutants.source_checks import SurvivorChecks
from sg_verify.mutants.source_equivalents import CLASSIFIED, EQUIVALENT, LIMIT
from sg_verify.mutants.source_operators import Mutation, apply, mutations
from sg_verify.probes import all_probes, spread_probes
from sg_verify.pytorch import torch_available
from sg_verify.registry import SCALAR_SPECS

__all__ = [
    "DRIVER",
    "GROUPS",
    "HANG_SECONDS",
    "HELPERS",
    "PARITY_COUNT",
    "SURVIVOR_CHECKS",
    "MutantTimeoutError",
    "Skipped",
    "SourceMutant",
    "SourcePoint",
    "SourceReport",
    "Target",
    "build_mutant",
    "build_mutants",
    "default_oracles",
    "run_source_mutants",
    "sample_points",
    "select_points",
    "source_points",
    "source_state",
    "targets",
]

GROUPS = ("rules", "helpers", "driver")
"""The code that is mutated (see the module docstring)."""
HELPERS: tuple[tuple[ModuleType, str], ...] = (
    (tensor_op_module, "unbroadcast"),
    (importlib.import_module("sg_tensor.reductions"), "expand"),
    (importlib.import_module("sg_tensor.tensor"), "_reduces_to"),  # not sg_tensor.tensor()
)
"""The broadcasting helpers, as module globals (``Tensor._fit_gradient`` comes on top)."""
DRIVER = (
    "_walk",
    "_propagate",
    "backward",
    "topological_order",
    "seed",
    "accumulate",
    "_exact_gradient",
    "_summing",
)
"""The functions of :mod:`sg_scalar.graph` that a first-order ``backward()`` runs."""
HANG_SECONDS = 2.0
"""A call of mutated code running this long is a hang (a normal backward takes ms)."""
PARITY_COUNT = 100
"""Random expressions per engine for a mutant the per-operator checks missed."""
_TICK = 0.25
_ANNOTATIONS = __future__.annotations.compiler_flag
_FAMILY = ("sg_tensor", "sg_scalar")


# ---------------------------------------------------------------------------------------
# What is mutated
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """One function to mutate, and where the code looks it up at call time.

    ``slots`` are the ``(object, attribute)`` pairs a mutant replaces (``static``: as a
    staticmethod of a class). ``engine`` and ``spec_ops`` say where its mutants are
    checked (``spec_ops=None``: every spec of the engine; the driver's also get the
    scalar specs); ``operator`` is the rule-table entry (``"<driver>"``, ``"<helper>"``).
    ``rule``: a gradient rule, which adds the rule-only mutation operators.
    """

    group: str
    label: str
    function: FunctionType
    engine: str
    operator: str
    slots: tuple[tuple[Any, str], ...]
    spec_ops: frozenset[str] | None
    rule: bool = False
    static: bool = False

    def __repr__(self) -> str:
        return f"Target({self.label})"


def _label(function: FunctionType) -> str:
    return f"{function.__module__}:{function.__qualname__}"


def _module_slots(function: FunctionType) -> tuple[tuple[Any, str], ...]:
    """Every sg module binding ``function`` under its own name: those lookups see a patch.

    Aliases under another name are left alone on purpose (``graph._add`` is the driver's
    way of telling whether ``accumulate`` was replaced)."""
    name = function.__name__
    slots = []
    for module_name in sorted(sys.modules):
        module = sys.modules.get(module_name)
        if module is None or module_name.split(".")[0] not in _FAMILY:
            continue
        if vars(module).get(name) is function:
            slots.append((module, name))
    return tuple(slots)


def _calls(caller: Any, function: Any) -> bool:
    """Whether ``caller`` looks ``function`` up by a global name."""
    names = getattr(getattr(caller, "__code__", None), "co_names", ())
    found = getattr(caller, "__globals__", {})
    return any(found.get(n) is function for n in names)


def _rule_helpers() -> list[FunctionType]:
    """The private functions of a family module that its rules call (not the helpers)."""
    helpers = {id(getattr(m, n)) for m, n in HELPERS}
    found: dict[int, FunctionType] = {}
    for op in sg_tensor.OPS.values():
        rule = op.vjp
        for name in rule.__code__.co_names:
            value = rule.__globals__.get(name)
            if (
                isinstance(value, FunctionType)
                and value.__module__ == rule.__module__
                and id(value) not in helpers
            ):
                found[id(value)] = value
    return sorted(found.values(), key=_label)


def _users(function: Any, helpers: Sequence[FunctionType]) -> frozenset[str]:
    """The tensor operators whose rule calls ``function``, directly or through a helper."""
    users = {name for name, op in sg_tensor.OPS.items() if _calls(op.vjp, function)}
    for helper in helpers:
        if helper is not function and _calls(helper, function):
            users |= _users(helper, [h for h in helpers if h is not helper])
    return frozenset(users)


def targets(groups: Collection[str] = GROUPS) -> list[Target]:
    """The functions mutated, in a fixed order: rules, helpers, driver."""
    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        raise ValueError(f"unknown groups {unknown}; known: {list(GROUPS)}")
    found: list[Target] = []
    rule_helpers = _rule_helpers()
    if "rules" in groups:
        for engine, table in (("tensor", sg_tensor.OPS), ("scalar", sg_scalar.OPS)):
            for name, op in table.items():
                rule = op.vjp
                if not isinstance(rule, FunctionType):  # pragma: no cover - rules are defs
                    raise TypeError(f"{engine} operator {name!r}: its rule is not a function")
                found.append(
                    Target("rules", _label(rule), rule, engine, name, ((op, "vjp"),),
                           frozenset({name}), rule=True)
                )  # fmt: skip
        for helper in rule_helpers:
            users = _users(helper, rule_helpers)
            found.append(
                Target("rules", _label(helper), helper, "tensor", "+".join(sorted(users)),
                       _module_slots(helper), users)
            )  # fmt: skip
    if "helpers" in groups:
        for module, name in HELPERS:
            helper = getattr(module, name)
            users = _users(helper, rule_helpers)
            spec_ops = None if name in ("unbroadcast", "_reduces_to") else users
            found.append(
                Target("helpers", _label(helper), helper, "tensor", "<helper>",
                       _module_slots(helper), spec_ops)
            )  # fmt: skip
        fit = vars(Tensor)["_fit_gradient"].__func__
        found.append(
            Target("helpers", _label(fit), fit, "tensor", "<helper>",
                   ((Tensor, "_fit_gradient"),), None, static=True)
        )  # fmt: skip
    if "driver" in groups:
        for name in DRIVER:
            function = getattr(graph, name)
            found.append(
                Target("driver", _label(function), function, "tensor", "<driver>",
                       _module_slots(function), None)
            )  # fmt: skip
    return found


# ---------------------------------------------------------------------------------------
# Mutation points
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SourcePoint:
    """One mutation of one target, with its stable id."""

    id: str
    target: Target
    mutation: Mutation

    def __repr__(self) -> str:
        return f"SourcePoint({self.id})"


@dataclass(frozen=True)
class Skipped:
    """A target or a mutation that yields no mutant, and why."""

    what: str
    reason: str


def _definition(function: FunctionType) -> ast.FunctionDef:
    """The function's ``def``, parsed from its source, decorators dropped."""
    source = textwrap.dedent(inspect.getsource(function))
    tree = ast.parse(source)
    definition = tree.body[0]
    if not isinstance(definition, ast.FunctionDef):
        raise TypeError(f"{_label(function)}: the source is not a plain def")
    definition.decorator_list = []
    return definition


@functools.cache
def _cached_definition(function: FunctionType) -> ast.FunctionDef:
    return _definition(function)


def _closure_problem(function: FunctionType) -> str | None:
    """Why the function's closure cannot be rebuilt (None: it can, or it has none)."""
    for name, cell in zip(function.__code__.co_freevars, function.__closure__ or ()):
        try:
            cell.cell_contents  # noqa: B018 - reading it is the test
        except ValueError:
            return f"its closure variable {name!r} is not set, so it cannot be rebuilt"
    return None


def target_points(target: Target) -> list[SourcePoint]:
    """Every mutation point of one target, with unique, stable ids."""
    function = target.function
    names = set(function.__globals__) | set(dir(builtins)) | set(function.__code__.co_freevars)
    found = mutations(_cached_definition(function), rule=target.rule, names=names)
    points, seen = [], dict[str, int]()
    for mutation in found:
        base = f"{target.label}:{mutation.line}:{mutation.col}:{mutation.label}"
        seen[base] = seen.get(base, 0) + 1
        point_id = base if seen[base] == 1 else f"{base}#{seen[base]}"
        points.append(SourcePoint(point_id, target, mutation))
    return points


def source_points(groups: Collection[str] = GROUPS) -> tuple[list[SourcePoint], list[Skipped]]:
    """Every mutation point of every target of ``groups``, and the targets skipped."""
    points: list[SourcePoint] = []
    skipped: list[Skipped] = []
    for target in targets(groups):
        problem = _closure_problem(target.function)
        if problem is None:
            try:
                _cached_definition(target.function)
            except (OSError, TypeError, SyntaxError) as error:
                problem = f"no parsable source ({error})"
        if problem is not None:
            skipped.append(Skipped(target.label, problem))
            continue
        points += target_points(target)
    return points, skipped


def select_points(points: Sequence[SourcePoint], ids: Collection[str]) -> list[SourcePoint]:
    """The points named in ``ids``: a mutant id, or a function's label
    (``sg_tensor.elementwise:sin``) for all its points. A name that matches nothing is a
    ValueError (a stale id)."""
    wanted = set(ids)
    chosen = [p for p in points if p.id in wanted or p.target.label in wanted]
    found = {p.id for p in chosen} | {p.target.label for p in chosen}
    unknown = sorted(wanted - found)
    if unknown:
        raise ValueError(f"no mutation point or function named {unknown}")
    return chosen


def sample_points(points: Sequence[SourcePoint], sample: int, seed: int = 0) -> list[SourcePoint]:
    """A deterministic sample of ``sample`` points, stratified by mutated function.

    Each function gets a share proportional to its number of points (at least one while
    the sample allows), the rest by largest remainder; the points within a function are
    drawn with numpy's generator seeded by ``seed``. Returned in enumeration order.
    """
    if sample < 1:
        raise ValueError(f"sample must be at least 1, got {sample}")
    if sample >= len(points):
        return list(points)
    strata: dict[str, list[SourcePoint]] = {}
    for point in points:
        strata.setdefault(point.target.label, []).append(point)
    labels = sorted(strata)
    rng = np.random.default_rng(seed)
    quotas = dict.fromkeys(labels, 0)
    if sample < len(labels):
        for i in rng.choice(len(labels), size=sample, replace=False):
            quotas[labels[int(i)]] = 1
    else:
        extra = sample - len(labels)
        weights = {label: len(strata[label]) - 1 for label in labels}
        total = sum(weights.values())
        shares = {label: extra * weights[label] / total for label in labels}
        for label in labels:
            quotas[label] = 1 + int(shares[label])
        left = sample - sum(quotas.values())
        by_remainder = sorted(labels, key=lambda lb: (-(shares[lb] - int(shares[lb])), lb))
        for label in by_remainder[:left]:
            quotas[label] += 1
    chosen: set[str] = set()
    for label in labels:
        stratum = strata[label]
        picks = rng.choice(len(stratum), size=quotas[label], replace=False)
        chosen.update(stratum[int(i)].id for i in picks)
    return [p for p in points if p.id in chosen]


# ---------------------------------------------------------------------------------------
# The watchdog: a mutated loop that never ends
# ---------------------------------------------------------------------------------------
class MutantTimeoutError(Exception):
    """Mutated code ran for longer than :data:`HANG_SECONDS`: it hangs."""


class _Watch:
    depth = 0
    started = 0.0
    expired = False

    def reset(self) -> None:
        self.depth, self.started, self.expired = 0, 0.0, False


_WATCH = _Watch()


def _on_alarm(signum: int, frame: Any) -> None:
    watch = _WATCH
    if watch.expired or watch.depth == 0:
        return
    if time.perf_counter() - watch.started > HANG_SECONDS:
        watch.expired = True  # raised once from here; later calls raise in _guarded
        raise MutantTimeoutError(f"mutated code still running after {HANG_SECONDS:g} s (a hang)")


@contextmanager
def _watchdog() -> Iterator[None]:
    """While a source mutant is active: interrupt mutated code that hangs."""
    _WATCH.reset()
    main = threading.current_thread() is threading.main_thread()
    if not main or not hasattr(signal, "setitimer"):
        yield  # no SIGALRM here: no protection against a hang
        return
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    before = signal.setitimer(signal.ITIMER_REAL, _TICK, _TICK)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if before[0] > 0:
            signal.setitimer(signal.ITIMER_REAL, *before)
        _WATCH.reset()


def _guarded(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` with its running time watched (see :func:`_watchdog`)."""

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        watch = _WATCH
        if watch.expired:
            raise MutantTimeoutError("this mutant hung earlier in the run")
        if watch.depth == 0:
            watch.started = time.perf_counter()
        watch.depth += 1
        try:
            return function(*args, **kwargs)
        finally:
            watch.depth -= 1

    return guarded


# ---------------------------------------------------------------------------------------
# Mutants
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False, kw_only=True)
class SourceMutant(Mutant):
    """A :class:`~sg_verify.mutants.mutant.Mutant` of kind ``"source"``: one mutation of
    the real code of ``function`` (its ``name`` is the mutation's id)."""

    group: str = ""
    function: str = ""
    mutation: str = ""
    line: int = 0
    col: int = 0
    before: str = ""
    after: str = ""
    parity_engines: tuple[str, ...] = ()
    """The engines whose random expressions run this mutant when it survives."""

    @contextmanager
    def applied(self) -> Iterator[Mutant]:
        """Patched in, with the watchdog on (see :func:`_watchdog`)."""
        with _watchdog(), super().applied():
            yield self

    def to_dict(self) -> dict[str, Any]:
        """The mutant as plain data, with where and what the mutation is."""
        return {
            **super().to_dict(),
            "group": self.group,
            "function": self.function,
            "mutation": self.mutation,
            "line": self.line,
            "col": self.col,
            "before": self.before,
            "after": self.after,
        }

    def __repr__(self) -> str:
        return f"SourceMutant({self.name})"


def _compile(point: SourcePoint) -> FunctionType:
    """The mutated function, defined in the original's module globals (not bound there)."""
    target = point.target
    original = target.function
    definition = apply(_cached_definition(original), point.mutation)
    freevars = original.__code__.co_freevars
    if freevars:  # def __sg_outer(<free variables>): <def>; return <name>
        outer = ast.parse(f"def __sg_outer({', '.join(freevars)}):\n    pass").body[0]
        assert isinstance(outer, ast.FunctionDef)
        outer.body = [definition, ast.Return(value=ast.Name(id=definition.name, ctx=ast.Load()))]
        module = ast.Module(body=[outer], type_ignores=[])
    else:
        module = ast.Module(body=[definition], type_ignores=[])
    ast.fix_missing_locations(module)
    code = compile(
        module, f"<sg-mutant {point.id}>", "exec", flags=_ANNOTATIONS, dont_inherit=True
    )
    namespace: dict[str, Any] = {}
    exec(code, original.__globals__, namespace)  # defines the function, nothing else
    if freevars:
        cells = [cell.cell_contents for cell in original.__closure__ or ()]
        function = namespace["__sg_outer"](*cells)
    else:
        function = namespace[definition.name]
    if not isinstance(function, FunctionType):  # pragma: no cover - a def makes a function
        raise TypeError(f"{point.id}: the definition made a {type(function).__name__}")
    function.__qualname__ = original.__qualname__
    function.__doc__ = original.__doc__
    return function


def _constant(replacement: Any) -> Callable[[Any], Any]:
    """A patch's ``wrap``: whatever is stored, put the replacement there."""
    return lambda original: replacement


def build_mutant(point: SourcePoint) -> SourceMutant | Skipped:
    """The mutant of ``point``, or why there is none (the mutated code does not compile)."""
    try:
        function = _compile(point)
    except (SyntaxError, ValueError, TypeError) as error:
        reason = " ".join(str(error).split())[:160]
        return Skipped(point.id, f"does not compile: {type(error).__name__}: {reason}")
    except Exception as error:  # the def statement itself failed (a default argument)
        reason = " ".join(str(error).split())[:160]
        return Skipped(point.id, f"cannot be defined: {type(error).__name__}: {reason}")
    target, mutation = point.target, point.mutation
    replacement: Any = staticmethod(_guarded(function)) if target.static else _guarded(function)
    patches = tuple(
        Patch(obj, attribute, _constant(replacement)) for obj, attribute in target.slots
    )
    # The probes on kinks and ties, as ops runs them: those of the operators using the
    # rule, or every probe of the engine for code every operator goes through.
    parity: tuple[str, ...] = (target.engine,)
    probes: tuple[Any, ...] = tuple(
        p
        for p in (*all_probes(target.engine), *spread_probes(target.engine))
        if target.spec_ops is None or p.rules & target.spec_ops
    )
    if target.group == "driver":  # one driver, both engines: the scalar specs as probes
        probes = (
            *SCALAR_SPECS,
            *all_probes("all"),
            *spread_probes("all"),
            *reuse_probes("tensor"),
            *reuse_probes("scalar"),
        )
        parity = ("tensor", "scalar")
    elif target.group == "helpers" and target.spec_ops is None:
        probes = (*probes, *reuse_probes("tensor"))
    return SourceMutant(
        name=point.id,
        operator=target.operator,
        engine=target.engine,
        kind="source",
        description=f"{mutation.label}: {mutation.before} -> {mutation.after}",
        patches=patches,
        spec_ops=target.spec_ops,
        probes=probes,
        group=target.group,
        function=target.label,
        mutation=mutation.label,
        line=mutation.line,
        col=mutation.col,
        before=mutation.before,
        after=mutation.after,
        parity_engines=parity,
    )


def build_mutants(points: Sequence[SourcePoint]) -> tuple[list[SourceMutant], list[Skipped]]:
    """The mutants of ``points``, and the points that give none (with why)."""
    built: list[SourceMutant] = []
    skipped: list[Skipped] = []
    for point in points:
        result = build_mutant(point)
        if isinstance(result, Skipped):
            skipped.append(result)
        else:
            built.append(result)
    return built, skipped


def source_state() -> dict[str, Any]:
    """Every attribute a source mutant may patch, by identity (compare two snapshots)."""
    state: dict[str, Any] = {}
    for target in targets():
        for obj, attribute in target.slots:
            stored = inspect.getattr_static(obj, attribute)
            state[f"{getattr(obj, '__name__', repr(obj))}.{attribute}"] = stored
    return state


# ---------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------
def _parity_check(
    mutant: SourceMutant, count: int, seed: int, baselines: dict[str, bool]
) -> Verdict:
    """The random-expression parity of each of the mutant's engines, under the mutant."""
    from sg_verify.expressions import run_parity
    from sg_verify.tolerances import PARITY

    verdict = Verdict("parity")
    for engine in mutant.parity_engines:
        if engine not in baselines:
            baselines[engine] = run_parity(engine, count, seed=seed).worst <= PARITY
        if not baselines[engine]:
            verdict.skipped += 1
            continue
        verdict.checks += 1
        with mutant.applied():
            try:
                result = run_parity(engine, count, seed=seed)
            except Exception as error:
                reason = " ".join(str(error).split())[-160:]
                found = f"parity[{engine}]: raised {type(error).__name__}: {reason}"
            else:
                if result.worst <= PARITY:
                    continue
                found = f"parity[{engine}]: worst difference {result.worst:.3g}"
        verdict.kills += 1
        verdict.witness = verdict.witness or found
        verdict.killed_on.append(f"parity[{engine}]")
    return verdict


def _applies(check: str, mutant: SourceMutant) -> bool:
    """Whether a survivor check looks where ``mutant``'s code runs: the engine contract
    for the driver and the helpers, special values for rules, second order for all."""
    if check == "contract":
        return mutant.group in ("helpers", "driver")
    if check == "special":
        return mutant.spec_ops is not None
    return True


def default_oracles(torch: bool = True) -> tuple[str, ...]:
    """Every oracle of the runner that can run here (``torch=False``: all but PyTorch's)."""
    return tuple(o for o in ORACLES if o != "torch" or (torch and torch_available()))


def run_source_mutants(
    sample: int | None = None,
    seed: int = 0,
    oracles: Sequence[str] | None = None,
    *,
    parity: int = PARITY_COUNT,
    samples: int = 3,
    groups: Collection[str] = GROUPS,
    ids: Collection[str] | None = None,
    checks: Sequence[str] = SURVIVOR_CHECKS,
    progress: Callable[[int, int, MutantResult], None] | None = None,
    jobs: int = 1,
) -> SourceReport:
    """Run the source mutants (all, ``ids``, or a ``sample`` stratified by function).

    Every mutant runs through :func:`~sg_verify.mutants.runner.run_chosen` with
    ``oracles`` (default: every oracle of :data:`~sg_verify.mutants.runner.ORACLES` that
    can run here, PyTorch's only where it is installed; ``samples`` inputs per spec).
    Those no oracle kills then meet the survivor ``checks`` in order (see
    :mod:`~sg_verify.mutants.source_checks`; each only where it applies and while the
    mutant survives), then ``parity`` random expressions of their engine(s) against
    PyTorch (``parity=0``: not; it needs torch). The matrix gets a column for each.
    ``jobs`` > 1 (0: one per CPU) runs the oracles in that many worker processes (the
    survivor checks and the parity, on the few survivors, run here).
    """
    start = time.perf_counter()
    oracles = default_oracles() if oracles is None else checked_oracles(oracles)
    plan = _SourcePlan(tuple(oracles), seed, samples, tuple(groups),
                       None if ids is None else tuple(ids), sample)  # fmt: skip
    all_points, skipped = source_points(groups)
    counts = {group: 0 for group in GROUPS if group in groups}
    for point in all_points:
        counts[point.target.group] += 1
    mutants, not_compiled = build_mutants(plan.points(all_points))
    results, invalid = run_chosen(plan, list(mutants), jobs, progress)
    columns = tuple(oracles)
    survivor_checks = SurvivorChecks(seed=seed, torch="torch" in oracles)
    for check in checks:
        for result in results:
            assert isinstance(result.mutant, SourceMutant)
            applies = _applies(check, result.mutant)
            if result.caught or not applies:
                result.verdicts[check] = Verdict(check)
                continue
            began = time.perf_counter()
            result.verdicts[check] = survivor_checks.run(check, result.mutant)
            result.seconds += time.perf_counter() - began
        columns = (*columns, check)
    if parity > 0:
        from sg_verify.pytorch import require_torch

        require_torch()
        baselines: dict[str, bool] = {}
        for result in results:
            if result.caught:
                result.verdicts["parity"] = Verdict("parity")
                continue
            began = time.perf_counter()
            assert isinstance(result.mutant, SourceMutant)
            result.verdicts["parity"] = _parity_check(result.mutant, parity, seed, baselines)
            result.seconds += time.perf_counter() - began
        columns = (*columns, "parity")
    matrix = MutantReport(
        engine="source",
        oracles=columns,
        seed=seed,
        samples=samples,
        results=results,
        seconds=time.perf_counter() - start,
        invalid_witnesses={o: sorted(names) for o, names in invalid.items()},
    )
    return SourceReport(
        matrix=matrix,
        points=counts,
        skipped=skipped + not_compiled,
        sample=sample,
        parity=parity,
        point_ids=frozenset(p.id for p in all_points),
        runner_oracles=tuple(oracles),
    )


@dataclass(frozen=True)
class _SourcePlan:
    """Which source mutants a run builds and how it checks them (see
    :class:`~sg_verify.mutants.runner.Plan`)."""

    oracles: tuple[str, ...]
    seed: int
    samples: int
    groups: tuple[str, ...]
    ids: tuple[str, ...] | None
    sample: int | None

    def points(self, points: list[SourcePoint]) -> list[SourcePoint]:
        """The run's points among all ``points`` of its groups."""
        if self.ids is not None:
            points = select_points(points, self.ids)
        return points if self.sample is None else sample_points(points, self.sample, self.seed)

    def chosen(self) -> list[Mutant]:
        return list(build_mutants(self.points(source_points(self.groups)[0]))[0])


# ---------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------
@dataclass
class SourceReport:
    """The source mutants' kill matrix (a :class:`~sg_verify.mutants.report.MutantReport`
    whose columns after the runner's oracles ran on the mutants still alive only), with
    each survivor's classification."""

    matrix: MutantReport
    points: dict[str, int]
    """Mutation points enumerated per group (before any sampling)."""
    skipped: list[Skipped]
    """Targets that gave no points (closures) and points that gave no mutant."""
    sample: int | None
    parity: int
    classified: dict[str, tuple[str, str]] = field(default_factory=lambda: dict(CLASSIFIED))
    point_ids: frozenset[str] = frozenset()
    """Every mutation point's id (of the groups run): a classified id not among them is
    stale (its code moved or changed)."""
    runner_oracles: tuple[str, ...] = ()
    """The columns that ran on every mutant (the runner's oracles)."""

    @property
    def results(self) -> list[MutantResult]:
        return self.matrix.results

    def survivors(self) -> list[MutantResult]:
        """The mutants no check killed."""
        return self.matrix.uncaught()

    def classification(self, result: MutantResult) -> tuple[str, str] | None:
        """``(category, reason)`` of a mutant from the data module, if any."""
        return self.classified.get(result.mutant.name)

    def _category(self, result: MutantResult) -> str:
        return (self.classification(result) or ("",))[0]

    def equivalents(self) -> list[MutantResult]:
        """The survivors classified equivalent."""
        return [r for r in self.survivors() if self._category(r) == EQUIVALENT]

    def limits(self) -> list[MutantResult]:
        """The survivors classified as documented limits."""
        return [r for r in self.survivors() if self._category(r) == LIMIT]

    def unclassified(self) -> list[MutantResult]:
        """The survivors with no classification: each needs one (or a check)."""
        return [r for r in self.survivors() if self.classification(r) is None]

    def misclassified(self) -> list[MutantResult]:
        """Mutants classified as surviving that a check killed: stale entries to drop."""
        return [r for r in self.results if r.caught and self.classification(r) is not None]

    def unknown(self) -> list[str]:
        """Classified ids that name no mutation point: stale too (the code moved or
        changed). Known only when every group was enumerated."""
        if set(self.points) != set(GROUPS) or not self.point_ids:
            return []
        return sorted(i for i in self.classified if i not in self.point_ids)

    @property
    def ok(self) -> bool:
        """Every survivor classified, and no classification stale."""
        return not self.unclassified() and not self.misclassified() and not self.unknown()

    def non_equivalent(self) -> list[MutantResult]:
        """Every mutant but the surviving equivalents (a killed one is not equivalent)."""
        equivalent = {id(r) for r in self.equivalents()}
        return [r for r in self.results if id(r) not in equivalent]

    def killed_by(self) -> dict[str, int]:
        """Per column, how many mutants it killed (the later columns ran only on the
        mutants still alive), and ``"either"``."""
        counts = {o: sum(r.verdicts[o].caught for r in self.results if o in r.verdicts)
                  for o in self.matrix.oracles}  # fmt: skip
        return {**counts, "either": sum(r.caught for r in self.results)}

    def kill_rate(self, oracle: str = "either") -> float:
        """The fraction of non-equivalent mutants ``oracle`` killed (``"either"``: any)."""
        pool = self.non_equivalent()
        if not pool:
            return 1.0
        if oracle == "either":
            return sum(r.caught for r in pool) / len(pool)
        return sum(r.verdicts[oracle].caught for r in pool if oracle in r.verdicts) / len(pool)

    def kill_rates(self) -> dict[str, float]:
        """The kill rate of non-equivalent mutants by column, and of ``"either"``."""
        return {o: self.kill_rate(o) for o in (*self.matrix.oracles, "either")}

    def runner_kill_rate(self) -> float:
        """The fraction of non-equivalent mutants the runner's oracles killed alone."""
        pool = self.non_equivalent()
        if not pool:
            return 1.0
        return sum(
            any(r.verdicts[o].caught for o in self.runner_oracles if o in r.verdicts) for r in pool
        ) / len(pool)

    def by_group(self) -> dict[str, dict[str, Any]]:
        """Per group: points, mutants run, killed, equivalent, limits, unclassified and
        the kill rate of the non-equivalent ones."""
        keys = ("points", "mutants", "killed", "equivalent", "limit", "unclassified")
        table: dict[str, dict[str, Any]] = {g: dict.fromkeys(keys, 0) for g in self.points}
        for group, count in self.points.items():
            table[group]["points"] = count
        for r in self.results:
            row = table[getattr(r.mutant, "group", "")]
            row["mutants"] += 1
            if r.caught:
                row["killed"] += 1
                continue
            category = self._category(r) or "unclassified"
            row[category if category in row else "unclassified"] += 1
        for row in table.values():
            pool = row["mutants"] - row["equivalent"]
            row["kill_rate"] = row["killed"] / pool if pool else 1.0
        return table

    def survivors_by_reason(self) -> dict[tuple[str, str], list[MutantResult]]:
        """The survivors grouped by ``(category, reason)`` (unclassified ones together)."""
        groups: dict[tuple[str, str], list[MutantResult]] = {}
        for r in self.survivors():
            key = self.classification(r) or ("unclassified", "no classification yet")
            groups.setdefault(key, []).append(r)
        return dict(sorted(groups.items()))

    def format(self, verbose: bool = False) -> str:
        """A readable summary: counts, kill rates, and every survivor by reason."""
        m = self.matrix
        scope = "all" if self.sample is None else f"a sample of {self.sample}"
        parity = f" ({self.parity} expressions per engine)" * bool(self.parity)
        later = [o for o in m.oracles if o not in self.runner_oracles]
        lines = [
            f"Source mutants: {scope}, {len(self.results)} run, seed {m.seed}, "
            f"{m.seconds:.1f} s",
            f"  on every mutant: {', '.join(self.runner_oracles)} ({m.samples} sample(s) "
            "per spec, probes on kinks, ties and zero spreads)",
            f"  then on the survivors, in order: {', '.join(later) or '-'}{parity}",
            "",
            f"{'group':<10}" + "".join(f"{h:>13}" for h in
                ("points", "mutants", "killed", "equivalent", "limit", "unclassified",
                 "kill rate")),
        ]  # fmt: skip
        for group, row in self.by_group().items():
            cells = [f"{row[k]:>13}" for k in list(row)[:-1]]
            lines.append(f"{group:<10}" + "".join(cells) + f"{100 * row['kill_rate']:>12.2f}%")
        pool = len(self.non_equivalent())
        killed = self.killed_by()
        lines += [
            "",
            f"Kill rate of the {pool} non-equivalent mutants: "
            f"{100 * self.kill_rate():.2f}% ({killed['either']} killed, "
            f"{len(self.limits())} documented limits, {len(self.unclassified())} unclassified); "
            f"the runner's oracles alone {100 * self.runner_kill_rate():.2f}%",
            "  by column (mutants killed, share of the non-equivalent): "
            + ", ".join(
                f"{o} {killed[o]} ({100 * r:.1f}%)"
                for o, r in self.kill_rates().items()
                if o != "either"
            ),
        ]
        if self.skipped:
            lines += ["", f"Skipped ({len(self.skipped)}):"]
            lines += [f"  {s.what}: {s.reason}" for s in self.skipped]
        for (category, reason), rs in self.survivors_by_reason().items():
            lines += ["", f"{category} ({len(rs)}): {reason}"]
            for r in rs:
                mutant = r.mutant
                assert isinstance(mutant, SourceMutant)
                lines.append(f"  {mutant.name}   {mutant.before} -> {mutant.after}")
        wrong = self.misclassified()
        if wrong:
            lines += ["", f"Classified as surviving but killed ({len(wrong)}): drop the entries"]
            lines += [f"  {r.mutant.name} (by {', '.join(r.caught_by)})" for r in wrong]
        unknown = self.unknown()
        if unknown:
            lines += ["", f"Classified ids that name no mutation point ({len(unknown)}):"]
            lines += [f"  {i}" for i in unknown]
        if verbose:
            lines += ["", "Every mutant:"]
            for r in self.results:
                by = ",".join(r.caught_by) or "SURVIVED"
                first = next((r.verdicts[o].witness for o in r.caught_by), "")
                lines.append(f"  {r.mutant.name:<70} {by:<16} {first[:80]}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (the full kill matrix under ``"matrix"``)."""
        return {
            "sample": self.sample,
            "parity": self.parity,
            "seconds": self.matrix.seconds,
            "runner_oracles": list(self.runner_oracles),
            "survivor_checks": [o for o in self.matrix.oracles if o not in self.runner_oracles],
            "points": self.points,
            "mutants": len(self.results),
            "killed": self.killed_by()["either"],
            "equivalent": len(self.equivalents()),
            "limit": len(self.limits()),
            "unclassified": len(self.unclassified()),
            "non_equivalent": len(self.non_equivalent()),
            "by_group": self.by_group(),
            "killed_by": self.killed_by(),
            "kill_rates": self.kill_rates(),
            "runner_kill_rate": self.runner_kill_rate(),
            "skipped": [{"what": s.what, "reason": s.reason} for s in self.skipped],
            "survivors": [
                {
                    "id": r.mutant.name,
                    "category": self._category(r) or "unclassified",
                    "reason": (self.classification(r) or ("", ""))[1],
                    "description": r.mutant.description,
                }
                for r in self.survivors()
            ],
            "misclassified": [r.mutant.name for r in self.misclassified()],
            "unknown": self.unknown(),
            "ok": self.ok,
            "matrix": self.matrix.to_dict(),
        }
