"""Operator declarations: everything sg knows about an operator, in one entry.

A rule table (``sg_scalar.rules``, the family modules of sg-tensor) declares each
operator once, next to its gradient rule. Besides the forward and the rule (the
:class:`~sg_scalar.graph.Op` the backward driver runs), the entry holds as data what the
rest of the project derives from it:

- how users call it: its methods, functions, operator symbol and the numpy function it
  answers (:class:`Form`), from which the public API is generated or checked;
- its PyTorch counterpart, *named* (:class:`Torch`): sg never imports torch, sg-verify
  resolves the name;
- where its inputs are valid (:class:`Domain`), the parameter values worth checking and
  the shapes to check them at (:class:`Case`);
- its kinks and ties and the gradient the rule gives there (:class:`Kink`, :class:`Tie`,
  :class:`ZeroSpread`);
- a bound on its value given bounds on its inputs, for the random-expression generator.

From these, :func:`sg_scalar.examples.examples` lists every way of calling the operator
that a check should try, each able to draw valid inputs. The verification registry, the
expression generator, the mutants and their probes, the package tests' gradient checks
and the operator list in the docs are all built from that, so adding an operator is
adding one entry. Bounds are in :mod:`sg_scalar.bounds`.
"""

from __future__ import annotations

import operator as _operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sg_scalar.bounds import Bound, same
from sg_scalar.graph import Op

__all__ = [
    "NONZERO",
    "POSITIVE",
    "REAL",
    "Case",
    "Declaration",
    "Domain",
    "Form",
    "Kink",
    "Param",
    "Tie",
    "Torch",
    "ZeroSpread",
    "power_domain",
]

Params = Mapping[str, Any]
Shape = tuple[int, ...]


def power_domain(params: Params) -> Domain:
    """Where ``x**p`` is defined: everywhere for a whole ``p >= 0``, else for ``x > 0``."""
    p = params["p"]
    return REAL if float(p).is_integer() and p >= 0 else POSITIVE


# ---------------------------------------------------------------------------------------
# Domains: where an input's values may be sampled
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Domain:
    """Where an input is valid, as a sampling recipe.

    Values are standard normal unless ``low`` and ``high`` are given (uniform in
    ``[low, high)``; of either sign with ``symmetric``). ``guard`` says that the random
    expression generator must pass an argument through a positive transform first (the
    domain excludes zero or the negative numbers).
    """

    name: str
    low: float | None = None
    high: float | None = None
    symmetric: bool = False
    guard: bool = False

    def draw(self, rng: Any, shape: Shape) -> Any:
        """Values of ``shape`` from ``rng`` (a numpy ``Generator``)."""
        if self.low is None or self.high is None:
            return rng.standard_normal(shape)
        values = rng.uniform(self.low, self.high, shape)
        if self.symmetric:
            values = values * (rng.integers(0, 2, shape) * 2.0 - 1.0)
        return values

    def __repr__(self) -> str:
        return self.name


REAL = Domain("real")
POSITIVE = Domain("positive", 0.5, 2.0, guard=True)
NONZERO = Domain("nonzero", 0.5, 2.0, symmetric=True, guard=True)


# ---------------------------------------------------------------------------------------
# Edges: where the operator is not differentiable, and what the rule does there
# ---------------------------------------------------------------------------------------
SIDES = ("left", "right", "mean")


@dataclass(frozen=True)
class Kink:
    """Input ``input`` equal to ``at`` makes the operator non-differentiable.

    ``at`` is a number or a function of the case's parameters (``None``: no kink in that
    case). ``side`` is the gradient the rule gives there: the derivative from the
    ``"left"``, from the ``"right"``, or the ``"mean"`` of the two (``|x|`` at 0).
    ``second`` is the same for the gradient's own derivative (second order), where it
    differs: softplus takes its first derivative from the left of its threshold and its
    second from the right (0, PyTorch's mask).
    """

    at: float | Callable[[Params], float | None]
    side: str
    input: int = 0
    second: str | None = None

    def __post_init__(self) -> None:
        for side in (self.side, self.second or self.side):
            if side not in SIDES:
                raise ValueError(f"Kink: side must be one of {SIDES}, got {side!r}")

    def point(self, params: Params) -> float | None:
        """Where the kink is for these parameters (None if nowhere)."""
        return self.at(params) if callable(self.at) else self.at


