"""The one place sg-verify imports PyTorch: lazily, and with a clear message without it.

PyTorch is an optional extra (``pip install 'sg-verify[torch]'``): importing sg-verify
never needs it, and every check that does asks here.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

INSTALL = "pip install 'sg-verify[torch]'"


class TorchMissingError(ImportError):
    """A check needs PyTorch, which is not installed."""


def require_torch() -> Any:
    """The ``torch`` module, or a :class:`TorchMissingError` saying how to install it."""
    try:
        return importlib.import_module("torch")
    except ImportError as error:
        raise TorchMissingError(f"this check needs PyTorch: {INSTALL}") from error


def torch_available() -> bool:
    """Whether torch can be imported (the ``torch`` extra is installed)."""
    try:
        require_torch()
    except TorchMissingError:
        return False
    return True


@contextmanager
def torch_threads(count: int | None = 1) -> Iterator[Any]:
    """``torch`` with ``count`` intra-op threads for the block (None: as it is), restored
    after: on the small tensors of the checks, threads only add synchronisation."""
    torch = require_torch()
    before = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield torch
    finally:
        torch.set_num_threads(before)
