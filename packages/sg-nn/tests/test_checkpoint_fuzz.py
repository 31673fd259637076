"""Fuzzing ``load``: whatever the bytes, the result is a clean ``CheckpointError`` naming
the file, or exactly the value the file holds; never another exception.

Each property runs ``SG_FUZZ_EXAMPLES`` examples (100 by default, a few seconds in all);
``nox -s fuzz`` runs thousands.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nn_checkpoint_files import (
    FORMAT,
    STRUCTURE,
    assert_same,
    checkpoint_members,
    deflated,
    npy,
    stored,
    text_npy,
    zip_bytes,
)

import sg_nn as nn
from sg_nn.checkpoint import MAX_DEPTH

EXAMPLES = int(os.environ.get("SG_FUZZ_EXAMPLES", "100"))
fuzz = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One file that every example overwrites (hypothesis wants no per-test fixture)."""
    return tmp_path_factory.mktemp("fuzz") / "fuzzed.npz"


# ---------------------------------------------------------------------------------------
# what a checkpoint can hold
# ---------------------------------------------------------------------------------------
DTYPES = ["?", "i1", "<i8", ">i4", "u1", "<u2", "<f2", "<f4", ">f8", "<f8", "<c8", ">c16"]


@st.composite
def arrays(draw: st.DrawFn) -> np.ndarray:
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    array = draw(hnp.arrays(dtype, shape))
    return np.asfortranarray(array) if draw(st.booleans()) else array


leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
    | arrays()
)
values = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)


def saved(obj: Any, path: Path) -> bytes:
    nn.save(obj, path)
    return path.read_bytes()


def load_or_fail_cleanly(path: Path) -> tuple[bool, Any]:
    """``(True, value)`` for a load, ``(False, None)`` for a CheckpointError naming the
    file; any other exception propagates and fails the property."""
    error: nn.CheckpointError | None = None
    try:
        return True, nn.load(path)
    except nn.CheckpointError as err:
        error = err
    assert str(error).startswith(f"load: {path}"), error
    return False, None


@fuzz
@given(obj=values)
def test_whatever_save_writes_load_returns(path: Path, obj: Any) -> None:
    saved(obj, path)
    assert_same(nn.load(path), obj)


# ---------------------------------------------------------------------------------------
# damaged bytes: the CRCs and the checks catch everything that changes the value
# ---------------------------------------------------------------------------------------
def flip_bit(data: bytes, at: int, bit: int) -> bytes:
    at %= len(data)
    return data[:at] + bytes([data[at] ^ (1 << bit)]) + data[at + 1 :]


def overwrite(data: bytes, at: int, junk: bytes) -> bytes:
    at %= len(data)
    return data[:at] + junk + data[at + len(junk) :]


def insert(data: bytes, at: int, junk: bytes) -> bytes:
    at %= len(data) + 1
    return data[:at] + junk + data[at:]


def truncate(data: bytes, at: int) -> bytes:
    return data[: at % len(data)]


def delete(data: bytes, at: int, length: int) -> bytes:
    at %= len(data)
    return data[:at] + data[at + length :]


positions = st.integers(min_value=0, max_value=2**20)
mutations = st.one_of(
    st.tuples(st.just(flip_bit), positions, st.integers(0, 7)),
    st.tuples(st.just(overwrite), positions, st.binary(min_size=1, max_size=8)),
    st.tuples(st.just(insert), positions, st.binary(min_size=1, max_size=8)),
    st.tuples(st.just(truncate), positions),
    st.tuples(st.just(delete), positions, st.integers(1, 64)),
)


@fuzz
@given(obj=values, changes=st.lists(mutations, min_size=1, max_size=3))
def test_damaged_bytes_load_as_saved_or_fail_cleanly(
    path: Path, obj: Any, changes: list[tuple[Callable[..., bytes], Any]]
) -> None:
    data = saved(obj, path)
    for change, *args in changes:
        data = change(data, *args) if data else data
    path.write_bytes(data)
    loaded, value = load_or_fail_cleanly(path)
    if loaded:  # the damage hit bytes that do not matter (a timestamp, a local header)
        assert_same(value, obj)


