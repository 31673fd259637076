"""The classic mutation operators, applied to the syntax tree of one function.

:func:`mutations` lists every place where an operator applies to a function's body, in a
fixed order (a depth-first walk of the tree), each as a :class:`Mutation`: where it is
(``line`` counted from the ``def`` line, 1-based; ``col`` the node's column in the
dedented source), what it does (``label``, such as ``Mult->Div``) and how to do it
(``replace``, which turns a copy of the node into its replacement). :func:`apply` makes
the mutated function definition; nothing here compiles or runs it.

The operators:

- arithmetic swapped: ``+ -> -``, ``+ -> *``, ``- -> +``, ``* -> /``, ``* -> +``,
  ``/ -> *``, ``** -> *``, ``@ -> *``, ``// -> /``, ``% -> //``, ``& <-> |`` (also in
  augmented assignments);
- a term or factor dropped: ``a + b -> a``, ``a + b -> b`` (also ``-``, ``*``, ``&``,
  ``|``), ``a / b -> a``, ``a ** b -> a``;
- a unary operator dropped: ``-x -> x``, ``not c -> c``, ``~m -> m``;
- comparisons flipped: ``< -> <=``, ``< -> >=`` and the like, ``== <-> !=``,
  ``is <-> is not``, ``in <-> not in``; ``and <-> or``;
- conditions negated: ``if c``, ``while c`` and ``a if c else b`` get ``not c``;
- numeric constants changed: ``0 -> 1``, ``1 -> 0``, ``1 -> 2``, and any other ``c``
  to ``c + 1``, ``c - 1`` and ``-c``; ``True <-> False``;
- ``keepdims`` negated and ``axis`` replaced by ``None`` (or ``None`` by ``0``), as a
  keyword or a positional argument;
- a function swapped for its sibling (``cos <-> sin``, ``exp <-> log``, ``maximum <->
  minimum``, ``sum <-> mean``, ``ones <-> zeros``...); a transpose ``.T`` dropped; the
  two branches of ``where(c, a, b)`` exchanged;
- a statement deleted (an assignment, an augmented assignment, a call statement,
  ``continue``, ``break``): replaced by ``pass``;
- for gradient rules only: the two gradients of a two-input rule returned swapped, and
  the rule's ``out`` parameter exchanged with one of its inputs.

Error paths are left alone: nothing inside a ``raise``, an ``assert``, an f-string, a
docstring or an annotation is mutated (the conditions that lead to a ``raise`` are).
A mutation that gives back the same code (swapping ``return g, g``), or the code another
mutation of the same node gives (``x * x -> x`` twice), is not listed.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Mutation", "apply", "mutations"]

Replace = Callable[[Any], Any]
Path = tuple[tuple[str, int | None], ...]


@dataclass(frozen=True)
class Mutation:
    """One mutation of one function: where, what, and how."""

    path: Path
    """The fields (and list indices) leading from the ``def`` node to the mutated node."""
    line: int
    """The mutated node's line, counted from the ``def`` line (which is line 1)."""
    col: int
    label: str
    before: str
    after: str
    replace: Replace = field(compare=False, repr=False)