@dataclass(frozen=True)
class Tie:
    """Equal values make the operator non-differentiable; the rule splits the gradient
    evenly between them (``routing="split"``), or gives it all to the one whose index it
    returns (``"first"``: PyTorch's ``max(dim)``, ``sort``). Between the inputs
    (``maximum(a, b)`` with ``a == b``) or, with ``within``, between elements reduced
    together (``max`` of a row with two maxima).
    """

    within: bool = False
    routing: str = "split"


@dataclass(frozen=True)
class ZeroSpread:
    """Not differentiable where a reduced slice is constant (``std`` = 0); the rule gives 0."""


Edge = Kink | Tie | ZeroSpread


# ---------------------------------------------------------------------------------------
# Cases and parameters
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """One configuration a check samples: input shapes and parameter values.

    ``shapes`` (one per input; ``None``: the signature's default shapes) and ``params``
    (the public call's parameters, in its order). ``exact`` places exact values in the
    drawn inputs, ``{input: {index: value}}``: zeros of ``prod``, for instance; ``domains``
    replaces the declared ones (logits large enough to overflow an unshifted softmax).
    """

    params: Params = field(default_factory=dict)
    shapes: tuple[Shape, ...] | None = None
    exact: Mapping[int, Mapping[Any, float]] = field(default_factory=dict)
    label: str = ""
    domains: tuple[Domain, ...] | None = None  # instead of the declared ones (large values)


@dataclass(frozen=True)
class Param:
    """A parameter of the public call: its default and how its value is checked.

    ``convert(value, where)`` returns the value the rule receives, or raises a clear
    error starting with ``where`` (``"leaky_relu: negative_slope"``).
    """

    default: Any
    convert: Callable[[Any, str], Any] | None = None


# ---------------------------------------------------------------------------------------
# The PyTorch counterpart, by name
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Torch:
    """The PyTorch counterpart: a name sg-verify resolves, never an import here.

    ``name`` is ``"torch.<fn>"``, ``"F.<fn>"`` (``torch.nn.functional``), ``"Tensor.<m>"``
    (a method of the first input) or an operator symbol such as ``"+"``. ``rename`` maps
    PyTorch's keyword to sg's parameter (``dim="axis"``). ``call``, when given, replaces
    all that: ``call(torch, *inputs, **params)`` for calls no renaming expresses.
    """

    name: str = ""
    rename: Mapping[str, str] = field(default_factory=dict)
    call: Callable[..., Any] | None = None

    def __init__(
        self, name: str = "", call: Callable[..., Any] | None = None, **rename: str
    ) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "rename", dict(rename))
        object.__setattr__(self, "call", call)

    def __str__(self) -> str:
        if self.call is not None and not self.name:
            return f"({getattr(self.call, '__doc__', None) or 'an adapter'})".strip()
        extra = ", ".join(f"{t}={s}" for t, s in self.rename.items())
        return f"{self.name}({extra})" if extra else self.name


# ---------------------------------------------------------------------------------------
# Calling forms
# ---------------------------------------------------------------------------------------
_BINARY_SYMBOLS: dict[str, tuple[Callable[[Any, Any], Any], str]] = {
    "+": (_operator.add, "add"),
    "-": (_operator.sub, "sub"),
    "*": (_operator.mul, "mul"),
    "/": (_operator.truediv, "truediv"),
    "**": (_operator.pow, "pow"),
    "@": (_operator.matmul, "matmul"),
}
_UNARY_SYMBOLS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "-x": (_operator.neg, "__neg__"),
    "abs": (abs, "__abs__"),
}


