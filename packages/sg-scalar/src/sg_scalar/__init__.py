"""sg-scalar: the graph core of sg and a pure-Python scalar autodiff engine.

>>> from sg_scalar import Value
>>> x = Value(3.0)
>>> y = x * x + 2 * x
>>> y.backward()
>>> x.grad
8.0
"""

from importlib.metadata import PackageNotFoundError, version

from sg_scalar.autograd import grad
from sg_scalar.dot import GraphvizNotFoundError, render_dot, to_dot
from sg_scalar.graph import (
    GraphReleasedError,
    NotTwiceDifferentiableError,
    Op,
    ShapeMismatchError,
    enable_grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from sg_scalar.rules import DECLARATIONS, OPS
from sg_scalar.value import Value, maximum, minimum

try:
    __version__ = version("sg-scalar")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "DECLARATIONS",
    "OPS",
    "GraphReleasedError",
    "GraphvizNotFoundError",
    "NotTwiceDifferentiableError",
    "Op",
    "ShapeMismatchError",
    "Value",
    "__version__",
    "enable_grad",
    "grad",
    "is_grad_enabled",
    "maximum",
    "minimum",
    "no_grad",
    "render_dot",
    "set_grad_enabled",
    "to_dot",
]
