"""Loading files that ``save`` never wrote: bombs, oversized headers, malformed structures,
extra or duplicated members, non-numeric arrays, damaged bytes.

Every failure must be a ``CheckpointError`` (a ``ValueError``) that names the file and,
where one member is at fault, its key; none may allocate much more than the file holds.
"""

from __future__ import annotations

import dataclasses
import io
import re
import tracemalloc
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from nn_checkpoint_files import (
    MIB,
    STRUCTURE,
    Member,
    assert_same,
    deflate_bomb,
    deflated,
    npy,
    npy_header,
    stored,
    structure_npy,
    text_npy,
    write_zip,
    zip_bytes,
)

import sg_nn as nn
from sg_nn.checkpoint import DEFAULT_MAX_BYTES, MAX_DEPTH

REF = {"__array__": "a0"}


def a_structure(structure: Any = REF) -> Member:
    return stored(f"{STRUCTURE}.npy", structure_npy(structure))


def prefix(path: Path, key: str | None = None) -> str:
    """The start of every load error message: the operation, the file, the key."""
    return re.escape(f"load: {path}: key {key!r}:" if key else f"load: {path}")


@contextmanager
def peak_memory() -> Iterator[list[int]]:
    """The most memory (numpy's included) allocated inside the block, in bytes."""
    peak: list[int] = []
    tracemalloc.start()
    try:
        yield peak
    finally:
        peak.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()


def load_fails(path: Path, pattern: str, error: type[Exception] = nn.CheckpointError) -> int:
    """Assert that loading ``path`` raises ``error`` matching ``pattern``, leaving the file
    as it was; return the peak memory of the attempt."""
    before = path.read_bytes()
    with peak_memory() as peak, pytest.raises(error, match=pattern):
        nn.load(path)
    assert path.read_bytes() == before
    return peak[0]


# ---------------------------------------------------------------------------------------
# defect 1: a small file must not exhaust memory
# ---------------------------------------------------------------------------------------
def test_the_issue_bomb_of_three_unnamed_800_mib_members_is_refused_unread(
    tmp_path: Path,
) -> None:
    bombs = [deflate_bomb(f"x{i}.npy", npy_header("<f8", (100 * MIB,)), 800) for i in range(3)]
    path = write_zip(tmp_path / "bomb.npz", [a_structure(None), *bombs])
    assert path.stat().st_size < 3 * MIB
    pattern = prefix(path, "x0") + " the archive holds an array the structure does not name"
    assert load_fails(path, pattern) < 4 * MIB


def test_declared_sizes_over_max_bytes_are_refused_before_any_data_is_read(
    tmp_path: Path,
) -> None:
    """2.4 GiB declared (more than the default 2 GiB) by a 2.5 MB file."""
    structure = {"__dict__": {f"w{i}": {"__array__": f"a{i}"} for i in range(3)}}
    bombs = [deflate_bomb(f"a{i}.npy", npy_header("<f8", (100 * MIB,)), 800) for i in range(3)]
    path = write_zip(tmp_path / "big.npz", [a_structure(structure), *bombs])
    declared = 3 * 800 * MIB
    pattern = (
        prefix(path) + f": the arrays declare {declared} bytes, more than "
        rf"max_bytes={DEFAULT_MAX_BYTES} \(the largest, key 'a0' at checkpoint\.w0, "
        f"{800 * MIB} bytes\\); pass a larger max_bytes"
    )
    assert load_fails(path, pattern, nn.CheckpointTooLargeError) < 4 * MIB


@pytest.mark.parametrize("max_bytes", [DEFAULT_MAX_BYTES, 10**13])
def test_an_absurd_shape_allocates_nothing(tmp_path: Path, max_bytes: int) -> None:
    header = npy_header("<f8", (10**6, 10**6))  # 8 TB, and no data behind it
    path = write_zip(tmp_path / "absurd.npz", [a_structure(), stored("a0.npy", header)])
    pattern = (
        prefix(path, "a0") + r" the header declares 8000000000128 bytes \(dtype float64, "
        r"shape \(1000000, 1000000\)\), the archive lists 128"
    )
    with peak_memory() as peak, pytest.raises(nn.CheckpointError, match=pattern):
        nn.load(path, max_bytes=max_bytes)
    assert peak[0] < MIB


