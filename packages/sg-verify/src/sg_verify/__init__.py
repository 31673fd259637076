"""sg-verify: evidence that every sg gradient is right.

Two independent oracles check each operator of sg-scalar and sg-tensor: central finite
differences (:func:`gradcheck`) and PyTorch float64 autograd (the ``torch`` extra).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sg-verify")
except PackageNotFoundError:  # a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
