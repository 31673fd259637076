"""Pictures of a computation graph: DOT text, and its rendering by Graphviz.

:func:`to_dot` writes the graph as Graphviz DOT text and needs nothing installed;
:func:`render_dot` turns that text into an SVG or PNG file with Graphviz's ``dot``
program, and says how to install Graphviz where it is missing.

>>> from sg_scalar import Value, to_dot
>>> a, b = Value(2.0), Value(3.0)
>>> print(to_dot(a * b), end="")
digraph sg {
  rankdir=LR;
  node [fontname="Helvetica"];
  n0 [shape=record, label="{ data 6 | grad 0 }"];
  n0_op [shape=ellipse, label="mul"];
  n0_op -> n0;
  n1 -> n0_op;
  n2 -> n0_op;
  n1 [shape=record, label="{ data 2 | grad 0 }"];
  n2 [shape=record, label="{ data 3 | grad 0 }"];
}
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["GraphvizNotFoundError", "render_dot", "to_dot"]

_GRAPHVIZ_HINT = (
    "Install Graphviz, which provides it: `apt-get install graphviz` (Debian, Ubuntu), "
    "`brew install graphviz` (macOS), `conda install graphviz`, or see "
    "https://graphviz.org/download/. Without it, the DOT text from to_dot() can be "
    "pasted into any Graphviz viewer."
)


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


class GraphvizNotFoundError(FileNotFoundError):
    """Raised by :func:`render_dot` when Graphviz's ``dot`` program is not on ``PATH``."""


def render_dot(dot_source: str, path: str | Path, format: str | None = None) -> Path:
    """Render DOT text (from :func:`to_dot`) to an image file with Graphviz's ``dot``.

    ``format`` is any output format of ``dot`` (``"svg"``, ``"png"``, ``"pdf"``...);
    by default the suffix of ``path``. Returns the path written. Raises
    :class:`GraphvizNotFoundError`, saying how to install Graphviz, when ``dot`` is not
    on ``PATH``, and ``RuntimeError`` with dot's message when it rejects the input.
    """
    path = Path(path)
    format = format or path.suffix.lstrip(".")
    if not format:
        raise ValueError(f"render_dot(): give a format or a path with a suffix, got {path}")
    program = shutil.which("dot")
    if program is None:
        raise GraphvizNotFoundError(
            f"render_dot(): Graphviz's `dot` program was not found on PATH. {_GRAPHVIZ_HINT}"
        )
    done = subprocess.run(
        [program, f"-T{format}", "-o", str(path)],
        input=dot_source.encode(),
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip() or f"exit code {done.returncode}"
        raise RuntimeError(f"render_dot(): dot -T{format} failed: {message}")
    return path