@pytest.mark.parametrize(("shape", "message"), [
    ((1,) * 100, "declares 100 dimensions"),
    ((0, 2**62, 2**62), r"declares an impossible shape \(0, 4611686018427387904"),
])  # fmt: skip
def test_a_shape_numpy_cannot_make_is_a_checkpoint_error(
    tmp_path: Path, shape: tuple[int, ...], message: str
) -> None:
    """Not numpy's own ValueError from the allocation: the file and the key are named."""
    member = stored("a0.npy", npy_header("<f8", shape))
    path = write_zip(tmp_path / "shape.npz", [a_structure(), member])
    load_fails(path, prefix(path, "a0") + " the .npy header " + message)


def test_a_bomb_behind_a_one_element_header_is_not_inflated(tmp_path: Path) -> None:
    bomb = deflate_bomb("a0.npy", npy(np.array([1.0])), 800)
    path = write_zip(tmp_path / "honest.npz", [a_structure(), bomb])
    pattern = prefix(path, "a0") + r" the header declares 136 bytes \(dtype float64, shape \(1,"
    assert load_fails(path, pattern) < MIB


def test_a_bomb_the_zip_directory_hides_is_never_inflated(tmp_path: Path) -> None:
    """The directory lists only the header's 136 bytes (and their CRC): zipfile stops
    there, so the 800 MiB of zeros behind them in the deflate stream stay compressed."""
    head = npy(np.array([1.0]))
    bomb = deflate_bomb("a0.npy", head, 800)
    hiding = dataclasses.replace(bomb, size=len(head), crc=zlib.crc32(head))
    path = write_zip(tmp_path / "hiding.npz", [a_structure(), hiding])
    with peak_memory() as peak:
        assert_same(nn.load(path), np.array([1.0]))
    assert peak[0] < MIB
    # with the CRC of everything, the 136 bytes read do not match it
    path = write_zip(tmp_path / "crc.npz", [a_structure(), dataclasses.replace(bomb, size=136)])
    assert load_fails(path, prefix(path, "a0") + " the member is damaged .*Bad CRC-32") < MIB


