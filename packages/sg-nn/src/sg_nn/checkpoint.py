"""Checkpoints: ``save(obj, path)`` and ``load(path)`` in numpy's ``.npz`` format.

A checkpoint holds nested dicts and lists of arrays, numbers, strings, booleans and
``None`` (a model's ``state_dict()``, an optimizer's, a generator's state, a step
count). Arrays are stored as ``.npz`` members; the structure around them is stored as
JSON text in one more member. Loading uses ``allow_pickle=False``, so a checkpoint can
never execute code. Saving writes a temporary file next to the target and moves it into
place with ``os.replace``, so a failed save leaves any previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["load", "save"]

_STRUCTURE = "__sg_structure__"
_FORMAT = "sg-checkpoint-1"


def _encode(obj: Any, arrays: dict[str, np.ndarray], where: str) -> Any:
    """Replace every array by a reference ``{"__array__": key}`` and check every leaf."""
    if isinstance(obj, dict):
        for key in obj:
            if not isinstance(key, str):
                raise TypeError(f"save: dictionary keys must be strings, got {key!r} at {where}")
        return {"__dict__": {k: _encode(v, arrays, f"{where}.{k}") for k, v in obj.items()}}
    if isinstance(obj, (list, tuple)):
        return [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]
    if hasattr(obj, "data") and isinstance(getattr(obj, "data", None), np.ndarray):
        obj = obj.data  # a Tensor or Parameter
    if isinstance(obj, (np.ndarray, np.generic)) and not isinstance(obj, np.str_):
        array = np.asarray(obj)
        if array.dtype.kind not in "biufc":
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


def _decode(obj: Any, arrays: Any) -> Any:
    if isinstance(obj, list):
        return [_decode(v, arrays) for v in obj]
    if isinstance(obj, dict):
        if "__array__" in obj:
            return arrays[obj["__array__"]]
        return {k: _decode(v, arrays) for k, v in obj["__dict__"].items()}
    return obj


def save(obj: Any, path: str | os.PathLike[str]) -> None:
    """Write ``obj`` to ``path`` atomically (a failed save never destroys the old file)."""
    arrays: dict[str, np.ndarray] = {}
    structure = _encode(obj, arrays, "checkpoint")
    header = json.dumps({"format": _FORMAT, "structure": structure})
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            members = {_STRUCTURE: np.array(header), **arrays}
            np.savez(f, **members)  # type: ignore[arg-type]
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp_name, 0o666 & ~_umask())  # mkstemp makes 0600; use the usual mode
        os.replace(tmp_name, target)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def load(path: str | os.PathLike[str]) -> Any:
    """Read a checkpoint written by :func:`save` (arrays come back as numpy arrays)."""
    loaded = np.load(path, allow_pickle=False)
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise ValueError(f"load: {path} is not an sg checkpoint (not an .npz archive)")
    with loaded as archive:
        if _STRUCTURE not in archive.files:
            raise ValueError(f"load: {path} is not an sg checkpoint (no {_STRUCTURE} member)")
        header = json.loads(str(archive[_STRUCTURE]))
        if header.get("format") != _FORMAT:
            raise ValueError(f"load: {path} has unknown format {header.get('format')!r}")
        arrays = {name: archive[name] for name in archive.files if name != _STRUCTURE}
    return _decode(header["structure"], arrays)
