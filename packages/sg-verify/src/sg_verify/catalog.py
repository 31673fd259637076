"""The operator list, made from the declarations: ``sg-verify operators`` and the docs page.

One row per declared operator (and composite) of each engine: how users spell it, its
PyTorch counterpart, its inputs' domains, its kinks and ties with the gradient there,
how many checks the registry makes of it, and its rule's one-line derivative.
"""

from __future__ import annotations

from sg_scalar.declare import Declaration, Kink, Tie, ZeroSpread
from sg_verify.registry import all_specs, declarations

COLUMNS = ("engine", "operator", "calls", "PyTorch", "domain", "kinks and ties", "checks", "rule")


def _edges(decl: Declaration) -> str:
    text = []
    for edge in decl.edges:
        if isinstance(edge, Kink):
            at = "a parameter" if callable(edge.at) else f"{edge.at:g}"
            text.append(f"kink at {at}: {edge.side} derivative")
        elif isinstance(edge, Tie):
            where = "within a slice" if edge.within else "between inputs"
            share = "split" if edge.routing == "split" else "to the returned index"
            text.append(f"ties {where}: {share}")
        elif isinstance(edge, ZeroSpread):
            text.append("constant slice: 0")
    return "; ".join(text)


def rows() -> list[tuple[str, ...]]:
    """The list, one tuple of :data:`COLUMNS` per operator."""
    checks: dict[tuple[str, str], int] = {}
    for spec in all_specs():
        checks[spec.engine, spec.op] = checks.get((spec.engine, spec.op), 0) + 1
    table: list[tuple[str, ...]] = []
    for engine in ("tensor", "scalar"):
        for d in declarations(engine):
            calls = ", ".join(dict.fromkeys(f.api for f in d.forms)) or "(rules only)"
            if d.op is None:
                calls += f" (made of {', '.join(d.uses) or 'nothing: an identity'})"
            domains = ", ".join(
                dict.fromkeys(repr(d.domain(i, d.cases[0])) for i in range(d.arity))
            )
            table.append((engine, d.name, calls, str(d.torch), domains, _edges(d),
                          str(checks.get((engine, d.name), 0)), d.doc))  # fmt: skip
    return table


def markdown() -> str:
    """The list as a Markdown table."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows():
        cells = [c.replace("|", "\\|") for c in row]
        cells[1] = f"`{cells[1]}`"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def text() -> str:
    """The list as plain text: one line per operator (the rule's formula left out)."""
    out = [f"{'engine':<7}{'operator':<13}{'checks':>6}  calls; PyTorch; domain; kinks and ties"]
    for engine, name, calls, torch, domain, edges, count, _ in rows():
        out.append(f"{engine:<7}{name:<13}{count:>6}  {calls}; {torch}; {domain}; {edges or '-'}")
    return "\n".join(out)
