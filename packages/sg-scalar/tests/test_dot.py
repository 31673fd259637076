"""to_dot: the graph as Graphviz DOT text."""

from __future__ import annotations

import re

from sg_scalar import Value, to_dot

NODE = re.compile(r'^  (\w+) \[shape=(record|ellipse), label="(.*)"\];$')
EDGE = re.compile(r"^  (\w+) -> (\w+);$")


def parse(dot: str) -> tuple[dict[str, tuple[str, str]], list[tuple[str, str]]]:
    """Check the DOT text line by line; return its nodes {id: (shape, label)} and edges."""
    lines = dot.splitlines()
    assert lines[0] == "digraph sg {"
    assert lines[-1] == "}"
    assert dot.endswith("}\n")
    nodes: dict[str, tuple[str, str]] = {}
    edges: list[tuple[str, str]] = []
    for line in lines[1:-1]:
        if m := NODE.match(line):
            assert m[1] not in nodes, f"node {m[1]} declared twice"
            nodes[m[1]] = (m[2], m[3])
        elif m := EDGE.match(line):
            edges.append((m[1], m[2]))
        else:
            assert line in ("  rankdir=LR;", '  node [fontname="Helvetica"];'), line
    for tail, head in edges:  # every edge joins declared nodes
        assert tail in nodes
        assert head in nodes
    return nodes, edges


def records(nodes: dict[str, tuple[str, str]]) -> list[str]:
    return [label for shape, label in nodes.values() if shape == "record"]


def ops(nodes: dict[str, tuple[str, str]]) -> list[str]:
    return sorted(label for shape, label in nodes.values() if shape == "ellipse")


def test_one_record_per_node_and_one_ellipse_per_operator() -> None:
    x = Value(2.0)
    y = x * 3.0 + x  # nodes: x, the constant 3.0, the product, the sum
    nodes, edges = parse(to_dot(y))
    assert len(records(nodes)) == 4
    assert ops(nodes) == ["add", "mul"]
    assert len(edges) == 2 + 2 + 2  # each op: one edge out, one per input
    labels = records(nodes)
    assert "{ data 2 | grad 0 }" in labels
    assert "{ data 3 | grad 0 }" in labels
    assert "{ data 6 | grad 0 }" in labels
    assert "{ data 8 | grad 0 }" in labels


def test_shared_node_appears_once_with_two_outgoing_edges() -> None:
    x = Value(0.5)
    a = x.exp()
    out = a * a.sin()
    nodes, edges = parse(to_dot(out))
    assert len(records(nodes)) == 4  # x, a, sin(a), out
    assert ops(nodes) == ["exp", "mul", "sin"]
    (a_id,) = [n for n, (_, label) in nodes.items() if label == "{ data 1.649 | grad 0 }"]
    assert sorted(nodes[head][1] for tail, head in edges if tail == a_id) == ["mul", "sin"]


def test_grads_appear_after_backward_with_retain_graph() -> None:
    x = Value(2.0)
    y = x * 3.0 + x
    y.backward(retain_graph=True)
    labels = records(parse(to_dot(y))[0])
    assert "{ data 2 | grad 4 }" in labels  # dy/dx = 3 + 1
    assert "{ data 8 | grad 1 }" in labels
    assert "{ data 6 | grad 1 }" in labels


def test_graph_freed_by_backward_draws_only_the_output() -> None:
    x = Value(2.0)
    y = x * 3.0
    y.backward()
    nodes, edges = parse(to_dot(y))
    assert records(nodes) == ["{ data 6 | grad 1 }"]
    assert edges == []


def test_ten_thousand_node_chain() -> None:
    x = Value(1.0)
    y = x
    for _ in range(10_000):
        y = y.tanh()
    nodes, edges = parse(to_dot(y))
    assert len(records(nodes)) == 10_001
    assert ops(nodes) == ["tanh"] * 10_000
    assert len(edges) == 20_000


def test_custom_label_and_escaping() -> None:
    x = Value(1.0)
    y = x.relu()
    dot = to_dot(y, label=lambda node: f'{node.op or "leaf"} {{"q"}}', rankdir="TB")
    assert "rankdir=TB;" in dot
    assert r'label="{ relu \{\"q\"\} }"' in dot
    assert r'label="{ leaf \{\"q\"\} }"' in dot