_BINOPS: dict[type[ast.operator], tuple[type[ast.operator], ...]] = {
    ast.Add: (ast.Sub, ast.Mult),
    ast.Sub: (ast.Add,),
    ast.Mult: (ast.Div, ast.Add),
    ast.Div: (ast.Mult,),
    ast.Pow: (ast.Mult,),
    ast.MatMult: (ast.Mult,),
    ast.FloorDiv: (ast.Div,),
    ast.Mod: (ast.FloorDiv,),
    ast.BitAnd: (ast.BitOr,),
    ast.BitOr: (ast.BitAnd,),
}
_DROP_BOTH = (ast.Add, ast.Sub, ast.Mult, ast.BitAnd, ast.BitOr)
_DROP_RIGHT_ONLY = (ast.Div, ast.Pow)
_COMPARE: dict[type[ast.cmpop], tuple[type[ast.cmpop], ...]] = {
    ast.Lt: (ast.LtE, ast.GtE),
    ast.LtE: (ast.Lt, ast.Gt),
    ast.Gt: (ast.GtE, ast.LtE),
    ast.GtE: (ast.Gt, ast.Lt),
    ast.Eq: (ast.NotEq,),
    ast.NotEq: (ast.Eq,),
    ast.Is: (ast.IsNot,),
    ast.IsNot: (ast.Is,),
    ast.In: (ast.NotIn,),
    ast.NotIn: (ast.In,),
}
_SIBLINGS: dict[str, str] = {
    "sin": "cos", "cos": "sin", "exp": "log", "log": "exp", "maximum": "minimum",
    "minimum": "maximum", "max": "min", "min": "max", "sum": "mean", "mean": "sum",
    "ones": "zeros", "zeros": "ones", "ones_like": "zeros_like", "zeros_like": "ones_like",
    "isneginf": "isposinf", "isposinf": "isneginf", "expm1": "exp", "log1p": "log",
}  # fmt: skip
"""A function and the sibling it is swapped for (an attribute ``np.cos`` or a name ``cos``)."""
_DELETABLE = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.Continue, ast.Break)
_SKIPPED = (ast.Raise, ast.Assert, ast.JoinedStr, ast.Global, ast.Nonlocal)
_NOT_WALKED = {"decorator_list", "returns", "annotation", "type_comment", "args", "type_params"}


def _name(op: Any) -> str:
    return type(op).__name__


def _unparse(node: Any, limit: int = 80) -> str:
    try:
        text = " ".join(ast.unparse(node).split())
    except Exception:  # a node unparse cannot print on its own (an operator, arguments)
        text = type(node).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _negated(test: ast.expr) -> ast.expr:
    return ast.UnaryOp(op=ast.Not(), operand=test)


# ---------------------------------------------------------------------------------------
# The candidates at one node: (label, replace)
# ---------------------------------------------------------------------------------------
def _binop(node: ast.BinOp) -> Iterator[tuple[str, Replace]]:
    kind = type(node.op)
    for other in _BINOPS.get(kind, ()):
        yield f"{kind.__name__}->{other.__name__}", _set_op(other)
    if issubclass(kind, _DROP_BOTH):
        yield f"{kind.__name__}->Left", lambda n: n.left
        yield f"{kind.__name__}->Right", lambda n: n.right
    elif issubclass(kind, _DROP_RIGHT_ONLY):
        yield f"{kind.__name__}->Left", lambda n: n.left


def _set_op(other: type[Any]) -> Replace:
    def replace(n: Any) -> Any:
        n.op = other()
        return n

    return replace


def _compare(node: ast.Compare) -> Iterator[tuple[str, Replace]]:
    for i, op in enumerate(node.ops):
        where = f"[{i}]" if len(node.ops) > 1 else ""
        for other in _COMPARE.get(type(op), ()):
            yield f"{_name(op)}{where}->{other.__name__}", _set_compare(i, other)


def _set_compare(i: int, other: type[ast.cmpop]) -> Replace:
    def replace(n: ast.Compare) -> ast.Compare:
        n.ops[i] = other()
        return n

    return replace


def _constant(node: ast.Constant) -> Iterator[tuple[str, Replace]]:
    value = node.value
    if isinstance(value, bool):
        yield f"Const:{value}->{not value}", lambda n: ast.Constant(value=not value)
        return
    if not isinstance(value, (int, float)):
        return
    if value == 0:
        changed: list[int | float] = [value + 1]
    elif value == 1:
        changed = [value - 1, value + 1]
    else:
        changed = [value + 1, value - 1, -value]
    seen: set[int | float] = set()
    for new in changed:
        if new == value or new in seen:
            continue
        seen.add(new)
        yield f"Const:{value!r}->{new!r}", _set_constant(new)


def _set_constant(new: float) -> Replace:
    return lambda n: ast.Constant(value=new)


def _flag_argument(arg: ast.expr, keyword: str | None) -> Iterator[tuple[str, Replace]]:
    """``keepdims`` negated; ``axis`` set to ``None`` (``None`` to ``0``)."""
    name = keyword or (arg.id if isinstance(arg, ast.Name) else None)
    if name == "keepdims" and not (isinstance(arg, ast.Constant) and isinstance(arg.value, bool)):
        yield "keepdims->not", lambda n: _negated(n)
    elif name == "axis":
        if isinstance(arg, ast.Constant) and arg.value is None:
            yield "axis:None->0", lambda n: ast.Constant(value=0)
        else:
            yield "axis->None", lambda n: ast.Constant(value=None)


