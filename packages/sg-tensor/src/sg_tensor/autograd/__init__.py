"""Gradients as values: ``grad``, and the derivatives built on it (``hvp``, ``jacobian``,
``hessian``).

:meth:`Tensor.backward` accumulates gradients into ``.grad``; :func:`grad` returns them
instead, and with ``create_graph=True`` returns them as differentiable Tensors, so a
gradient can be differentiated again. Every higher derivative comes from the same
gradient rules as the first one: a rule run on Tensors records its own graph.

>>> import sg_tensor as st
>>> x = st.tensor([1.0, 2.0], requires_grad=True)
>>> (g,) = st.grad((x**3).sum(), x, create_graph=True)
>>> g.data
array([ 3., 12.])
>>> (h,) = st.grad(g.sum(), x)
>>> h.data
array([ 6., 12.])
"""

from sg_tensor.autograd import function, functional
from sg_tensor.autograd.core import backward, grad, hessian, hvp, jacobian
from sg_tensor.function import Function, FunctionCtx, once_differentiable

__all__ = [
    "Function", "FunctionCtx", "backward", "function", "functional", "grad", "hessian", "hvp",
    "jacobian", "once_differentiable",
]  # fmt: skip
