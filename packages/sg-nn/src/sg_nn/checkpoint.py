"""Checkpoints: ``save(obj, path)`` and ``load(path)`` in numpy's ``.npz`` format.

A checkpoint holds nested dicts and lists of arrays, numbers, strings, booleans and
``None`` (a model's ``state_dict()``, an optimizer's, a generator's state, a step
count). Arrays are stored as ``.npy`` members of a zip archive; the structure around
them is stored as JSON text in one more member.

Saving writes a temporary file next to the target and moves it into place with
``os.replace``, so a failed save leaves any previous checkpoint intact. A ``path`` that
is a symbolic link is followed: the file it points to is replaced, the link stays.

Loading trusts nothing in the file. It never unpickles and never runs code; it reads
each ``.npy`` header before the data behind it and refuses, with a
:class:`CheckpointError` naming the file and the member, anything :func:`save` does not
write: members the structure does not name (or names twice), non-numeric dtypes,
compression other than deflate, malformed structures or ones nested deeper than
:data:`MAX_DEPTH`, and declared sizes that add up to more than ``max_bytes``
(:data:`DEFAULT_MAX_BYTES`, 2 GiB, unless the caller raises it). Members are read one at
a time, a mebibyte at a time, so a deflate bomb is never inflated past what its header
declares.
"""

from __future__ import annotations

import ast
import errno
import json
import math
import os
import re
import secrets
import stat
import struct
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import numpy as np

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MAX_DEPTH",
    "CheckpointError",
    "CheckpointTooLargeError",
    "load",
    "save",
]

DEFAULT_MAX_BYTES = 2 * 1024**3
"""What :func:`load` may allocate by default: 2 GiB of declared array data."""

MAX_DEPTH = 100
"""How many dicts and lists a checkpoint may nest, one inside the other."""

_T = TypeVar("_T")
_STRUCTURE = "__sg_structure__"
_FORMAT = "sg-checkpoint-1"
# JSON text costs far more memory once parsed than an array of the same size costs, so
# the structure member gets only this share of max_bytes (32 MiB, 8M characters, by default).
_STRUCTURE_SHARE = 64
_NUMERIC_KINDS = "biufc"
_MAX_NPY_HEADER = 10_000  # numpy's own limit on the length of a .npy header
_NPY_MAGIC = b"\x93NUMPY"
_NPY_VERSIONS = {1: ("<H", "latin1"), 2: ("<I", "latin1"), 3: ("<I", "utf8")}
# The dtypes a member may have: numbers, and text for the structure ('<f8', '|b1', '<U12')
_SIMPLE_DESCR = re.compile(r"[<>|=]?[biufcU]\d+")
_CHUNK = 1 << 20  # members are inflated and copied a mebibyte at a time
# What the zip and zlib modules raise on damaged bytes (OSError: a seek to a bad offset).
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    struct.error,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    RuntimeError,
    OverflowError,
)


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded: a file :func:`save` did not write (or that was
    damaged since), or a state dict that does not fit the module. The message names the
    file (or the module) and the key at fault."""


class CheckpointTooLargeError(CheckpointError):
    """A checkpoint whose arrays declare more memory than ``load``'s ``max_bytes``."""


class _MemberError(Exception):
    """A problem found in one member; the archive adds the file's name and the key."""


# ---------------------------------------------------------------------------------------
# save
# ---------------------------------------------------------------------------------------
def save(obj: Any, path: str | os.PathLike[str]) -> None:
    """Write ``obj`` (nested dicts with string keys, lists, tuples, arrays, tensors,
    numbers, strings, booleans, ``None``) to ``path`` atomically.

    The checkpoint goes to a temporary file in the target's directory, which then
    replaces the target: readers see the old file or the new one, and a failed save
    leaves the old one untouched. A new file gets the usual mode (``0o666`` less the
    umask); a file replaced keeps its mode (a private checkpoint stays private), and one
    the caller may not write is refused, as ``open(path, "w")`` refuses it. If ``path``
    is a symbolic link, the file it points to is replaced and the link is kept. Raises
    ``TypeError`` for a value a checkpoint cannot hold and ``ValueError`` for nesting
    deeper than :data:`MAX_DEPTH`, before writing anything.
    """
    arrays: dict[str, np.ndarray] = {}
    structure = _encode(obj, arrays, "checkpoint", 0)
    header = json.dumps({"format": _FORMAT, "structure": structure})
    name = os.fspath(path)
    # Path() would drop a final separator (or "/."): a file named as the directory
    if name.endswith(("/", os.sep)) or os.path.basename(name) in (".", ".."):
        raise IsADirectoryError(errno.EISDIR, "save: the path names a directory", name)
    target = _follow_links(Path(path))
    mode = _mode_to_keep(target)
    fd, tmp_path = _create_temp_file(target)
    try:
        if mode is not None:
            os.chmod(tmp_path, mode)
        with os.fdopen(fd, "wb") as f:
            members = {_STRUCTURE: np.array(header), **arrays}
            np.savez(f, **members)  # type: ignore[arg-type]
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, target)
    except BaseException:
        if os.path.lexists(tmp_path):
            os.unlink(tmp_path)
        raise