def _call(node: ast.Call, names: Collection[str] | None) -> Iterator[tuple[str, Replace]]:
    func = node.func
    if isinstance(func, ast.Attribute) and func.attr in _SIBLINGS:
        sibling = _SIBLINGS[func.attr]
        yield f"Call:{func.attr}->{sibling}", _set_attribute(sibling)
    elif isinstance(func, ast.Name) and func.id in _SIBLINGS:
        sibling = _SIBLINGS[func.id]
        if names is None or sibling in names:  # a name the function's module can resolve
            yield f"Call:{func.id}->{sibling}", _set_name(sibling)
    is_where = (isinstance(func, ast.Attribute) and func.attr == "where") or (
        isinstance(func, ast.Name) and func.id == "where"
    )
    if is_where and len(node.args) == 3 and not node.keywords:
        yield "where:swap", _swap_where


def _set_attribute(sibling: str) -> Replace:
    def replace(n: ast.Call) -> ast.Call:
        n.func.attr = sibling  # type: ignore[attr-defined]
        return n

    return replace


def _set_name(sibling: str) -> Replace:
    def replace(n: ast.Call) -> ast.Call:
        n.func = ast.Name(id=sibling, ctx=ast.Load())
        return n

    return replace


def _swap_where(n: ast.Call) -> ast.Call:
    n.args[1], n.args[2] = n.args[2], n.args[1]
    return n


def _statement(node: ast.stmt) -> Iterator[tuple[str, Replace]]:
    if isinstance(node, ast.AnnAssign) and node.value is None:
        return
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return  # a docstring or a bare constant: nothing to delete
    yield f"Delete:{_name(node)}", lambda n: ast.Pass()


def _candidates(
    node: ast.AST, keyword: str | None, rule: bool, names: Collection[str] | None
) -> Iterator[tuple[str, Replace]]:
    if isinstance(node, ast.BinOp):
        yield from _binop(node)
    elif isinstance(node, ast.AugAssign):
        kind = type(node.op)
        for other in _BINOPS.get(kind, ()):
            yield f"{kind.__name__}->{other.__name__}", _set_op(other)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not, ast.Invert)):
        yield f"Drop:{_name(node.op)}", lambda n: n.operand
    elif isinstance(node, ast.Compare):
        yield from _compare(node)
    elif isinstance(node, ast.BoolOp):
        flipped: type[ast.boolop] = ast.Or if isinstance(node.op, ast.And) else ast.And
        yield f"{_name(node.op)}->{flipped.__name__}", _set_op(flipped)
    elif isinstance(node, (ast.If, ast.While, ast.IfExp)):
        yield f"Negate:{_name(node)}", _negate_test
    elif isinstance(node, ast.Constant):
        yield from _constant(node)
    elif isinstance(node, ast.Call):
        yield from _call(node, names)
    elif isinstance(node, ast.Attribute) and node.attr == "T" and isinstance(node.ctx, ast.Load):
        yield "Drop:.T", lambda n: n.value
    elif rule and isinstance(node, ast.Return) and _two_different(node.value):
        yield "Return:swap", _swap_return
    if isinstance(node, ast.expr) and keyword != "":
        yield from _flag_argument(node, keyword)
    if isinstance(node, _DELETABLE):
        yield from _statement(node)


def _negate_test(n: Any) -> Any:
    n.test = _negated(n.test)
    return n


def _two_different(value: ast.expr | None) -> bool:
    return (
        isinstance(value, ast.Tuple)
        and len(value.elts) == 2
        and ast.dump(value.elts[0]) != ast.dump(value.elts[1])
    )


def _swap_return(n: ast.Return) -> ast.Return:
    elts = n.value.elts  # type: ignore[union-attr]
    elts[0], elts[1] = elts[1], elts[0]
    return n


