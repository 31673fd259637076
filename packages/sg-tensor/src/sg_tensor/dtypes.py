"""PyTorch's dtype names, and the default floating dtype of new tensors.

``sg_tensor.float32`` is numpy's ``float32`` (sg computes with numpy), so it goes
wherever a dtype does: ``x.to(st.float32)``, ``st.zeros(3, dtype=st.float64)``.

sg's default floating dtype is **float64**, not PyTorch's float32: sg is made to verify
gradients, and float64 is what makes a difference of 1e-7 visible. Python floats, and
the factories without ``dtype=``, give the default; :func:`set_default_dtype` changes it
(numpy arrays keep their own dtype, as ``torch.from_numpy`` does).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "bool", "float16", "float32", "float64", "get_default_dtype", "int8", "int16", "int32",
    "int64", "set_default_dtype", "uint8",
]  # fmt: skip

float16 = np.float16
float32 = np.float32
float64 = np.float64
int8 = np.int8
int16 = np.int16
int32 = np.int32
int64 = np.int64
uint8 = np.uint8
bool = np.bool_  # PyTorch spells it torch.bool

_default: type[np.floating[Any]] = np.float64


def set_default_dtype(dtype: Any) -> None:
    """Make ``dtype`` (float32 or float64, as PyTorch allows floating types only) the
    dtype of new floating tensors made from Python numbers and by the factories."""
    global _default
    resolved = np.dtype(dtype)
    if resolved not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"set_default_dtype: only float32 or float64, got {resolved}")
    _default = resolved.type


def get_default_dtype() -> type[np.floating[Any]]:
    """The dtype of new floating tensors (float64 unless :func:`set_default_dtype` said)."""
    return _default
