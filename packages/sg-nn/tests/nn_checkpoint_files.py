"""Helpers for the checkpoint tests: exact comparison of loaded values, and checkpoint
files built byte by byte (the zip and .npy layouts written here, not by sg-nn), so that
tests can make archives ``save`` never writes: duplicated or extra members, hostile
headers, deflate bombs.
"""

from __future__ import annotations

import functools
import io
import json
import math
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sg_tensor import Tensor

STRUCTURE = "__sg_structure__"
FORMAT = "sg-checkpoint-1"
MIB = 1 << 20


# ---------------------------------------------------------------------------------------
# comparing what was loaded with what was saved
# ---------------------------------------------------------------------------------------
def assert_same(loaded: Any, original: Any, where: str = "obj") -> None:
    """Exact equality, types included (bool stays bool, int stays int, nan stays nan)."""
    if isinstance(original, (Tensor, np.ndarray, np.generic)):
        expected = np.asarray(original.data if isinstance(original, Tensor) else original)
        assert isinstance(loaded, np.ndarray), where
        assert loaded.dtype == expected.dtype, where
        assert loaded.shape == expected.shape, where
        assert loaded.tobytes() == expected.tobytes(), where
    elif isinstance(original, dict):
        assert isinstance(loaded, dict), where
        assert list(loaded) == list(original), where
        for key in original:
            assert_same(loaded[key], original[key], f"{where}[{key!r}]")
    elif isinstance(original, (list, tuple)):
        assert isinstance(loaded, list), where
        assert len(loaded) == len(original), where
        for i, (a, b) in enumerate(zip(loaded, original)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(original, float) and math.isnan(original):
        assert isinstance(loaded, float), where
        assert math.isnan(loaded), where
    else:
        assert type(loaded) is type(original), where
        assert loaded == original, where


# ---------------------------------------------------------------------------------------
# .npy members
# ---------------------------------------------------------------------------------------
def npy(array: Any) -> bytes:
    """The ``.npy`` bytes numpy writes for ``array`` (no pickles)."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def npy_header(descr: Any, shape: Any, fortran_order: Any = False) -> bytes:
    """A version 1.0 ``.npy`` header declaring anything, padded like numpy's."""
    text = repr({"descr": descr, "fortran_order": fortran_order, "shape": shape})
    text += " " * (63 - (10 + len(text)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1")


def structure_npy(structure: Any, **document: Any) -> bytes:
    """The structure member for ``structure`` (a JSON-ready tree, as ``save`` encodes)."""
    return npy(np.array(json.dumps({"format": FORMAT, "structure": structure, **document})))


def text_npy(text: str) -> bytes:
    """The structure member holding any text at all."""
    return npy(np.array(text))


# ---------------------------------------------------------------------------------------
# zip archives, written by hand
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Member:
    name: str
    data: bytes  # as stored in the archive (compressed for ZIP_DEFLATED)
    crc: int
    size: int  # uncompressed
    method: int = zipfile.ZIP_STORED


def stored(name: str, payload: bytes) -> Member:
    return Member(name, payload, zlib.crc32(payload), len(payload))


def deflated(name: str, payload: bytes) -> Member:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = compressor.compress(payload) + compressor.flush()
    return Member(name, data, zlib.crc32(payload), len(payload), zipfile.ZIP_DEFLATED)


def deflate_bomb(name: str, prefix: bytes, mebibytes_of_zeros: int) -> Member:
    """``prefix`` then zeros, deflated to about a thousandth of their size (a few KiB
    per MiB), made in milliseconds: after a full flush the compressor's output for each
    further MiB of zeros is the same block, so the block is repeated, not recomputed."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(bytes(MIB)) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail = compressor.flush()
    data = head + block * mebibytes_of_zeros + tail
    crc = _crc_of_zeros(mebibytes_of_zeros, zlib.crc32(prefix))
    size = len(prefix) + mebibytes_of_zeros * MIB
    return Member(name, data, crc, size, zipfile.ZIP_DEFLATED)


@functools.cache
def _crc_of_zeros(mebibytes: int, crc: int) -> int:
    zeros = bytes(MIB)
    for _ in range(mebibytes):
        crc = zlib.crc32(zeros, crc)
    return crc


def zip_bytes(members: list[Member]) -> bytes:
    """A zip archive of ``members``, in order, duplicates kept (as zipfile would not)."""
    out, central = io.BytesIO(), []
    for m in members:
        name = m.name.encode()
        offset = out.tell()
        common = (20, 0, m.method, 0, 0x21, m.crc, len(m.data), m.size, len(name))
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, *common, 0) + name + m.data)
        central.append(
            struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, *common, 0, 0, 0, 0, 0, offset)
            + name
        )
    directory = b"".join(central)
    start = out.tell()
    out.write(directory)
    n = len(members)
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, len(directory), start, 0))
    return out.getvalue()


def write_zip(path: Path, members: list[Member]) -> Path:
    path.write_bytes(zip_bytes(members))
    return path


def checkpoint_members(data: bytes) -> list[tuple[str, bytes]]:
    """The (name, uncompressed bytes) of every member of an archive, in order."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]
