"""render_dot: the message without Graphviz, and the call of a (stub) ``dot`` program."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from sg_scalar import GraphvizNotFoundError, Value, render_dot, to_dot

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the stub dot is a sh script")

# A stand-in for Graphviz's dot: records its arguments, copies the DOT text it reads on
# stdin into the file named after -o, and fails when the text says so.
STUB = """#!/bin/sh
printf '%s\\n' "$@" > "$(dirname "$0")/args.txt"
while [ "$#" -gt 0 ]; do
  if [ "$1" = "-o" ]; then out="$2"; fi
  shift
done
cat > "$out"
if grep -q BROKEN "$out"; then echo "Error: syntax error in line 1" >&2; exit 3; fi
"""


@pytest.fixture
def stub_dot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory holding a stub ``dot``, which is then the only program on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    dot = bin_dir / "dot"
    dot.write_text(STUB)
    dot.chmod(dot.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/bin{os.pathsep}/usr/bin")
    return bin_dir


def graph_text() -> str:
    x = Value(2.0)
    return to_dot(x * 3.0 + x)


def test_missing_dot_names_graphviz_and_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no dot anywhere
    with pytest.raises(GraphvizNotFoundError) as info:
        render_dot(graph_text(), tmp_path / "graph.svg")
    message = str(info.value)
    assert "Graphviz" in message
    assert "`dot` program was not found on PATH" in message
    assert "apt-get install graphviz" in message
    assert "brew install graphviz" in message
    assert isinstance(info.value, FileNotFoundError)  # catchable as the OS error it is
    assert not (tmp_path / "graph.svg").exists()


def test_calls_dot_with_the_format_of_the_suffix(stub_dot: Path, tmp_path: Path) -> None:
    text = graph_text()
    written = render_dot(text, tmp_path / "graph.svg")
    assert written == tmp_path / "graph.svg"
    assert written.read_text() == text  # the DOT text went to dot's stdin
    args = (stub_dot / "args.txt").read_text().split()
    assert args == ["-Tsvg", "-o", str(tmp_path / "graph.svg")]


def test_an_explicit_format_wins_over_the_suffix(stub_dot: Path, tmp_path: Path) -> None:
    render_dot(graph_text(), str(tmp_path / "graph.img"), format="png")
    assert (stub_dot / "args.txt").read_text().split()[0] == "-Tpng"
    assert (tmp_path / "graph.img").read_text().startswith("digraph sg {")


def test_dot_failure_is_reported_with_its_message(stub_dot: Path, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"dot -Tsvg failed: Error: syntax error in line 1"):
        render_dot("BROKEN {", tmp_path / "graph.svg")


def test_no_format_and_no_suffix_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="give a format or a path with a suffix"):
        render_dot(graph_text(), tmp_path / "graph")