def _encode(obj: Any, arrays: dict[str, np.ndarray], where: str, depth: int) -> Any:
    """Replace every array by a reference ``{"__array__": key}`` and check every leaf."""
    if isinstance(obj, (dict, list, tuple)) and depth >= MAX_DEPTH:
        raise ValueError(
            f"save: the checkpoint nests more than {MAX_DEPTH} dicts and lists at {where} "
            "(a list or dict that contains itself?)"
        )
    if isinstance(obj, dict):
        for key in obj:
            if not isinstance(key, str):
                raise TypeError(f"save: dictionary keys must be strings, got {key!r} at {where}")
        return {
            "__dict__": {k: _encode(v, arrays, f"{where}.{k}", depth + 1) for k, v in obj.items()}
        }
    if isinstance(obj, (list, tuple)):
        return [_encode(v, arrays, f"{where}[{i}]", depth + 1) for i, v in enumerate(obj)]
    if hasattr(obj, "data") and isinstance(getattr(obj, "data", None), np.ndarray):
        obj = obj.data  # a Tensor or Parameter
    if isinstance(obj, (np.ndarray, np.generic)) and not isinstance(obj, np.str_):
        array = np.asarray(obj)
        if array.dtype.kind not in _NUMERIC_KINDS:
            raise TypeError(f"save: cannot store an array of dtype {array.dtype} at {where}")
        key = f"a{len(arrays)}"
        arrays[key] = array
        return {"__array__": key}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(
        f"save: cannot store a {type(obj).__name__} at {where} (checkpoints hold dicts, "
        "lists, arrays, numbers, strings, booleans and None)"
    )


def _follow_links(target: Path) -> Path:
    """The file a save to ``target`` must replace: ``target`` itself, or the file at the
    end of its chain of symbolic links (which may not exist yet)."""
    if not target.is_symlink():
        return target
    resolved = Path(os.path.realpath(target))
    if resolved.is_symlink():  # realpath stops inside a loop of links
        raise OSError(errno.ELOOP, "save: a loop of symbolic links", str(target))
    return resolved


def _mode_to_keep(target: Path) -> int | None:
    """The permission bits of the file a save replaces (``None`` if there is none), once
    the caller may write it."""
    try:
        info = os.stat(target)
    except FileNotFoundError:
        return None
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(errno.EISDIR, "save: the path is a directory", str(target))
    if not stat.S_ISREG(info.st_mode):  # a device or a pipe would be replaced by a file
        raise OSError(errno.EINVAL, "save: the path is not a regular file", str(target))
    if not os.access(target, os.W_OK):
        raise PermissionError(errno.EACCES, "save: the file is not writable", str(target))
    return stat.S_IMODE(info.st_mode) & 0o777  # (not setuid, setgid or sticky bits)


def _create_temp_file(target: Path) -> tuple[int, str]:
    """A new, empty file beside ``target``, open for writing, with a fresh name.

    It is created with mode 0o666 and the kernel removes the umask's bits (or applies
    the directory's default ACL), which gives exactly the mode a plain ``open(path, "w")``
    gives. That way the mode never has to be computed: reading the umask means setting
    it, and the umask is process-wide, so another thread would create files under a
    wrong mask in the meantime.
    """
    directory = target.parent
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        name = directory / f".{target.name}.{secrets.token_hex(6)}.tmp"
        try:
            return os.open(name, flags, 0o666), str(name)
        except FileExistsError:
            continue
    raise FileExistsError(f"save: no free temporary file name in {directory}")