# ---------------------------------------------------------------------------------------
# The walk
# ---------------------------------------------------------------------------------------
def mutations(
    function: ast.FunctionDef, *, rule: bool = False, names: Collection[str] | None = None
) -> list[Mutation]:
    """Every mutation of ``function``'s body, in a fixed order (see the module docstring).

    ``rule``: the function is a gradient rule ``vjp(g, out, *inputs, **ctx)``, which adds
    the swapped returned gradients and ``out`` exchanged with an input. ``names``: the
    names the function can resolve (its module's globals and the builtins), so that a
    swapped function name (``cos -> sin``) is offered only where it exists.
    """
    found: list[Mutation] = []
    first = function.lineno
    if rule:
        found += _signature_swaps(function)
    body = function.body
    for i, statement in enumerate(body):
        if i == 0 and _is_docstring(statement):
            continue
        _visit(statement, (("body", i),), None, first, rule, names, found)
    return found


def _is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def _visit(
    node: ast.AST,
    path: Path,
    keyword: str | None,
    first: int,
    rule: bool,
    names: Collection[str] | None,
    found: list[Mutation],
) -> None:
    if isinstance(node, _SKIPPED):
        return
    line = getattr(node, "lineno", first) - first + 1
    col = getattr(node, "col_offset", 0)
    seen = {ast.dump(node)}  # the same code is not a mutant; two ways to one code, one
    for label, replace in _candidates(node, keyword, rule, names):
        after = replace(copy.deepcopy(node))
        if ast.dump(after) in seen:
            continue
        seen.add(ast.dump(after))
        found.append(Mutation(path, line, col, label, _unparse(node), _unparse(after), replace))
    is_call = isinstance(node, ast.Call)
    for name, value in ast.iter_fields(node):
        if name in _NOT_WALKED and not (is_call and name == "args"):
            continue
        if (
            isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            and name == "args"
        ):
            continue
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            if not isinstance(item, ast.AST):
                continue
            step = (name, i if isinstance(value, list) else None)
            # A call's positional argument may be a flag (``keepdims``, ``axis``) by name;
            # a keyword's value is a flag by its keyword. Anything else is not a flag ("").
            child_keyword: str | None = ""
            if is_call and name == "args":
                child_keyword = None
            elif isinstance(node, ast.keyword):
                child_keyword = node.arg or ""
            _visit(item, (*path, step), child_keyword, first, rule, names, found)


def _signature_swaps(function: ast.FunctionDef) -> list[Mutation]:
    """A rule ``vjp(g, out, x, ...)`` with ``out`` exchanged with each named input."""
    params = [a.arg for a in function.args.args]
    if len(params) < 3 or params[1] != "out":
        return []
    used = {n.id for s in function.body for n in ast.walk(s) if isinstance(n, ast.Name)}
    swaps = []
    for k in range(2, len(params)):
        if params[1] not in used and params[k] not in used:
            continue  # neither is read: exchanging them changes nothing
        label = f"Swap:out<->{params[k]}"
        before = f"({', '.join(params)})"
        swapped = list(params)
        swapped[1], swapped[k] = swapped[k], swapped[1]
        swaps.append(
            Mutation(
                (("args", None),), 1, function.col_offset, label, before,
                f"({', '.join(swapped)})", _swap_parameters(1, k),
            )
        )  # fmt: skip
    return swaps


def _swap_parameters(i: int, k: int) -> Replace:
    def replace(arguments: ast.arguments) -> ast.arguments:
        args = arguments.args
        args[i].arg, args[k].arg = args[k].arg, args[i].arg
        return arguments

    return replace


def apply(function: ast.FunctionDef, mutation: Mutation) -> ast.FunctionDef:
    """A copy of ``function`` with ``mutation`` applied (``function`` is left as it is)."""
    mutated = copy.deepcopy(function)
    parent: Any = mutated
    for name, index in mutation.path[:-1]:
        parent = getattr(parent, name) if index is None else getattr(parent, name)[index]
    name, index = mutation.path[-1]
    old = getattr(parent, name) if index is None else getattr(parent, name)[index]
    new = mutation.replace(old)
    if isinstance(new, ast.AST) and isinstance(old, ast.AST) and hasattr(old, "lineno"):
        ast.copy_location(new, old)
    if index is None:
        setattr(parent, name, new)
    else:
        getattr(parent, name)[index] = new
    return ast.fix_missing_locations(mutated)