def test_the_structure_gets_a_64th_of_max_bytes(tmp_path: Path) -> None:
    limit = DEFAULT_MAX_BYTES // 64
    header = npy_header(f"<U{limit // 4 + 1}", ())  # one character more than the limit
    bomb = deflate_bomb(f"{STRUCTURE}.npy", header + bytes(4), limit // MIB)
    path = write_zip(tmp_path / "text.npz", [bomb])
    pattern = prefix(path, STRUCTURE) + f" the structure declares {limit + 4} bytes, more than "
    assert load_fails(path, pattern, nn.CheckpointTooLargeError) < MIB


def test_max_bytes_is_the_callers_to_raise(tmp_path: Path) -> None:
    obj = {"w": np.zeros(MIB // 8), "b": np.ones(3, dtype=np.int8)}
    nn.save(obj, tmp_path / "c.npz")
    needed = MIB + 3
    with pytest.raises(nn.CheckpointTooLargeError, match=f"declare {needed} bytes"):
        nn.load(tmp_path / "c.npz", max_bytes=needed - 1)
    assert_same(nn.load(tmp_path / "c.npz", max_bytes=needed), obj)
    assert_same(nn.load(tmp_path / "c.npz"), obj)
    assert issubclass(nn.CheckpointTooLargeError, nn.CheckpointError)


@pytest.mark.parametrize(
    ("max_bytes", "error"),
    [(1.5, TypeError), (True, TypeError), ("9", TypeError), (-1, ValueError)],
)
def test_max_bytes_must_be_a_count_of_bytes(
    tmp_path: Path, max_bytes: Any, error: type[Exception]
) -> None:
    nn.save(1, tmp_path / "c.npz")
    with pytest.raises(error, match="load: max_bytes must be"):
        nn.load(tmp_path / "c.npz", max_bytes=max_bytes)


def test_deflated_members_load(tmp_path: Path) -> None:
    """``save`` stores members uncompressed; an archive re-zipped with deflate still loads."""
    weights = np.arange(1000.0).reshape(10, 100)
    path = write_zip(tmp_path / "z.npz", [a_structure(), deflated("a0.npy", npy(weights))])
    assert_same(nn.load(path), weights)


def test_members_are_found_by_name_whatever_their_order(tmp_path: Path) -> None:
    structure = [{"__array__": "a0"}, {"__array__": "a1"}]
    members = [stored("a1.npy", npy([2])), a_structure(structure), stored("a0.npy", npy([1]))]
    path = write_zip(tmp_path / "order.npz", members)
    assert_same(nn.load(path), [np.array([1]), np.array([2])])


@pytest.mark.parametrize(
    "compression", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA], ids=["bzip2", "lzma"]
)
def test_compression_other_than_deflate_is_refused(tmp_path: Path, compression: int) -> None:
    path = tmp_path / "c.npz"
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        archive.writestr(f"{STRUCTURE}.npy", structure_npy(None))
    load_fails(
        path, prefix(path, STRUCTURE) + f" the member uses compression method {compression}"
    )


# ---------------------------------------------------------------------------------------
# the structure member: strict schema, clean errors
# ---------------------------------------------------------------------------------------
def doc(structure: str) -> str:
    return '{"format": "sg-checkpoint-1", "structure": ' + structure + "}"


def deep_list_text(depth: int) -> str:
    return '{"format": "sg-checkpoint-1", "structure": ' + "[" * depth + "]" * depth + "}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "the structure is not valid JSON"),
        ("", "the structure is not valid JSON"),
        ("[1, 2]", "the structure is a JSON list, not an object"),
        ('{"structure": null}', "unknown format None"),
        ('{"format": "sg-checkpoint-2", "structure": null}', "unknown format 'sg-checkpoint-2'"),
        ('{"format": "sg-checkpoint-1"}', r"the structure's keys are \['format'\], not"),
        (
            '{"format": "sg-checkpoint-1", "structure": 1, "x": 2}',
            r"the structure's keys are \['format', 'structure', 'x'\]",
        ),
        (doc('{"x": 1}'), r"unexpected object at checkpoint with keys \['x'\]"),
        (
            doc('{"__dict__": [1]}'),
            "__dict__ at checkpoint is a list",
        ),
        (
            doc('{"__dict__": {}, "__array__": "a0"}'),
            r"unexpected object at checkpoint with keys \['__array__', '__dict__'\]",
        ),
        (doc('{"__array__": 3}'), "bad array reference 3"),
        (
            doc('{"__array__": "__sg_structure__"}'),
            "bad array reference '__sg_structure__' at checkpoint",
        ),
        (
            doc('[{"__array__": "a0"}, {"__array__": "a0"}]'),
            r"array 'a0' is referred to twice, at checkpoint\[0\] and checkpoint\[1\]",
        ),
        (
            '{"format": "sg-checkpoint-1", "format": "x", "structure": 1}',
            "the structure repeats the key 'format'",
        ),
        (
            deep_list_text(MAX_DEPTH + 1),
            "the structure nests more than 100 dicts and lists at",
        ),
        (deep_list_text(100_000), "the structure is nested too deeply"),
    ],
)
def test_a_malformed_structure_names_the_file_and_the_structure_key(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write_zip(
        tmp_path / "bad.npz",
        [stored(f"{STRUCTURE}.npy", text_npy(text)), stored("a0.npy", npy(1))],
    )
    load_fails(path, prefix(path, STRUCTURE) + " " + message)


def test_the_deepest_allowed_structure_still_loads(tmp_path: Path) -> None:
    path = write_zip(
        tmp_path / "deep.npz", [stored(f"{STRUCTURE}.npy", text_npy(deep_list_text(MAX_DEPTH)))]
    )
    loaded = nn.load(path)
    for _ in range(MAX_DEPTH - 1):
        (loaded,) = loaded
    assert loaded == []


@pytest.mark.parametrize(
    ("structure_member", "message"),
    [
        (npy(np.array([1.0])), r"the structure must be text, got dtype float64 and shape \(1,\)"),
        (npy(np.array(["a", "b"])), r"the structure must be text, got dtype <U1 and shape \(2,\)"),
        (b"plain bytes, not .npy", r"not a \.npy array"),
    ],
)
def test_a_structure_member_that_is_not_one_text(
    tmp_path: Path, structure_member: bytes, message: str
) -> None:
    path = write_zip(tmp_path / "s.npz", [stored(f"{STRUCTURE}.npy", structure_member)])
    load_fails(path, prefix(path, STRUCTURE) + " " + message)


# ---------------------------------------------------------------------------------------
# members: exactly those the structure names, each once
# ---------------------------------------------------------------------------------------
def test_a_member_the_structure_does_not_name_is_refused(tmp_path: Path) -> None:
    members = [a_structure(), stored("a0.npy", npy(1.0)), stored("a1.npy", npy(2.0))]
    path = write_zip(tmp_path / "extra.npz", members)
    load_fails(path, prefix(path, "a1") + " the archive holds an array the structure does not")


def test_a_member_the_structure_names_must_exist(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "missing.npz", [a_structure()])
    load_fails(path, prefix(path, "a0") + " the structure names an array the archive lacks")


@pytest.mark.parametrize("name", ["a0.npy", f"{STRUCTURE}.npy"])
def test_a_duplicated_member_is_refused(tmp_path: Path, name: str) -> None:
    members = [a_structure(), stored("a0.npy", npy(1.0))]
    members.append(dataclasses.replace(next(m for m in members if m.name == name)))
    path = write_zip(tmp_path / "twice.npz", members)
    load_fails(path, prefix(path) + f": the archive holds member '{name}' more than once")


# ---------------------------------------------------------------------------------------
# defect 8: values keep their type; non-numeric arrays are refused
# ---------------------------------------------------------------------------------------
def test_a_member_that_is_not_npy_is_refused_not_returned_as_bytes(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "raw.npz", [a_structure(), stored("a0", b"\x00" * 8)])
    load_fails(path, prefix(path, "a0") + r" the member is not an array \(its name lacks \.npy\)")


NON_NUMERIC = {
    "text": np.array(["1.5", "2"]),
    "bytes": np.array([b"1"]),
    "datetime": np.array(["2024-01-01"], dtype="datetime64[D]"),
    "timedelta": np.array([1], dtype="timedelta64[s]"),
    "void": np.zeros(2, dtype="V4"),
    "structured": np.zeros(2, dtype=[("x", "<f8"), ("y", "<i4")]),
}


@pytest.mark.parametrize("kind", sorted(NON_NUMERIC))
def test_a_non_numeric_array_is_refused_naming_its_key(tmp_path: Path, kind: str) -> None:
    members = [a_structure({"__dict__": {"w": REF}}), stored("a0.npy", npy(NON_NUMERIC[kind]))]
    path = write_zip(tmp_path / "typed.npz", members)
    if kind == "text":  # a text array has a dtype the structure member may have
        message = r"array at checkpoint\.w has dtype <U3; checkpoints hold only bool, integer"
    else:
        message = r"dtype .* is not supported \(checkpoints hold only bool, integer, float"
    load_fails(path, prefix(path, "a0") + " " + message)


def test_an_object_array_is_refused_before_its_pickle_is_read(tmp_path: Path) -> None:
    member = stored("a0.npy", npy_header("|O", (1,)) + b"\x80\x04not even a pickle")
    path = write_zip(tmp_path / "object.npz", [a_structure(), member])
    load_fails(path, prefix(path, "a0") + " dtype |O is not supported")


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (npy_header("<f8", (-1,)), r"bad shape \(-1,\)"),
        (npy_header("<f8", (2.0,)), r"bad shape \(2\.0,\)"),
        (npy_header("<f8", (True,)), r"bad shape \(True,\)"),
        (npy_header("<f8", [2]), r"bad shape \[2\]"),
        (npy_header("<f8", (2,), fortran_order=1), "bad fortran_order 1"),
        (npy_header("<f7", (2,)), "unknown dtype '<f7'"),
        (npy_header(["<f8"], (2,)), r"dtype \['<f8'\] is not supported"),
        (b"\x93NUMPY\x01\x00\x10\x27" + b" " * 16, "the member ends early"),
        (b"\x93NUMPY\x02\x00\xff\xff\xff\xff", "the .npy header claims 4294967295 bytes"),
        (b"\x93NUMPY\x09\x00", r"not a \.npy array"),
        (
            npy(1.0)[:10] + b"{'descr': '<f8', 'shape': ()}".ljust(118),
            "the .npy header is not numpy's",
        ),
        (npy(1.0)[:10] + b"{{{{".ljust(118), "the .npy header is not a Python literal"),
    ],
)
def test_a_malformed_npy_header_is_refused(tmp_path: Path, header: bytes, message: str) -> None:
    path = write_zip(tmp_path / "h.npz", [a_structure(), stored("a0.npy", header)])
    load_fails(path, prefix(path, "a0") + " " + message)