# ---------------------------------------------------------------------------------------
# load
# ---------------------------------------------------------------------------------------
def load(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    """Read a checkpoint written by :func:`save` (arrays come back as numpy arrays,
    tuples as lists).

    ``max_bytes`` bounds what the load may allocate: the sizes the arrays declare in
    their headers are added up before any data is read (the JSON structure may declare
    at most ``max_bytes // 64``). Raise it to load a checkpoint you trust that is larger.

    Raises :class:`CheckpointTooLargeError` over the limit, :class:`CheckpointError` (a
    ``ValueError``) naming the file and the key for anything :func:`save` does not
    write, and ``OSError`` when the file cannot be opened.
    """
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int):
        raise TypeError(f"load: max_bytes must be an int, got {type(max_bytes).__name__}")
    if max_bytes < 0:
        raise ValueError(f"load: max_bytes must be at least 0, got {max_bytes}")
    mode = os.stat(path).st_mode
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "load: the path is a directory", os.fspath(path))
    if not stat.S_ISREG(mode):  # a device or a pipe: endless, or blocking
        raise CheckpointError(f"load: {os.fspath(path)!r} is not a regular file")
    with open(path, "rb") as file:
        archive = _Archive(os.fspath(path), file)
        with archive.zip:
            return _load(archive, max_bytes)


