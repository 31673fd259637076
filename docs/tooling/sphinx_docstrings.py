"""A Griffe extension: sg's docstrings as Markdown, each object documented once.

sg's docstrings are written to be read in the source and in ``help()``: Sphinx roles
(``:func:`backward```), ``>>>`` examples and ``::`` before a literal block. mkdocstrings
renders docstrings as Markdown, where a role would show as raw text and a ``>>>`` line
as a quote. This extension rewrites each docstring once it is loaded:

- a role becomes a cross-reference to the object it names, resolved in the scope of the
  docstring's object (and shown as plain code where that object is not documented);
- a run of ``>>>`` lines and their output becomes a ``pycon`` code block;
- a paragraph's closing ``::`` becomes ``:`` (the indented block after it is code in
  Markdown too);
- a reST definition list (a term line, its definition indented under it) becomes a
  Markdown one (``def_list``);
- a power in plain-text math (``e**x``, ``x**(p - 1)``) keeps its ``**``, which
  Markdown would otherwise read as bold.

A method that overrides a documented one without a docstring of its own (``forward``
of a layer) shows the docstring it inherits, as ``help()`` does.

A package re-exports names defined in its modules (``sg_scalar.Value`` is
``sg_scalar.value.Value``). Each object is documented once, in its module: the package's
own entry drops those re-exports and lists them, linked, under its docstring instead.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|data|attr|exc|obj):`(~?)\.?([\w.]+)`")
PROMPT = re.compile(r"^( *)>>> ")
TERM = re.compile(r"^[^\s>*`-]|^``")  # a reST term: at the margin, not a list or a fence
POWER = re.compile(r"(?<=[\w)\]])\*\*(?=[\w(.-])")  # x**2, e**(-x): not bold markup
CODE_SPAN = re.compile(r"(``.+?``|`[^`]+`)")
PACKAGES = ("sg_scalar", "sg_tensor", "sg_nn", "sg_optim", "sg_verify")


class SphinxToMarkdown(griffe.Extension):
    """Rewrite the docstrings of a loaded package (see the module docstring)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        todo: list[griffe.Object] = [pkg]
        while todo:
            obj = todo.pop()
            if obj.docstring is None and obj.is_function and obj.parent.is_class:
                obj.docstring = inherited_docstring(obj)
            if obj.docstring is not None:
                obj.docstring.value = to_markdown(obj.docstring.value, obj)
            todo += [member for member in obj.members.values() if not member.is_alias]
        list_exports(pkg)


def inherited_docstring(method: griffe.Object) -> griffe.Docstring | None:
    """The docstring of the nearest base-class method that ``method`` overrides."""
    for base in method.parent.mro():
        member = base.members.get(method.name)
        if member is not None and member.docstring is not None:
            return griffe.Docstring(member.docstring.value, parent=method)
    return None


def list_exports(pkg: griffe.Module) -> None:
    """Replace the package's re-exported members by a linked list in its docstring."""
    exports = {
        name: member.target_path
        for name, member in list(pkg.members.items())
        if member.is_alias and member.is_public
    }
    if not exports:
        return
    for name in exports:
        del pkg.members[name]
    links = ", ".join(
        f'<autoref identifier="{path}" optional><code>{name}</code></autoref>'
        for name, path in sorted(exports.items())
    )
    text = pkg.docstring.value if pkg.docstring else ""
    text += f"\n\n**Exported here** (each documented where it is defined): {links}."
    pkg.docstring = griffe.Docstring(text, parent=pkg)


def to_markdown(text: str, obj: griffe.Object) -> str:
    """The docstring ``text`` of ``obj`` in Markdown."""
    text = fence_examples(text)
    text = re.sub(r"(\S)::$", r"\1:", text, flags=re.MULTILINE)
    text = definition_lists(text)
    text = escape_powers(text)
    return ROLE.sub(lambda match: reference(match, obj), text)


def reference(match: re.Match[str], obj: griffe.Object) -> str:
    """A cross-reference for one role, or plain code when its target cannot be found."""
    short, target = match[1], match[2]
    title = target.rsplit(".", 1)[-1] if short else target
    head, dot, rest = target.partition(".")
    try:
        path = obj.resolve(head) + dot + rest
    except griffe.NameResolutionError:
        if head not in PACKAGES:
            return f"`{title}`"
        path = target
    # "optional": a target that is not rendered (private, undocumented) leaves plain code.
    return f'<autoref identifier="{path}" optional><code>{title}</code></autoref>'


def fence_examples(text: str) -> str:
    """Wrap each run of doctest lines (up to the next blank line) in a pycon block."""
    lines, out, i, fenced = text.splitlines(), [], 0, False
    while i < len(lines):
        if lines[i].lstrip().startswith("```"):
            fenced = not fenced
        if fenced or not PROMPT.match(lines[i]):
            out.append(lines[i])
            i += 1
            continue
        start = i
        while i < len(lines) and lines[i].strip():
            i += 1
        if out and out[-1].strip():
            out.append("")
        out += ["```pycon", *textwrap.dedent("\n".join(lines[start:i])).splitlines(), "```"]
    return "\n".join(out)


def definition_lists(text: str) -> str:
    """reST definition lists (a term, its definition indented by four) as Markdown ones."""
    lines, out, fenced = text.splitlines(), [], False
    for i, line in enumerate(lines):
        if line.startswith("```"):
            fenced = not fenced
        after = lines[i + 1] if i + 1 < len(lines) else ""
        before = out[-1] if out else ""
        starts_entry = not before.strip() or before.startswith(("    ", ":   "))
        if fenced or not TERM.match(line) or not after.startswith("    ") or not starts_entry:
            out.append(line)
            continue
        if before.strip():
            out.append("")  # Markdown wants a blank line between two entries
        out.append(line)
        lines[i + 1] = ":   " + after[4:]
    return "\n".join(out)


def escape_powers(text: str) -> str:
    """Escape the ``**`` of powers outside code (spans, fences, indented blocks)."""
    lines, fenced = text.splitlines(), False
    for i, line in enumerate(lines):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if fenced or line.startswith("    "):
            continue
        parts = CODE_SPAN.split(line)  # odd indices are code spans
        parts[::2] = [POWER.sub(r"\*\*", part) for part in parts[::2]]
        lines[i] = "".join(parts)
    return "\n".join(lines)
