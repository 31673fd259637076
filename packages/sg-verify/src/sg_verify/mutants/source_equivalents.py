"""Why each surviving source mutant survives: equivalent, or a documented limit.

Filled in from the full run (``nox -s mutants_source``); see
:mod:`sg_verify.mutants.source`. A survivor is here only after the runner's oracles,
the survivor checks of :mod:`sg_verify.mutants.source_checks` (the engine contract,
second order, special values) and the random-expression parity all missed it. Each
reason says why no input sg accepts can tell an equivalent mutant apart, or, for a
limit, what changes and which check would see it. A classified mutant that some check
kills is stale: ``sg-verify mutants --source`` fails until its entry is removed.
"""

from __future__ import annotations

EQUIVALENT = "equivalent"
"""The mutation does not change what the code computes on any input sg accepts."""
LIMIT = "limit"
"""A real change that today's checks miss: the reason says which check would see it."""


def _each(category: str, reason: str, *ids: str) -> dict[str, tuple[str, str]]:
    return {i: (category, " ".join(reason.split())) for i in ids}


CLASSIFIED: dict[str, tuple[str, str]] = {
    # --- rules ----------------------------------------------------------------------------
    **_each(
        EQUIVALENT,
        """Value's relu rule reads only the mask ``out > 0`` and puts it on the graph with
        an indicator: ``out = max(x, 0)`` is > 0 exactly where ``x`` is (nan is in neither),
        and the indicator's node has derivative zero whether it hangs from ``x`` or from
        ``out``; the gradient and every higher derivative are the same.""",
        "sg_scalar.rules:relu:1:0:Swap:out<->x",
    ),
    **_each(
        EQUIVALENT,
        """``astype(..., copy=True)`` for ``copy=False`` on an array the rule has just made
        (``np.where``'s slopes, ``hits / count``): only whether that fresh array is copied
        once more changes, never a value, and nothing else holds it.""",
        "sg_tensor.activations:leaky_relu:3:82:Const:False->True",
        "sg_tensor.reductions:_extremum_rule:10:80:Const:False->True",
    ),
    **_each(
        EQUIVALENT,
        """The inner comparison decides only where the two inputs differ: equal inputs are a
        tie, taken first (the outer ``where``, or the ``if a == b`` return). Where they
        differ, ``<`` and ``<=`` (``>`` and ``>=``) agree, and with a nan both are
        false.""",
        "sg_tensor.elementwise:maximum:6:40:Lt->LtE",
        "sg_tensor.elementwise:maximum:7:40:Gt->GtE",
        "sg_tensor.elementwise:minimum:6:40:Gt->GtE",
        "sg_tensor.elementwise:minimum:7:40:Lt->LtE",
        "sg_scalar.rules:maximum:6:23:Lt->LtE",
        "sg_scalar.rules:maximum:6:62:Gt->GtE",
        "sg_scalar.rules:minimum:6:23:Gt->GtE",
        "sg_scalar.rules:minimum:6:62:Lt->LtE",
    ),
    **_each(
        EQUIVALENT,
        """matmul's fast path for two matrices is never taken (``ndim == -2``); the general
        path computes the same products: for 2-D operands ``a2 = a``, ``b2 = b``,
        ``g2 = g`` and ``_swap_last`` is the transpose, so ``ga = g @ b.T`` and
        ``gb = a.T @ g`` from the same operands, on raw data and on nodes.""",
        "sg_tensor.linalg:matmul:8:17:Const:2->-2",
        "sg_tensor.linalg:matmul:8:33:Const:2->-2",
    ),
    **_each(
        EQUIVALENT,
        """matmul's fast path for a dot product is never taken (``ndim == 0``); the general
        path gives ``(1, 1) @ (1, k)`` and ``(k, 1) @ (1, 1)``, products of a single term,
        exactly ``g * b`` and ``a * g``, reshaped back to ``(k,)``: the gradients are the
        same bit for bit. Differentiated again (on nodes) the same products are summed by
        matmul's rule instead of a sum, in another order: second derivatives differ by
        rounding only (one ulp, 1.6e-16 measured), far below every tolerance.""",
        "sg_tensor.linalg:matmul:10:17:Const:1->0",
        "sg_tensor.linalg:matmul:10:33:Const:1->0",
    ),
    **_each(
        EQUIVALENT,
        """The gradient of a vector ``a`` keeps its row axis of length 1 (``(..., 1, k)``
        instead of ``(..., k)``): the reshape is skipped, or is to the array's own shape
        (``shape[:-1] + shape[-1:]``, ``shape[:-2] + shape[-2:]``). The driver's fit
        (``Tensor._fit_gradient``, run for every operator) sums it to ``(k,)`` over the
        same batch axes plus one of length 1: the same additions, on raw data and on
        nodes.""",
        "sg_tensor.linalg:matmul:21:17:Const:1->0",
        "sg_tensor.linalg:matmul:22:8:Delete:Assign",
        "sg_tensor.linalg:matmul:22:35:Const:2->1",
        "sg_tensor.linalg:matmul:22:50:Const:1->2",
    ),
    **_each(
        EQUIVALENT,
        """``x.ndim != -2`` always holds, so a 2-D ``x`` and ``g`` are also folded by
        ``reshape((-1, n))``, which is their own shape: a no-op.""",
        "sg_tensor.linalg:linear:10:17:Const:2->-2",
    ),
    **_each(
        EQUIVALENT,
        """Where the spread is 0 the placeholder divisor is 2 instead of 1: ``g / 2`` there
        is discarded by the ``where`` of the next line (0 is taken), and so are its
        derivatives (``0 / 2 = 0 / 1 = 0``), at every order.""",
        "sg_tensor.reductions:std:10:26:Const:1.0->2.0",
    ),
    **_each(
        EQUIVALENT,
        """``unbroadcast(g, out.shape)`` returns ``g`` itself (it has the output's shape);
        the driver's fit then sums ``g`` to ``x``'s shape with the same ``unbroadcast``,
        on raw data and on nodes: the same sums, one call later.""",
        "sg_tensor.shapes:broadcast_to:1:0:Swap:out<->x",
    ),
    **_each(
        LIMIT,
        """Only rows that are entirely -inf (masked rows, whose output is -inf): sg's
        declared convention there is a finite gradient 0, PyTorch's is nan
        (``exp(-inf - -inf)``) and finite differences are nan, so no oracle can judge it
        (``isposinf`` also gives 0 instead of nan on rows of +inf). A declared edge of
        ``logsumexp`` (an all -inf slice: gradient 0) with a probe that holds sg to the
        declared value would see it.""",
        "sg_tensor.reductions:logsumexp:9:4:Delete:Assign",
        "sg_tensor.reductions:logsumexp:9:23:Call:isneginf->isposinf",
        "sg_tensor.reductions:logsumexp:9:52:Const:0.0->1.0",
    ),
    # --- helpers --------------------------------------------------------------------------
    **_each(
        EQUIVALENT,
        """For a full reduction without ``keepdims`` the gradient (0-d) is not reshaped to
        ``(1,) * ndim``: ``np.copyto`` and ``np.broadcast_to`` (on nodes) broadcast a 0-d
        array to any shape exactly as the reshaped one.""",
        "sg_tensor.reductions:expand:5:12:Delete:Assign",
    ),
    # --- driver ---------------------------------------------------------------------------
    **_each(
        EQUIVALENT,
        """``exact`` becomes None for Tensor (whose fit is set) and is computed for Value
        (which has none): every Tensor gradient then goes through
        ``Tensor._fit_gradient``, which returns one of its input's array type, shape and
        dtype unchanged; Value never fits (``fit is not None`` guards every use). Only
        slower.""",
        "sg_scalar.graph:_walk:17:17:Negate:IfExp",
        "sg_scalar.graph:_walk:17:25:Is->IsNot",
    ),
    **_each(
        EQUIVALENT,
        """``needs_input_grad`` of a two- or three-input operator is built by the general
        branch, ``tuple(p.requires_grad for p in parents)``, the same tuple (the
        three-input branch is unreachable with ``== 2``, which the two-input branch takes
        first, and with ``== -3``).""",
        "sg_scalar.graph:_walk:52:28:Const:2->-2",
        "sg_scalar.graph:_walk:54:30:Const:3->2",
        "sg_scalar.graph:_walk:54:30:Const:3->-3",
    ),
    **_each(
        EQUIVALENT,
        """A one-, two- or three-input rule is called by the general call
        ``op.vjp(g, node.data, *[p.data for p in parents], **(ctx or {}))`` instead of
        its spelled-out twin: the same arguments (the gradients are then handled by the
        branch of their number of inputs, as before).""",
        "sg_scalar.graph:_walk:64:26:Const:2->-2",
        "sg_scalar.graph:_walk:70:26:Const:1->0",
        "sg_scalar.graph:_walk:70:26:Const:1->2",
        "sg_scalar.graph:_walk:75:26:Const:3->2",
        "sg_scalar.graph:_walk:75:26:Const:3->-3",
    ),
    **_each(
        EQUIVALENT,
        """With ``or``, every gradient of a three-or-more-input Tensor operator goes through
        ``Tensor._fit_gradient``, which returns an exact one unchanged; the other operand
        matters only without a fit, that is for Value, whose operators all have one or
        two inputs (this branch is for three or more).""",
        "sg_scalar.graph:_walk:135:19:And->Or",
    ),
    **_each(
        EQUIVALENT,
        """``order[0]`` for ``order[-1]``: the nodes of one pass are of one type (a Tensor
        graph holds Tensors, a Value graph Values), so both give the same
        ``_exact_gradient`` and ``_sum_gradients``.""",
        "sg_scalar.graph:_exact_gradient:3:18:Const:1->0",
        "sg_scalar.graph:_summing:3:18:Const:1->0",
    ),
    **_each(
        EQUIVALENT,
        """The convolution and pooling operators see only 4-D arrays (N, C, H, W): their
        public calls add the batch axis of an unbatched input and the height axis of a
        1-D one before the operator runs. On those, axis ``2`` is axis ``-2``,
        ``shape[2:]`` is ``shape[-2:]`` and ``shape[:2]`` is ``shape[:-2]``.""",
        "sg_tensor.convolution:conv2d:15:66:Const:2->-2",
        "sg_tensor.convolution:conv2d:16:65:Const:2->-2",
        "sg_tensor.convolution:conv_transpose2d:11:65:Const:2->-2",
        "sg_tensor.convolution:conv2d_weight:11:64:Const:2->-2",
        "sg_tensor.convolution:_with_bias:7:36:Const:2->-2",
        "sg_tensor.pooling:avg_pool2d:8:21:Const:2->-2",
        "sg_tensor.pooling:_divisor:9:51:Const:2->-2",
        "sg_tensor.pooling:_winning_index:3:20:Const:2->-2",
        "sg_tensor.pooling:_routed_apart:8:28:Const:2->-2",
    ),
    **_each(
        LIMIT,
        """``sign(nan)`` as 1 instead of PyTorch's 0, so ``abs``'s gradient at a nan input
        is the incoming gradient instead of 0: the runner's oracles and the special values
        (0 and 1) never draw a nan. The contract's "nan conventions" scenario sees it, but
        the contract runs on the driver's and the helpers' mutants, not the rules'
        (``sg-tensor``'s own tests check the convention).""",
        "sg_tensor.elementwise:_signs:6:41:Const:0.0->1.0",
    ),
    **_each(
        LIMIT,
        """``ga = None`` after a one-input rule only drops the driver's own reference to a
        gradient it has handed on: without it that array lives until the next one-input
        node's rule has run, which raises the peak memory of a pass by one gradient where
        the pending one was a new sum; every result is identical. A peak-memory check
        (tracemalloc over a chain of one-input operators with reuse) would see it.""",
        "sg_scalar.graph:_walk:129:12:Delete:Assign",
    ),
}
"""Mutant id -> (category, reason)."""