@fuzz
@given(data=st.binary(max_size=512))
def test_random_bytes_fail_cleanly(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    assert load_or_fail_cleanly(path) == (False, None)


# ---------------------------------------------------------------------------------------
# members: duplicated, extra, missing, reordered, deflated
# ---------------------------------------------------------------------------------------
junk_members = st.one_of(
    arrays().map(npy),
    st.binary(max_size=64),
    st.text(max_size=40).map(text_npy),
)


@fuzz
@given(obj=values, data=st.data())
def test_members_must_be_exactly_those_the_structure_names(
    path: Path, obj: Any, data: st.DataObject
) -> None:
    members = [stored(name, payload) for name, payload in checkpoint_members(saved(obj, path))]
    names = [m.name for m in members]
    action = data.draw(st.sampled_from(["duplicate", "extra", "drop", "shuffle", "deflate"]))
    if action == "duplicate":
        copy = data.draw(st.sampled_from(members))
        members.insert(data.draw(st.integers(0, len(members))), copy)
    elif action == "extra":
        name = data.draw(st.text(min_size=1, max_size=8).filter(lambda n: n not in names))
        members.append(stored(name, data.draw(junk_members)))
    elif action == "drop":
        members.pop(data.draw(st.integers(0, len(members) - 1)))
    elif action == "shuffle":
        members = data.draw(st.permutations(members))
    else:
        members = [deflated(m.name, m.data) for m in members]
    path.write_bytes(zip_bytes(members))
    loaded, value = load_or_fail_cleanly(path)
    assert loaded == (action in ("shuffle", "deflate"))
    if loaded:
        assert_same(value, obj)


# ---------------------------------------------------------------------------------------
# the structure: any JSON (or not) in place of what save wrote
# ---------------------------------------------------------------------------------------
class InvalidStructureError(Exception):
    pass


def expected_value(text: str, arrays: dict[str, np.ndarray]) -> Any:
    """What a structure ``text`` means next to ``arrays`` (the archive's other members),
    by the format's rules, written out plainly; InvalidStructureError where load must fail."""

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        if len({key for key, _ in pairs}) != len(pairs):
            raise InvalidStructureError("a repeated key")
        return dict(pairs)

    try:
        document = json.loads(text, object_pairs_hook=unique)
    except (ValueError, RecursionError) as err:
        raise InvalidStructureError("not JSON") from err
    if type(document) is not dict or sorted(document) != ["format", "structure"]:
        raise InvalidStructureError("not a document")
    if document["format"] != FORMAT:
        raise InvalidStructureError("another format")
    used: list[str] = []

    def value(node: Any, depth: int) -> Any:
        if node is None or type(node) in (bool, int, float, str):
            return node
        if type(node) is dict and list(node) == ["__array__"]:
            if type(node["__array__"]) is not str or node["__array__"] not in arrays:
                raise InvalidStructureError("no such array")
            used.append(node["__array__"])
            return arrays[node["__array__"]]
        if depth >= MAX_DEPTH:
            raise InvalidStructureError("too deep")
        if type(node) is list:
            return [value(item, depth + 1) for item in node]
        if type(node) is dict and list(node) == ["__dict__"] and type(node["__dict__"]) is dict:
            return {key: value(item, depth + 1) for key, item in node["__dict__"].items()}
        raise InvalidStructureError("not a node")

    result = value(document["structure"], 0)
    if sorted(used) != sorted(arrays):  # each array named exactly once
        raise InvalidStructureError("arrays named twice or not at all")
    return result


json_leaves = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6)
keys = st.sampled_from(["__array__", "__dict__", "a0", "a1", ""]) | st.text(max_size=4)
json_values = st.recursive(
    json_leaves | st.sampled_from([{"__array__": "a0"}, {"__array__": "a1"}, {"__dict__": {}}]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(keys, children, max_size=3)
        | st.dictionaries(st.text(max_size=4), children, max_size=3).map(lambda d: {"__dict__": d})
    ),
    max_leaves=10,
)


def replace_somewhere(node: Any, new: Any, choices: list[int]) -> Any:
    """``node`` with one sub-node (chosen by ``choices``) replaced by ``new``."""
    if not choices:
        return new
    choice, rest = choices[0], choices[1:]
    if isinstance(node, list) and node:
        at = choice % len(node)
        return [replace_somewhere(v, new, rest) if i == at else v for i, v in enumerate(node)]
    if isinstance(node, dict) and node:
        at = list(node)[choice % len(node)]
        return {k: replace_somewhere(v, new, rest) if k == at else v for k, v in node.items()}
    return new


def nested_text(depth: int, inner: str) -> str:
    return "[" * depth + inner + "]" * depth


@st.composite
def structure_texts(draw: st.DrawFn, original: str) -> str:
    """Mutations of the structure text: a sub-tree replaced, the text edited as bytes,
    or the whole replaced by deep nesting."""
    kind = draw(st.sampled_from(["tree", "text", "deep"]))
    if kind == "tree":
        document = json.loads(original)
        choices = draw(st.lists(st.integers(0, 50), max_size=6))
        return json.dumps(replace_somewhere(document, draw(json_values), choices))
    if kind == "text":
        at = draw(st.integers(0, len(original)))
        cut = draw(st.integers(0, 4))
        return original[:at] + draw(st.text(max_size=4)) + original[at + cut :]
    depth = draw(st.integers(MAX_DEPTH - 2, MAX_DEPTH + 2) | st.integers(1, 200_000))
    return '{"format": "sg-checkpoint-1", "structure": ' + nested_text(depth, "") + "}"


@fuzz
@given(obj=values, data=st.data())
def test_a_changed_structure_loads_what_it_says_or_fails_cleanly(
    path: Path, obj: Any, data: st.DataObject
) -> None:
    members = dict(checkpoint_members(saved(obj, path)))
    original = str(np.load(path)[STRUCTURE])
    text = data.draw(structure_texts(original))
    members[f"{STRUCTURE}.npy"] = text_npy(text)
    path.write_bytes(zip_bytes([stored(name, payload) for name, payload in members.items()]))
    with np.load(path) as archive:
        arrays = {name: archive[name] for name in archive.files if name != STRUCTURE}
    loaded, value = load_or_fail_cleanly(path)
    try:
        expected = expected_value(text, arrays)
    except InvalidStructureError:
        assert not loaded, "load accepted a structure the format does not allow"
        return
    assert loaded, "load refused a valid structure"
    assert_same(value, expected)
