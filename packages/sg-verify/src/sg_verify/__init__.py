"""sg-verify: evidence that every sg gradient is right.

Two independent oracles check each operator of sg-scalar and sg-tensor: central finite
differences (:func:`gradcheck`, :func:`~sg_verify.oracles.fd_check`) and PyTorch
float64 autograd (:func:`~sg_verify.oracles.torch_check`, with the ``torch`` extra);
:func:`gradgradcheck` and :mod:`sg_verify.second_order` do the same for second
derivatives. :func:`check` runs every check on a rule of your own (an
``sg_tensor.Function``, and :func:`check_torch` a ``torch.autograd.Function``).
Importing this package never needs torch.
"""

from importlib.metadata import PackageNotFoundError, version

from sg_verify.custom import CheckResult, check, check_torch
from sg_verify.oracles import GradcheckError, gradcheck
from sg_verify.registry import SCALAR_SPECS, TENSOR_SPECS, OpSpec, all_specs
from sg_verify.second_order import gradgradcheck

try:
    __version__ = version("sg-verify")
except PackageNotFoundError:  # a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "SCALAR_SPECS",
    "TENSOR_SPECS",
    "CheckResult",
    "GradcheckError",
    "OpSpec",
    "__version__",
    "all_specs",
    "check",
    "check_torch",
    "gradcheck",
    "gradgradcheck",
]
