"""sg-tensor: a numpy Tensor engine with broadcasting-aware reverse-mode gradients.

>>> import sg_tensor as st
>>> w = st.tensor([[1.0, -2.0], [0.5, 3.0]], requires_grad=True)
>>> x = st.tensor([1.0, 2.0])
>>> loss = (w @ x).relu().sum()
>>> loss.backward()
>>> w.grad
array([[0., 0.],
       [1., 2.]])
"""

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
from sg_tensor import activations, elementwise, linalg, reductions, shapes
from sg_tensor.autograd import grad, hessian, hvp, jacobian
from sg_tensor.factories import (
    arange,
    eye,
    full,
    ones,
    ones_like,
    rand,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from sg_tensor.functional import (
    abs,
    add,
    as_tensor,
    broadcast_to,
    clip,
    concatenate,
    cos,
    div,
    erf,
    exp,
    expand,
    flatten,
    gelu,
    leaky_relu,
    linear,
    log,
    log_softmax,
    logsumexp,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mul,
    neg,
    pad,
    permute,
    pow,
    relu,
    reshape,
    sigmoid,
    sin,
    softmax,
    softplus,
    split,
    sqrt,
    squeeze,
    stack,
    std,
    sub,
    sum,
    swapaxes,
    tanh,
    transpose,
    unsqueeze,
    var,
    where,
)
from sg_tensor.op import OPS, unbroadcast
from sg_tensor.tensor import Tensor

try:
    __version__ = version("sg-tensor")
except PackageNotFoundError:  # a source tree that is not installed
    __version__ = "0.0.0+unknown"

del activations, elementwise, linalg, reductions, shapes  # imported to register their operators

__all__ = [
    "OPS", "GraphReleasedError", "NotTwiceDifferentiableError", "ShapeMismatchError", "Tensor",
    "__version__", "abs", "add", "arange", "as_tensor", "broadcast_to", "clip", "concatenate",
    "cos", "div", "enable_grad", "erf", "exp", "expand", "eye", "flatten", "full", "gelu",
    "grad", "hessian", "hvp", "is_grad_enabled", "jacobian", "leaky_relu", "linear", "log",
    "log_softmax", "logsumexp", "matmul", "max", "maximum", "mean", "min", "minimum", "mul",
    "neg", "no_grad", "ones", "ones_like", "pad", "permute", "pow", "rand", "randn", "relu",
    "reshape", "set_grad_enabled", "sigmoid", "sin", "softmax", "softplus", "split", "sqrt",
    "squeeze", "stack", "std", "sub", "sum", "swapaxes", "tanh", "tensor", "transpose",
    "unbroadcast", "unsqueeze", "var", "where", "zeros", "zeros_like",
]  # fmt: skip