@dataclass(frozen=True)
class Form:
    """One way users call an operator.

    ``kind`` is ``"method"`` (``x.name(...)``), ``"property"`` (``x.name``),
    ``"function"`` (``module.name(...)``), ``"operator"`` (``a + b``, ``-x``, ``abs(x)``,
    ``x ** p``, ``x[index]``), ``"reflected"`` (a constant on the left: ``2.5 + x``, an
    array ``+ x``) or ``"numpy"`` (``np.exp(x)``: numpy's protocols).
    """

    kind: str
    name: str
    target: Any = None  # the numpy callable of a "numpy" form; the constant of "reflected"
    rename: Mapping[str, str] = field(default_factory=dict)  # sg parameter -> numpy keyword

    @property
    def api(self) -> str:
        """The public name this form exercises (``exp``, ``__add__``, ``np.exp``)."""
        if self.kind in ("method", "function", "property"):
            return self.name
        if self.kind == "numpy":
            return f"np.{getattr(self.target, '__name__', self.name)}"
        if self.name in _BINARY_SYMBOLS:
            dunder = _BINARY_SYMBOLS[self.name][1]
            return f"__{'r' if self.kind == 'reflected' else ''}{dunder}__"
        if self.name in _UNARY_SYMBOLS:
            return _UNARY_SYMBOLS[self.name][1]
        if self.name == "[]":
            return "__getitem__"
        return self.name

    def __str__(self) -> str:
        if self.kind == "method":
            return f"x.{self.name}()"
        if self.kind == "property":
            return f"x.{self.name}"
        if self.kind == "function":
            return f"{self.name}()"
        if self.kind == "numpy":
            return self.api + "()"
        if self.kind == "reflected":
            return f"{'array' if self.target == 'array' else 'number'} {self.name} x"
        if self.name in _BINARY_SYMBOLS:
            return f"a {self.name} b"
        if self.name == "[]":
            return "x[index]"
        if self.name == "-x":
            return "-x"
        if self.name == "**":
            return "x ** p"
        return f"{self.name}(x)"


# ---------------------------------------------------------------------------------------
# The declaration
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Declaration:
    """Everything sg knows about one operator (see the module docstring).

    ``op`` is the rule-table entry the driver runs, ``None`` for a *composite* (an
    operator written with others, which has no rule of its own but is checked like
    every operator). ``signature`` names how it is called and shaped (``"unary"``,
    ``"binary"``, ``"reduction"``...: each engine knows its signatures). ``inputs`` gives
    one domain per input (or a function of the parameters giving it). ``call`` is the
    canonical call ``call(*inputs, **params)``; the forms are its public spellings.
    """

    name: str
    engine: str
    module: str  # where the functions live: "sg_tensor" or "sg_scalar"
    op: Op | None
    signature: str
    inputs: tuple[Domain | Callable[[Params], Domain], ...]
    forms: tuple[Form, ...]
    torch: Torch | None
    cases: tuple[Case, ...] = (Case(),)
    edges: tuple[Edge, ...] = ()
    bound: Bound = same
    params: Mapping[str, Param] = field(default_factory=dict)
    call: Callable[..., Any] | None = None
    variadic: bool = False  # the inputs are passed as one list (concatenate)
    leading: tuple[str, ...] = ()  # parameters passed before the inputs (where's condition)
    output: int | None = None  # which output to check of a call that returns several
    rounding: float = 0.0  # relative rounding of the forward itself (float32: 6e-8)
    analytic: bool = False  # complex-analytic forward that numpy evaluates on complex inputs
    uses: tuple[str, ...] = ()  # a composite: the operators it is made of
    public: bool = True  # False for operators only rules use (scatter)
    doc: str = ""

    @property
    def arity(self) -> int:
        """How many inputs the operator takes (a variadic one: as declared)."""
        return len(self.inputs)

    def domain(self, index: int, case: Case) -> Domain:
        """The domain of input ``index`` in ``case``."""
        if case.domains is not None:
            return case.domains[min(index, len(case.domains) - 1)]
        domain = self.inputs[min(index, len(self.inputs) - 1)]
        return domain if isinstance(domain, Domain) else domain(case.params)

    def kinks(self, params: Params, second_order: bool = False) -> list[tuple[int, float, str]]:
        """``(input, point, side)`` of every kink present under ``params`` (the side of
        the second derivative with ``second_order``)."""
        found = []
        for edge in self.edges:
            if isinstance(edge, Kink):
                point = edge.point(params)
                if point is not None:
                    side = (edge.second or edge.side) if second_order else edge.side
                    found.append((edge.input, float(point), side))
        return found

    @property
    def ties(self) -> Tie | None:
        """The declared tie, if any."""
        return next((e for e in self.edges if isinstance(e, Tie)), None)

    @property
    def forms_or_call(self) -> tuple[Form, ...]:
        """The forms, or for an operator only rules use, its canonical call."""
        return self.forms or ((Form("call", self.name),) if self.call is not None else ())
