"""``to_dot``: draw a computation graph as Graphviz DOT text (no graphviz needed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["to_dot"]


def _default_label(node: Any) -> str:
    grad = node.grad
    grad_text = "None" if grad is None else _number(grad)
    return f"data {_number(node.data)} | grad {grad_text}"


def _number(x: Any) -> str:
    try:
        return f"{float(x):.4g}"
    except (TypeError, ValueError):  # arrays and other non-scalars
        return f"shape {getattr(x, 'shape', '?')}"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("{", "\\{").replace("}", "\\}")


def to_dot(root: Any, label: Callable[[Any], str] | None = None, rankdir: str = "LR") -> str:
    """The graph that produced ``root`` as DOT text, one record per node.

    Each node shows its data and grad (or what ``label(node)`` returns), and each
    operator is an ellipse between its inputs and its result. Render it with
    ``dot -Tsvg`` where Graphviz is installed. The graph is freed by ``backward()``
    unless ``retain_graph=True``, so draw it before, or keep it.
    """
    label = label or _default_label
    ids: dict[int, str] = {}
    order: list[Any] = []
    stack = [root]
    while stack:  # iterative: deep graphs must not hit the recursion limit
        node = stack.pop()
        if id(node) in ids:
            continue
        ids[id(node)] = f"n{len(ids)}"
        order.append(node)
        stack.extend(reversed(node._parents))
    lines = ["digraph sg {", f"  rankdir={rankdir};", '  node [fontname="Helvetica"];']
    for node in order:
        name = ids[id(node)]
        lines.append(f'  {name} [shape=record, label="{{ {_escape(label(node))} }}"];')
        op = node._op
        if op is not None and node._parents:
            lines.append(f'  {name}_op [shape=ellipse, label="{_escape(op.name)}"];')
            lines.append(f"  {name}_op -> {name};")
            for parent in node._parents:
                lines.append(f"  {ids[id(parent)]} -> {name}_op;")
    lines.append("}")
    return "\n".join(lines) + "\n"
