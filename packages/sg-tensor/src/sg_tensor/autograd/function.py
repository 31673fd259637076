"""``torch.autograd.function`` in sg: :class:`Function`, its ctx and ``once_differentiable``."""

from sg_tensor.function import Function, FunctionCtx, once_differentiable

__all__ = ["Function", "FunctionCtx", "once_differentiable"]
