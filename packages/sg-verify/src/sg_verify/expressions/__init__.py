"""Random expressions: a small IR, a generator, two interpreters and the parity runner.

An :class:`Expression` is a list of SSA nodes. Input nodes have a shape; every other node
applies one operator of the registry to earlier nodes, with its parameters (an axis, a
shape, an exponent...). An argument may be *guarded*: scaled by a power of two and/or
passed through a transform that puts it in the operator's domain, as in
``t3 = log(softplus(t1) + 0.5)``. Because an argument may be any earlier node, nodes are
reused and the graphs have diamonds; binary operators broadcast (rank mismatch, size-1
axes, 0-d). The same expression is interpreted by two backends, sg and PyTorch (float64),
for the tensor engine (``sg_tensor.Tensor``) and for the scalar engine (``sg_scalar.Value``
against 0-d torch tensors).

The generator keeps every value bounded by construction: each node carries a static bound
on ``|value|``, and an argument whose bound would push the result above :data:`LIMIT` is
scaled down by a power of two (an exact multiplication). Domains are safe by
construction too: ``log``, ``sqrt``, a ``pow`` base and a divisor see a positive
transform of their argument (``softplus(x) + 0.5``, ``x * x + 0.5``, ``exp(tanh(x))``,
``sigmoid(x) + 0.5``). Kinks and ties (``relu`` at 0, ``maximum`` of equal values, a
``max`` with two equal maxima...) are checked on the values: :func:`sg_vjp` reports the
smallest distance to one, and the parity run redraws an expression closer than
:data:`MARGIN`, where a last-bit difference between the engines could pick a different
branch.

:func:`run_parity` draws expressions from a numpy ``Generator``, evaluates each in both
engines with the same float64 inputs and output cotangent, and compares the output and
every input gradient with the scale-aware difference ``|g_sg - g_torch| / max(1,
|g_torch|)``. Importing this module never needs torch.

>>> import numpy as np
>>> expr = generate(np.random.default_rng(0), "tensor")
>>> expr.engine, expr.nodes[0].op
('tensor', 'input')
"""

from sg_verify.expressions.backends import Impl as Impl
from sg_verify.expressions.backends import VJPResult, sg_function, sg_values, sg_vjp, torch_vjp
from sg_verify.expressions.builder import Chooser
from sg_verify.expressions.generate import NumpyChooser, build_expression, generate
from sg_verify.expressions.ir import (
    ADJOINT_OPS,
    ENGINES,
    LIMIT,
    MARGIN,
    OPS,
    REFERENCE_ONLY_OPS,
    Expression,
    Guard,
    IndexArray,
    Mask,
    Node,
)
from sg_verify.expressions.ir import INPUT_BOUND as INPUT_BOUND
from sg_verify.expressions.ir import MAX_SIZE as MAX_SIZE
from sg_verify.expressions.ir import NO_GUARD as NO_GUARD
from sg_verify.expressions.parity import Comparison as Comparison
from sg_verify.expressions.parity import ParityResult, compare, run_parity

__all__ = [
    "ADJOINT_OPS",
    "ENGINES",
    "LIMIT",
    "MARGIN",
    "OPS",
    "REFERENCE_ONLY_OPS",
    "Chooser",
    "Expression",
    "Guard",
    "IndexArray",
    "Mask",
    "Node",
    "NumpyChooser",
    "ParityResult",
    "VJPResult",
    "build_expression",
    "compare",
    "generate",
    "run_parity",
    "sg_function",
    "sg_values",
    "sg_vjp",
    "torch_vjp",
]
