"""sg-tensor: a numpy Tensor engine with broadcasting-aware reverse-mode gradients.

>>> import sg_tensor as st
>>> w = st.tensor([[1.0, -2.0], [0.5, 3.0]], requires_grad=True)
>>> x = st.tensor([1.0, 2.0])
>>> loss = (w @ x).relu().sum()
>>> loss.backward()
>>> w.grad
array([[0., 0.],
       [1., 2.]])

The operators are declared in the family modules (``elementwise``, ``activations``,
``reductions``, ``shapes``, ``linalg``); importing the package installs their methods
on ``Tensor`` and their functions here (see :mod:`sg_tensor.api`).
"""

from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version

from sg_scalar import (
    GraphReleasedError,
    NotTwiceDifferentiableError,
    ShapeMismatchError,
    enable_grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from sg_tensor import (  # declare operators
    activations,
    api,
    convolution,
    elementwise,
    functional,
    inplace,
    linalg,
    normalization,
    pooling,
    reductions,
    selection,
    shapes,
    tensor_methods,
)
from sg_tensor.autograd import grad, hessian, hvp, jacobian
from sg_tensor.capturing import Captured, CaptureError, capture
from sg_tensor.dtypes import (
    bool,
    float16,
    float32,
    float64,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    set_default_dtype,
    uint8,
)
from sg_tensor.factories import (
    arange,
    eye,
    from_numpy,
    full,
    ones,
    ones_like,
    rand,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from sg_tensor.function import Function, FunctionCtx, once_differentiable
from sg_tensor.op import DECLARATIONS, OPS, unbroadcast
from sg_tensor.seeding import default_generator, manual_seed
from sg_tensor.tensor import Tensor

api.install()
inplace.install()
tensor_methods.install()
tensor_methods.install_more()
selection.install()
argmax, argmin, argsort = selection.argmax, selection.argmin, selection.argsort
allclose, equal = tensor_methods.allclose, tensor_methods.equal
isnan, isinf, isfinite = (getattr(Tensor, n) for n in ("isnan", "isinf", "isfinite"))
logical_and, logical_or, logical_xor, logical_not = (
    getattr(Tensor, n) for n in ("logical_and", "logical_or", "logical_xor", "logical_not")
)
globals().update({name: getattr(functional, name) for name in functional.__all__})

try:
    __version__ = version("sg-tensor")
except PackageNotFoundError:  # a source tree that is not installed
    __version__ = "0.0.0+unknown"

del activations, convolution, elementwise, inplace, linalg, pooling, reductions, selection
del normalization, shapes, tensor_methods

__all__ = [
    "DECLARATIONS", "OPS", "CaptureError", "Captured", "Function", "FunctionCtx",
    "GraphReleasedError", "capture",
    "NotTwiceDifferentiableError", "ShapeMismatchError", "Tensor", "__version__", "arange",
    "allclose", "argmax", "argmin", "argsort", "equal", "isfinite", "isinf", "isnan",
    "logical_and", "logical_not", "logical_or", "logical_xor",
    "bool", "default_generator", "enable_grad", "eye", "float16", "float32", "float64",
    "from_numpy", "full", "get_default_dtype", "grad", "hessian", "hvp", "int8", "int16",
    "int32", "int64", "is_grad_enabled", "jacobian", "manual_seed", "no_grad",
    "once_differentiable", "ones", "ones_like", "rand", "randn", "set_default_dtype",
    "set_grad_enabled", "tensor", "uint8", "unbroadcast", "zeros", "zeros_like",
    *functional.__all__,
]  # fmt: skip


def __getattr__(name: str) -> Callable[..., Tensor]:
    """No such name (type checkers read this signature for the installed functions)."""
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