# ---------------------------------------------------------------------------------------
# damaged files
# ---------------------------------------------------------------------------------------
def saved_bytes(tmp_path: Path) -> bytes:
    nn.save({"w": np.arange(6.0).reshape(2, 3), "step": 3}, tmp_path / "good.npz")
    return (tmp_path / "good.npz").read_bytes()


def test_a_flipped_data_byte_fails_the_crc(tmp_path: Path) -> None:
    data = bytearray(saved_bytes(tmp_path))
    at = data.index(np.arange(6.0).tobytes())
    data[at + 3] ^= 0x10
    path = tmp_path / "flipped.npz"
    path.write_bytes(bytes(data))
    load_fails(path, prefix(path, "a0") + r" the member is damaged \(BadZipFile: Bad CRC-32")


@pytest.mark.parametrize("keep", [0, 4, 30, 200, 0.5, -22, -1])
def test_a_truncated_file_is_a_checkpoint_error(tmp_path: Path, keep: float) -> None:
    data = saved_bytes(tmp_path)
    cut = int(len(data) * keep) if isinstance(keep, float) else keep % len(data)
    path = tmp_path / "cut.npz"
    path.write_bytes(data[:cut])
    load_fails(path, prefix(path) + r"( is not an sg checkpoint|: key)")


def test_an_npz_written_by_numpy_with_our_names_but_no_structure(tmp_path: Path) -> None:
    path = tmp_path / "plain.npz"
    np.savez(path, a0=np.ones(2))
    load_fails(path, prefix(path) + r" is not an sg checkpoint \(no __sg_structure__\)")


def test_random_bytes_are_not_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "noise.npz"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    load_fails(path, prefix(path) + r" is not an sg checkpoint \(not an \.npz archive")


def test_the_hand_written_archives_are_valid_zip_files() -> None:
    """The archives the tests above build are ones zipfile reads back, CRCs included."""
    members = [a_structure(), deflated("a0.npy", npy([1, 2])), deflate_bomb("b.npy", b"x", 3)]
    with zipfile.ZipFile(io.BytesIO(zip_bytes(members))) as archive:
        assert archive.testzip() is None
        assert [i.filename for i in archive.infolist()] == [f"{STRUCTURE}.npy", "a0.npy", "b.npy"]
        assert archive.read("b.npy") == b"x" + bytes(3 * MIB)
