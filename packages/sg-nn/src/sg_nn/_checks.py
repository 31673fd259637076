"""Checks on the values of arrays that a captured step makes again at every replay.

:func:`sg_tensor.capture` records tensor operations, not numpy run on a tensor's
``.data``: a check written so (``if np.any(v.data < 0): raise ...``) runs at capture
only, and every replay would take values it refuses. :func:`check_values` runs the check
now and records it with :func:`sg_tensor.capturing.computed`, so that each replay checks
its own arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sg_tensor.capturing import computed


def check_values(check: Callable[..., None], *args: Any) -> None:
    """``check(*args)``, which raises on values it refuses; in a captured step, again at
    every replay, on that replay's arrays."""
    computed(_checked, check, *args)


def _checked(check: Callable[..., None], *args: Any) -> tuple[()]:
    """Run ``check``: no array comes out of it for the tape to keep."""
    check(*args)
    return ()