def _load(archive: _Archive, max_bytes: int) -> Any:
    structure, where = _read_structure(archive, max_bytes // _STRUCTURE_SHARE)
    archive.check_members(expected=set(where))
    headers = {key: archive.header(key) for key in where}
    for key, header in headers.items():
        if header.dtype.kind not in _NUMERIC_KINDS:
            raise archive.error(
                f"array at {where[key]} has dtype {header.dtype}; checkpoints hold only "
                "bool, integer, float and complex arrays",
                key,
            )
    _check_total_size(archive, headers, where, max_bytes)
    arrays = {key: archive.read(key, header) for key, header in headers.items()}
    return _build(structure, arrays)


def _read_structure(archive: _Archive, limit: int) -> tuple[Any, dict[str, str]]:
    """The validated structure and, for each array it refers to, where it sits."""
    if _STRUCTURE not in archive.members:
        raise CheckpointError(f"load: {archive.name} is not an sg checkpoint (no {_STRUCTURE})")
    header = archive.header(_STRUCTURE)
    if header.dtype.kind != "U" or header.shape != ():
        raise archive.error(
            f"the structure must be text, got dtype {header.dtype} and shape {header.shape}",
            _STRUCTURE,
        )
    if header.nbytes > limit:
        raise CheckpointTooLargeError(
            f"load: {archive.name}: key {_STRUCTURE!r}: the structure declares "
            f"{header.nbytes} bytes, more than max_bytes // {_STRUCTURE_SHARE} = {limit}; "
            "pass a larger max_bytes if you trust the file"
        )
    text = str(archive.read(_STRUCTURE, header)[()])
    try:
        document = json.loads(text, object_pairs_hook=_unique_keys)
        structure = _check_document(document)
        where: dict[str, str] = {}
        _check_node(structure, "checkpoint", 0, where)
    except _MemberError as err:
        raise archive.error(str(err), _STRUCTURE) from None
    except RecursionError:
        raise archive.error("the structure is nested too deeply", _STRUCTURE) from None
    except ValueError as err:  # malformed JSON, or an integer too long to convert
        raise archive.error(f"the structure is not valid JSON ({err})", _STRUCTURE) from None
    return structure, where


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _MemberError(f"the structure repeats the key {key!r} in one object")
        result[key] = value
    return result


def _check_document(document: Any) -> Any:
    if not isinstance(document, dict):
        raise _MemberError(f"the structure is a JSON {type(document).__name__}, not an object")
    if document.get("format") != _FORMAT:
        raise _MemberError(f"unknown format {document.get('format')!r}")
    if document.keys() != {"format", "structure"}:
        keys = sorted(document)[:5]
        raise _MemberError(f"the structure's keys are {keys}, not ['format', 'structure']")
    return document["structure"]


def _check_node(node: Any, where: str, depth: int, arrays: dict[str, str]) -> None:
    """Check one node of the JSON structure (recursively) against what ``_encode``
    writes, and record in ``arrays`` where each array reference sits."""
    if node is None or isinstance(node, (bool, int, float, str)):
        return
    if isinstance(node, dict) and node.keys() == {"__array__"}:
        _check_reference(node["__array__"], where, arrays)
        return
    if depth >= MAX_DEPTH:
        raise _MemberError(f"the structure nests more than {MAX_DEPTH} dicts and lists at {where}")
    if isinstance(node, list):
        for i, item in enumerate(node):
            _check_node(item, f"{where}[{i}]", depth + 1, arrays)
    elif isinstance(node, dict) and node.keys() == {"__dict__"}:
        if not isinstance(node["__dict__"], dict):
            raise _MemberError(f"__dict__ at {where} is a {type(node['__dict__']).__name__}")
        for key, value in node["__dict__"].items():
            _check_node(value, f"{where}.{key}", depth + 1, arrays)
    else:
        raise _MemberError(f"unexpected object at {where} with keys {sorted(node)[:5]}")


def _check_reference(key: Any, where: str, arrays: dict[str, str]) -> None:
    if not isinstance(key, str) or not key or key == _STRUCTURE:
        raise _MemberError(f"bad array reference {key!r} at {where}")
    if key in arrays:
        raise _MemberError(f"array {key!r} is referred to twice, at {arrays[key]} and {where}")
    arrays[key] = where


def _check_total_size(
    archive: _Archive, headers: dict[str, _NpyHeader], where: dict[str, str], max_bytes: int
) -> None:
    total = sum(header.nbytes for header in headers.values())
    if total <= max_bytes:
        return
    largest = max(headers, key=lambda key: headers[key].nbytes)
    raise CheckpointTooLargeError(
        f"load: {archive.name}: the arrays declare {total} bytes, more than "
        f"max_bytes={max_bytes} (the largest, key {largest!r} at {where[largest]}, "
        f"{headers[largest].nbytes} bytes); pass a larger max_bytes if you trust the file"
    )


def _build(node: Any, arrays: dict[str, np.ndarray]) -> Any:
    """The checkpoint's value from a structure that ``_check_node`` accepted."""
    if isinstance(node, list):
        return [_build(item, arrays) for item in node]
    if isinstance(node, dict):
        if "__array__" in node:
            return arrays[node["__array__"]]
        return {key: _build(value, arrays) for key, value in node["__dict__"].items()}
    return node


# ---------------------------------------------------------------------------------------
# the archive: members read lazily, one .npy header at a time
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _NpyHeader:
    dtype: np.dtype[Any]
    shape: tuple[int, ...]
    fortran_order: bool
    size: int  # how many bytes the header takes, up to the data

    @property
    def count(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.count * self.dtype.itemsize


class _Archive:
    """The ``.npy`` members of one checkpoint file, by key (the name without ``.npy``)."""

    def __init__(self, name: str, file: IO[bytes]) -> None:
        self.name = name
        self.file_size = os.fstat(file.fileno()).st_size
        try:
            self.zip = zipfile.ZipFile(file)
            infos = self.zip.infolist()
        except _ZIP_ERRORS as err:
            message = f"load: {name} is not an sg checkpoint (not an .npz archive: {err})"
            raise CheckpointError(message) from None
        self.members = self._index(infos)

    def error(self, message: str, key: str | None = None) -> CheckpointError:
        where = f" key {key!r}:" if key is not None else ""
        return CheckpointError(f"load: {self.name}:{where} {message}")

    def _index(self, infos: list[zipfile.ZipInfo]) -> dict[str, zipfile.ZipInfo]:
        repeated = [name for name, n in Counter(i.filename for i in infos).items() if n > 1]
        if repeated:
            raise self.error(f"the archive holds member {repeated[0]!r} more than once")
        others = [i.filename for i in infos if not i.filename.endswith(".npy")]
        if others:
            raise self.error("the member is not an array (its name lacks .npy)", others[0])
        return {info.filename[: -len(".npy")]: info for info in infos}

    def check_members(self, expected: set[str]) -> None:
        """Refuse members the structure does not name, and names without a member."""
        missing = sorted(expected - self.members.keys())
        if missing:
            raise self.error("the structure names an array the archive lacks", missing[0])
        unnamed = sorted(self.members.keys() - expected - {_STRUCTURE})
        if unnamed:
            raise self.error("the archive holds an array the structure does not name", unnamed[0])

    def header(self, key: str) -> _NpyHeader:
        """The checked ``.npy`` header of a member (its data is not read)."""
        with self._open(key) as stream:
            header = self._guard(key, _read_npy_header, stream)
        info = self.members[key]
        if info.file_size != header.size + header.nbytes:
            raise self.error(
                f"the header declares {header.size + header.nbytes} bytes "
                f"(dtype {header.dtype}, shape {header.shape}), the archive lists "
                f"{info.file_size}",
                key,
            )
        if info.compress_size > self.file_size:
            raise self.error(f"the member is larger than the file ({self.file_size} bytes)", key)
        return header

    def read(self, key: str, header: _NpyHeader) -> np.ndarray:
        """The member's array; exactly the bytes its header declares, CRC checked."""
        with self._open(key) as stream:
            self._guard(key, _read_exactly, stream, header.size)
            flat: np.ndarray = np.empty(header.count, dtype=header.dtype)
            self._guard(key, _read_into, stream, flat.view(np.uint8))
            if self._guard(key, stream.read, 1):  # reading to the end also checks the CRC
                raise self.error("the member holds more data than its header declares", key)
        if header.fortran_order:  # stored column by column: the transpose's rows
            return np.transpose(flat.reshape(header.shape[::-1]))
        return flat.reshape(header.shape)

    @contextmanager
    def _open(self, key: str) -> Iterator[IO[bytes]]:
        info = self.members[key]
        if info.flag_bits & 0x1:
            raise self.error("the member is encrypted", key)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise self.error(f"the member uses compression method {info.compress_type}", key)
        stream = self._guard(key, self.zip.open, info)
        try:
            yield stream
        finally:
            stream.close()

    def _guard(self, key: str, function: Callable[..., _T], *args: Any) -> _T:
        """``function(*args)``, with damaged bytes reported as a CheckpointError."""
        try:
            return function(*args)
        except _MemberError as err:
            raise self.error(str(err), key) from None
        except CheckpointError:
            raise
        except _ZIP_ERRORS as err:
            raise self.error(f"the member is damaged ({type(err).__name__}: {err})", key) from err


def _read_npy_header(stream: IO[bytes]) -> _NpyHeader:
    """Parse a ``.npy`` header with bounded reads (numpy's reader trusts its length)."""
    magic = _read_exactly(stream, 8)
    if magic[:6] != _NPY_MAGIC or magic[6] not in _NPY_VERSIONS or magic[7] != 0:
        raise _MemberError(f"not a .npy array (starts with {magic!r})")
    length_format, encoding = _NPY_VERSIONS[magic[6]]
    length_bytes = _read_exactly(stream, struct.calcsize(length_format))
    (length,) = struct.unpack(length_format, length_bytes)
    if length > _MAX_NPY_HEADER:
        raise _MemberError(f"the .npy header claims {length} bytes (at most {_MAX_NPY_HEADER})")
    text = _read_exactly(stream, length).decode(encoding, errors="replace")
    try:
        fields = ast.literal_eval(text)
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        raise _MemberError(f"the .npy header is not a Python literal: {text[:80]!r}") from None
    dtype, shape, fortran_order = _check_npy_fields(fields)
    return _NpyHeader(dtype, shape, fortran_order, len(magic) + len(length_bytes) + length)


def _check_npy_fields(fields: Any) -> tuple[np.dtype[Any], tuple[int, ...], bool]:
    if not isinstance(fields, dict) or fields.keys() != {"descr", "fortran_order", "shape"}:
        raise _MemberError(f"the .npy header is not numpy's: {str(fields)[:80]}")
    descr, shape, fortran_order = fields["descr"], fields["shape"], fields["fortran_order"]
    if not isinstance(descr, str) or not _SIMPLE_DESCR.fullmatch(descr):
        raise _MemberError(
            f"dtype {str(descr)[:80]} is not supported (checkpoints hold only bool, "
            "integer, float and complex arrays)"
        )
    try:
        dtype = np.dtype(descr)
    except (TypeError, ValueError, OverflowError):
        raise _MemberError(f"unknown dtype {descr!r}") from None
    if not isinstance(shape, tuple) or not all(type(n) is int and 0 <= n < 2**63 for n in shape):
        raise _MemberError(f"bad shape {str(shape)[:80]} in the .npy header")
    if len(shape) > _MAX_DIMS:
        raise _MemberError(f"the .npy header declares {len(shape)} dimensions (numpy takes "
                           f"at most {_MAX_DIMS})")  # fmt: skip
    if math.prod(n for n in shape if n) * dtype.itemsize >= 2**63:  # numpy refuses it too
        raise _MemberError(f"the .npy header declares an impossible shape {str(shape)[:80]}")
    if not isinstance(fortran_order, bool):
        raise _MemberError(f"bad fortran_order {fortran_order!r} in the .npy header")
    return dtype, shape, fortran_order


def _numpy_max_dims() -> int:
    """The most dimensions an array may have here (numpy 2: 64, numpy 1: 32)."""
    try:
        np.empty((1,) * 64)
    except ValueError:
        return 32
    return 64


_MAX_DIMS = _numpy_max_dims()


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise _MemberError(f"the member ends early ({len(data)} of {size} bytes)")
    return data


def _read_into(stream: IO[bytes], buffer: np.ndarray) -> None:
    """Fill ``buffer`` (bytes) from ``stream`` a chunk at a time: no second full copy."""
    filled = 0
    while filled < buffer.size:
        chunk = stream.read(min(_CHUNK, buffer.size - filled))
        if not chunk:
            raise _MemberError(f"the member ends early ({filled} of {buffer.size} data bytes)")
        buffer[filled : filled + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
        filled += len(chunk)
