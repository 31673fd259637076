"""The default random generator: what ``randn``, ``rand`` and sg-nn draw from without ``rng=``.

Every random number in sg comes from a numpy ``Generator``: the one passed as ``rng=``,
or else this default, which :func:`manual_seed` resets (PyTorch's ``torch.manual_seed``).
It starts from seed 0, so a program that never seeds is still reproducible.
"""

from __future__ import annotations

import numpy as np

from sg_tensor.capturing import refuse

__all__ = ["default_generator", "manual_seed"]

_default = np.random.default_rng(0)


def manual_seed(seed: int) -> np.random.Generator:
    """Reset the default generator to ``seed`` (and return it): ``randn``/``rand`` without
    ``rng=``, and sg-nn's initialisers, dropout and data loaders, draw from it."""
    global _default
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed: seed must be an int, got {seed!r}")
    _default = np.random.default_rng(int(seed))
    return _default


def default_generator() -> np.random.Generator:
    """The generator used when no ``rng`` is given."""
    refuse("drawing random numbers (dropout, randn, a shuffled loader)")
    return _default
