"""The graph core: grad mode, operators, topological order and the backward driver.

Both engines are node types on this core: ``Value`` in this package and ``Tensor`` in
sg-tensor. The core never looks inside a node's data; it only needs the small protocol
below, so the same driver runs floats and numpy arrays.

A node has

- ``data``: the forward result (a float, a numpy array, ...);
- ``requires_grad``: whether gradients flow to it;
- ``_op``: the :class:`Op` that produced it, ``None`` for a leaf, or :data:`RELEASED`
  once backward has freed its graph;
- ``_parents``: its input nodes, in the operator's argument order;
- ``_ctx``: the operator's non-differentiable arguments (an exponent, an axis) as a
  dict of keyword arguments for the rule, or ``None``;
- ``_pending``: where the driver sums the gradient flowing into the node during a
  backward pass (``None`` outside one);
- ``_accumulate_grad(g, stored)``: add ``g`` into the node's ``.grad``; ``stored`` is
  the pass's own set of the ids of gradients already stored in a leaf (``Tensor``
  copies a gradient it finds there: two leaves never share one array);
- ``_epoch`` and ``_modified``: the in-place counter (:func:`record_modification`) when
  the node was computed, and when its data was last modified in place (0: never); a
  rule whose node or inputs were modified after the node was computed would read the
  wrong data, so a pass refuses to start (:func:`refuse_modified`, PyTorch's version
  counter);
- ``_retains_grad``: whether the driver also records gradients on non-leaf nodes
  (``Value`` does, so a drawn graph shows every gradient; ``Tensor`` does not, to save
  memory, as in PyTorch);
- ``_fit_gradient``: ``None``, or ``fit(g, input, op, index)`` returning the gradient a
  rule gave for an input in that input's shape and dtype (``Tensor`` sums broadcast
  axes away here, for every operator) or raising an error naming the operator;
  ``_exact_gradient``: the array type a gradient that needs no fitting has (when it
  also has its input's ``shape`` and ``dtype``; ``numpy.ndarray`` for ``Tensor``);
- ``_before_pass``: ``None``, or ``prepare(order)``, called with a pass's nodes before
  it runs (before anything changes): the node type may refuse the pass (``Tensor``
  checks that no rule would read data modified in place since, with
  :func:`refuse_modified`) and let go of the data no rule reads (``Tensor`` swaps a
  large intermediate nobody else holds for a placeholder of its shape and dtype, see
  :mod:`sg_tensor.memory`);
- ``_ctx_modified``: ``None``, or ``modified(ctx, epoch)``: whether an array a node
  keeps in its ``ctx`` (a getitem's index, a where's condition) was written in place
  after the node was computed (``Tensor``: by the memory's last write), checked with
  its inputs;
- ``_sum_gradients``: ``None``, or ``sum(previous, g)`` giving two contributions to one
  node's gradient summed, as ``previous + g`` does; it may write the sum into
  ``previous`` when nothing but the pass holds it (``Tensor`` does, saving an array per
  node used twice).

The driver's steps are module-level functions it looks up on every pass: the order
(:func:`topological_order`), the seed (:func:`seed`) and how two contributions to one
node's gradient combine (:func:`accumulate`). They are seams: sg-verify's driver
mutants replace one of them to break the real driver, not a copy of it.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from sg_scalar.reads import rule_reads

__all__ = [
    "RELEASED",
    "GraphReleasedError",
    "Node",
    "NotTwiceDifferentiableError",
    "Op",
    "ShapeMismatchError",
    "backward",
    "enable_grad",
    "grad",
    "inplace_count",
    "is_grad_enabled",
    "no_grad",
    "record_modification",
    "refuse_modified",
    "refuse_modified_toward",
    "set_grad_enabled",
    "topological_order",
]


class Node(Protocol):
    """What the core needs of a graph node (see the module docstring)."""

    data: Any
    grad: Any
    requires_grad: bool
    _epoch: int
    _modified: int
    _op: Op | None
    _parents: tuple[Any, ...]  # of Nodes (Any: each engine's node type narrows it)
    _ctx: dict[str, Any] | None
    _pending: Any
    _retains_grad: bool

    @property
    def _fit_gradient(self) -> Callable[[Any, Any, Op, int], Any] | None: ...

    @property
    def _exact_gradient(self) -> type | None: ...

    @property
    def _before_pass(self) -> Callable[[list[Any]], None] | None: ...

    @property
    def _sum_gradients(self) -> Callable[[Any, Any], Any] | None: ...

    @property
    def _ctx_modified(self) -> Callable[[dict[str, Any], int], bool] | None: ...

    def _accumulate_grad(self, g: Any, stored: set[int]) -> None: ...


Rule = Callable[..., tuple[Any, ...]]
F = TypeVar("F", bound=Callable[..., Any])


class Op:
    """A differentiable operator: a name, its forward and its vector-Jacobian product.

    ``forward(*input_data, **ctx)`` computes the result from raw data.

    ``vjp(g, out, *inputs, **ctx)`` receives the gradient ``g`` of the output, the
    forward result ``out`` and the inputs under their forward names, and returns one
    gradient per input (``None`` where an input is not differentiable). The rule is
    called either on raw data (floats, arrays: the fast first-order path) or on nodes
    (``create_graph=True``: the gradients are themselves differentiable), so it must be
    written with operations that work on both.

    With ``needs_input_grad=True`` the rule also receives ``needs_input_grad``, a tuple
    of booleans saying which inputs require grad, so that an expensive rule (matmul)
    can skip the gradients nobody needs and return ``None`` for them.

    An operator whose rule cannot run on nodes is declared with
    ``twice_differentiable=False``: a ``create_graph=True`` pass through it raises
    :class:`NotTwiceDifferentiableError` instead of returning a wrong second derivative.

    ``grad_reads``, for a rule that computes only the gradients needed (with
    ``needs_input_grad``): for each input, the inputs its gradient reads (``mul``:
    ``((1,), (0,))``, each factor's gradient reads the other). A pass then refuses a
    modified input only if a gradient it computes reads it, as PyTorch saves a tensor
    only for the gradients that need it (``None``: each gradient may read every input).
    """

    __slots__ = (
        "name",
        "forward",
        "vjp",
        "needs_input_grad",
        "twice_differentiable",
        "grad_reads",
        "__weakref__",
    )

    def __init__(
        self,
        name: str,
        forward: Callable[..., Any],
        vjp: Rule,
        needs_input_grad: bool = False,
        twice_differentiable: bool = True,
        grad_reads: tuple[tuple[int, ...], ...] | None = None,
    ) -> None:
        self.name = name
        self.forward = forward
        self.vjp = vjp
        self.needs_input_grad = needs_input_grad
        self.twice_differentiable = twice_differentiable
        self.grad_reads = grad_reads

    def __repr__(self) -> str:
        return f"Op({self.name!r})"


_NO_CTX: dict[str, Any] = {}


class _InPlace:
    """How many in-place modifications this process has made (see :func:`record_modification`)."""

    count = 0


def inplace_count() -> int:
    """The in-place counter now: a node records it when it is computed (``_epoch``)."""
    return _InPlace.count


def record_modification(*nodes: Any) -> None:
    """Note that the data of ``nodes`` was just modified in place (an engine's ``add_``,
    an optimizer's step...).

    Nodes computed before this from one of ``nodes`` (or computing one) can no longer run
    their rules: :func:`backward` raises instead of returning a wrong gradient.
    """
    _InPlace.count += 1
    count = _InPlace.count
    for node in nodes:
        node._modified = count


def refuse_modified(*roots: Any, order: list[Any] | None = None) -> None:
    """Raise if a rule a backward pass from ``roots`` would run reads data modified in
    place after its node was computed: its gradient would be silently wrong.

    Engines call this before a pass (``order``: the pass's nodes, when known), once
    anything was modified in place (a process that never does pays nothing).
    """
    count = _InPlace.count
    if not count:
        return
    for node in topological_order(*roots) if order is None else order:
        if node._epoch != count and node._op is not None and node._op is not RELEASED:
            _refuse_modified(node, node._parents)


def _refuse_modified(node: Any, parents: tuple[Any, ...]) -> None:
    """Raise if ``node`` or one of its inputs that its rule reads in this pass was
    modified in place after ``node`` was computed (the rule would read the new data)."""
    read = _read_by_rule(node._op, parents)
    for i, other in enumerate((node, *parents)):
        if other._modified > node._epoch and read[i]:
            what = "its output" if i == 0 else f"its input {i - 1}"
            shape = getattr(other, "shape", None)
            raise RuntimeError(
                f"{node._op.name}: {what}{'' if shape is None else f' (shape {shape})'} "
                "was modified by an in-place operation after it was computed, so its "
                "gradient would be wrong; modify it after backward(), or compute on a "
                "copy (clone())"
            )
    kept = node._ctx_modified  # the arrays the rule keeps in its ctx (an index, a mask)
    if kept is not None and node._ctx and kept(node._ctx, node._epoch):
        raise RuntimeError(
            f"{node._op.name}: an array it keeps for its gradient (an index, a condition, "
            "a mask) was modified by an in-place operation after it was computed, so its "
            "gradient would be wrong; modify it after backward(), or compute on a copy "
            "(clone())"
        )


def refuse_modified_toward(outputs: Sequence[Any], inputs: Sequence[Any]) -> None:
    """:func:`refuse_modified` for the rules a :func:`grad` from ``outputs`` to ``inputs``
    runs (a caller making several passes checks them all before the first)."""
    if _InPlace.count:
        path, ends = _grad_path(topological_order(*outputs), inputs)
        refuse_modified(order=[n for n in path if n not in ends])


def _grad_path(order: list[Any], inputs: Sequence[Any]) -> tuple[list[Any], set[Any]]:
    """The nodes of ``order`` whose rules a pass to ``inputs`` runs, in order, and the
    inputs where it ends.

    Only nodes from which some input can be reached need their rule run. A node freed by
    an earlier pass has forgotten its inputs, so it may lead to one: it counts as on the
    path, and reaching it raises GraphReleasedError (rather than a gradient that silently
    misses that path, or an input reported as unused). An input with no other input
    behind it ends the pass: as in PyTorch, the graph that produced a non-leaf input is
    neither run nor freed.
    """
    wanted = set(inputs)
    reaches: set[Any] = set()  # nodes known to reach an input
    on_path: set[Any] = set()  # those, and the nodes that may reach one through a freed node
    for node in order:
        parents = node._parents
        if node in wanted or any(p in reaches for p in parents):
            reaches.add(node)
            on_path.add(node)
        elif node._op is RELEASED or any(p in on_path for p in parents):
            on_path.add(node)
    ends = {x for x in inputs if not any(p in reaches for p in x._parents)}
    return [n for n in order if n in on_path], ends


def _read_by_rule(op: Op, parents: tuple[Any, ...]) -> list[bool]:
    """Whether ``op``'s rule, run in a pass, reads its output and each input: what its
    code may read at all (:func:`sg_scalar.reads.rule_reads`: ``sum`` reads nothing,
    ``tanh`` only its output), narrowed to the gradients the pass computes (``grad_reads``
    and the inputs that require grad)."""
    known = rule_reads(op.vjp)
    n = len(parents)
    if known is None:
        read = [True] * (n + 1)
    else:
        out, inputs = known
        read = [out, *[i >= len(inputs) or inputs[i] for i in range(n)]]
    if op.grad_reads is not None:
        wanted = {j for i, p in enumerate(parents) if p.requires_grad for j in op.grad_reads[i]}
        for j in range(n):
            read[j + 1] = read[j + 1] and j in wanted
    return read


class GraphReleasedError(RuntimeError):
    """Raised by a backward pass that reaches a graph freed by an earlier backward."""


class ShapeMismatchError(ValueError, RuntimeError):
    """A gradient given to ``backward()`` or ``grad()`` does not fit what it is for.

    Both a ValueError (a wrong argument) and a RuntimeError, which PyTorch raises for the
    same mistakes, so code written for either catches it.
    """


class NotTwiceDifferentiableError(RuntimeError):
    """Raised by ``create_graph=True`` through an operator whose rule cannot run on nodes."""


def _released_vjp(g: Any, out: Any, *inputs: Any, **ctx: Any) -> tuple[Any, ...]:
    raise GraphReleasedError(
        "Trying to backward through the graph a second time: its intermediate results "
        "were freed by the first backward(). Pass retain_graph=True to the first "
        "backward() to keep them."
    )


RELEASED = Op("<released>", _released_vjp, _released_vjp)
"""The marker op of a node whose graph was freed by a backward pass."""


# ---------------------------------------------------------------------------------------
# Grad mode: a thread-local switch, so that no_grad() in one thread leaves others alone.
# ---------------------------------------------------------------------------------------
class _GradMode(threading.local):
    enabled = True


_grad_mode = _GradMode()


def is_grad_enabled() -> bool:
    """Whether operators record the graph (``True`` unless inside :func:`no_grad`)."""
    return _grad_mode.enabled


class set_grad_enabled:
    """Turn graph recording on or off: ``with set_grad_enabled(False): ...``.

    Nestable and per thread. Also works as a function decorator. Called on its own, as
    PyTorch's, ``set_grad_enabled(False)`` turns recording off until it is turned on
    again (in this thread).
    """

    __slots__ = ("mode", "_previous", "_set_by_init")

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._previous: list[bool] = []
        # set_grad_enabled(mode) itself (not no_grad()) sets the mode at once, as PyTorch's
        self._set_by_init = type(self) is set_grad_enabled
        if self._set_by_init:
            self._previous.append(_grad_mode.enabled)
            _grad_mode.enabled = self.mode

    def __enter__(self) -> None:
        if self._set_by_init:  # `with set_grad_enabled(m):` saved the mode before it
            self._set_by_init = False
        else:
            self._previous.append(_grad_mode.enabled)
        _grad_mode.enabled = self.mode  # (set again: it may have changed since)

    def __exit__(self, *exc_info: object) -> None:
        _grad_mode.enabled = self._previous.pop()

    def __call__(self, fn: F) -> F:
        if self._set_by_init:  # @set_grad_enabled(m): only the decorated calls change it
            self._set_by_init = False
            _grad_mode.enabled = self._previous.pop()
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class _Switch(set_grad_enabled):
    """A mode switch that decorates a function with or without parentheses
    (``@no_grad`` and ``@no_grad()``), as PyTorch's."""

    __slots__ = ()
    MODE = True

    def __new__(cls, fn: Any = None) -> Any:
        if fn is None:
            return super().__new__(cls)
        return cls()(fn)  # @no_grad: the decorated function, as @no_grad() gives

    def __init__(self) -> None:
        super().__init__(self.MODE)


class no_grad(_Switch):
    """Operators inside ``with no_grad():`` record no graph (nestable, per thread)."""

    __slots__ = ()
    MODE = False


class enable_grad(_Switch):
    """Record the graph again, e.g. inside a :class:`no_grad` block."""

    __slots__ = ()
    MODE = True


# ---------------------------------------------------------------------------------------
# Topological order: iterative depth-first search, so a 100,000-node chain needs no
# recursion. Parents are visited in argument order, which makes the order deterministic.
# ---------------------------------------------------------------------------------------
def topological_order(root: Node, *more_roots: Node) -> list[Node]:
    """Every node that the roots depend on and that requires grad, parents first.

    Nodes that do not require grad are skipped: no gradient flows to them.
    """
    order: list[Node] = []
    visited: set[Node] = set()
    # Bound methods in locals: this loop runs once per node of every backward pass.
    visit, emit = visited.add, order.append
    for start in (root, *more_roots):
        if start in visited:
            continue
        visit(start)
        stack = [(start, iter(start._parents))]
        push, pop = stack.append, stack.pop
        while stack:
            node, parents = stack[-1]
            for parent in parents:
                if parent.requires_grad and parent not in visited:
                    visit(parent)
                    if parent._parents:
                        push((parent, iter(parent._parents)))
                        break
                    emit(parent)  # a leaf (or a freed node): nothing to place before it
            else:  # all parents placed: the node itself can follow them
                pop()
                emit(node)
    return order


# ---------------------------------------------------------------------------------------
# The backward driver: its seams first, then the pass itself.
# ---------------------------------------------------------------------------------------
def seed(root: Node, gradient: Any) -> Any:
    """The gradient a pass starts from at ``root``: the one it was given."""
    return gradient


def accumulate(previous: Any, gradient: Any) -> Any:
    """Two contributions to one node's gradient (a node used twice, a diamond) add up."""
    return previous + gradient


_add = accumulate  # the driver inlines this default; a replacement it calls


def backward(
    root: Node,
    gradient: Any,
    *,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> None:
    """Propagate ``gradient`` (the gradient of ``root``) to every node ``root`` depends on.

    Walks the topological order in reverse: each node's total gradient is complete once
    all its consumers have run, so its rule runs once and its inputs' gradients are
    summed into a pending table (this is what makes diamonds and reuse correct). Leaves
    accumulate into ``.grad`` across calls, as in PyTorch.

    Unless ``retain_graph`` is true, each node forgets its inputs as soon as its rule has
    run, so the graph is freed during the pass; reaching it again raises
    :class:`GraphReleasedError`. With ``create_graph`` the rules run on nodes with grad
    mode on, so the gradients are differentiable; otherwise they run on raw data.
    ``retain_graph`` defaults to ``create_graph``, as in PyTorch.
    """
    if retain_graph is None:
        retain_graph = create_graph
    order = topological_order(root)
    prepare = root._before_pass
    if prepare is not None:  # the node type's checks, and it lets go of unread data
        prepare(order)
    root._pending = seed(root, gradient)
    _propagate(order, root._retains_grad, root._fit_gradient, retain_graph, create_graph, None)


Fit = Callable[[Any, Any, Op, int], Any] | None


def _propagate(
    order: list[Node],
    retains: bool,
    fit: Fit,
    retain_graph: bool,
    create_graph: bool,
    captured: dict[Node, Any] | None,
    ends: set[Node] | frozenset[Node] = frozenset(),
) -> None:
    """Run the rules of ``order`` in reverse, starting from the roots' ``_pending`` seeds.

    ``retains``: non-leaf nodes keep their gradient too; ``fit``: the node type's
    ``_fit_gradient`` (or None). With ``captured`` (a dict
    keyed by the nodes of interest, for :func:`grad`) the total gradient of each of those
    nodes is stored there and leaves keep their ``.grad``; otherwise leaves accumulate
    into ``.grad``. The captured nodes in ``ends`` are where the pass stops: their own
    rules neither run nor free their inputs.
    """
    try:
        if create_graph:  # the rules run on nodes, recording the gradients' graph
            with set_grad_enabled(True):
                _walk(order, retains, fit, retain_graph, True, captured, ends)
        else:  # the rules run on raw data: no graph is recorded whatever the grad mode
            _walk(order, retains, fit, retain_graph, False, captured, ends)
    except BaseException:  # leave no half-summed gradient behind for the next pass
        for node in order:  # those the pass has not reached (it took the others off)
            node._pending = None
        raise


def _walk(
    order: list[Node],  # the pass takes each node off as it reaches it
    retains: bool,
    fit: Fit,
    retain_graph: bool,
    create_graph: bool,
    captured: dict[Node, Any] | None,
    ends: set[Node] | frozenset[Node],
) -> None:
    """The loop of :func:`_propagate` (see there)."""
    add = _summing(order) if accumulate is _add else accumulate  # None: plain +, inline
    # The ids of the gradients stored in leaves during this pass: local to the pass, so
    # concurrent passes in other threads never see each other's (a leaf's protocol).
    stored: set[int] = set()
    # A gradient of the node type's own array type, with its input's shape and dtype, is
    # used as it is; anything else goes through ``fit`` (checked inline: this is hot).
    exact: Any = None if fit is None else _exact_gradient(order)
    # Each node's ``_pending`` slot sums the gradients of its consumers; a slot is much
    # cheaper than a dict keyed by node, and this loop is the hot path of every pass.
    # The pass takes each node off the order as it reaches it: once its rule has run and
    # its consumers have forgotten it, nothing keeps an intermediate (and its data) alive
    # until the pass ends, so the backward's peak memory falls as it goes.
    while order:
        node = order.pop()
        g = node._pending
        node._pending = None
        if captured is not None and node in captured:
            captured[node] = g
            if node in ends:
                continue
        op = node._op
        if op is None:  # a leaf: the end of every path
            if g is not None and captured is None:
                node._accumulate_grad(g, stored)
            continue
        if op is RELEASED:
            _released_vjp(g, node)
        parents = node._parents
        ctx = node._ctx
        if not retain_graph:  # the node's rule runs once: forget its inputs now
            node._op = RELEASED
            node._parents = ()
            if ctx is not None:
                node._ctx = None
        if g is None:  # no path from root to here carries a gradient
            continue
        if retains:  # the node type keeps every node's gradient (Value does)
            node.grad = node.grad + g
        n_parents = len(parents)
        if op.needs_input_grad:
            needs: tuple[bool, ...]
            if n_parents == 2:
                needs = (parents[0].requires_grad, parents[1].requires_grad)
            elif n_parents == 3:
                a, b, c = parents
                needs = (a.requires_grad, b.requires_grad, c.requires_grad)
            else:
                needs = tuple([p.requires_grad for p in parents])
            ctx = {**ctx, "needs_input_grad": needs} if ctx else {"needs_input_grad": needs}
        # The usual one- and two-input cases are spelled out, and keyword arguments are
        # passed only when there are some: generic calls cost more than most rules.
        if create_graph:
            grads = _vjp_on_nodes(op, g, node, parents, ctx or _NO_CTX)
        elif n_parents == 2:
            a, b = parents
            if ctx:
                grads = op.vjp(g, node.data, a.data, b.data, **ctx)
            else:
                grads = op.vjp(g, node.data, a.data, b.data)
        elif n_parents == 1:
            if ctx:
                grads = op.vjp(g, node.data, parents[0].data, **ctx)
            else:
                grads = op.vjp(g, node.data, parents[0].data)
        elif n_parents == 3:  # x @ W.T + b (linear)
            a, b, c = parents
            grads = op.vjp(g, node.data, a.data, b.data, c.data, **(ctx or _NO_CTX))
        else:
            grads = op.vjp(g, node.data, *[p.data for p in parents], **(ctx or _NO_CTX))
        # Each gradient goes to its input's pending sum: fitted to the input's shape and
        # dtype by the node type (Tensor), added to what other consumers sent. The one-
        # and two-input cases are spelled out; the seam ``accumulate`` is called only when
        # something other than addition stands there (a driver mutant).
        if n_parents == 2:
            a, b = parents
            try:
                ga, gb = grads
            except (TypeError, ValueError):
                raise _wrong_count(op, grads, 2) from None
            if ga is not None and a.requires_grad:
                if fit is not None and not (
                    type(ga) is exact and ga.shape == a.data.shape and ga.dtype == a.data.dtype
                ):
                    ga = fit(ga, a, op, 0)
                previous = a._pending
                if previous is None:
                    a._pending = ga
                else:
                    a._pending = previous + ga if add is None else add(previous, ga)
            if gb is not None and b.requires_grad:
                if fit is not None and not (
                    type(gb) is exact and gb.shape == b.data.shape and gb.dtype == b.data.dtype
                ):
                    gb = fit(gb, b, op, 1)
                previous = b._pending
                if previous is None:
                    b._pending = gb
                else:
                    b._pending = previous + gb if add is None else add(previous, gb)
            continue
        if n_parents == 1:
            try:
                (ga,) = grads
            except (TypeError, ValueError):
                raise _wrong_count(op, grads, 1) from None
            a = parents[0]
            if ga is not None and a.requires_grad:
                if fit is not None and not (
                    type(ga) is exact and ga.shape == a.data.shape and ga.dtype == a.data.dtype
                ):
                    ga = fit(ga, a, op, 0)
                previous = a._pending
                if previous is None:
                    a._pending = ga
                else:
                    a._pending = previous + ga if add is None else add(previous, ga)
            # Drop it: in a chain such as linear, relu, linear, relu it would stay
            # allocated while the next one-input rule runs, raising the peak memory.
            ga = None
            continue
        if len(grads) != n_parents:
            raise _wrong_count(op, grads, n_parents)
        for i, (parent, grad) in enumerate(zip(parents, grads)):
            if grad is not None and parent.requires_grad:
                if fit is not None and not (
                    type(grad) is exact
                    and grad.shape == parent.data.shape
                    and grad.dtype == parent.data.dtype
                ):
                    grad = fit(grad, parent, op, i)
                previous = parent._pending
                if previous is None:
                    parent._pending = grad
                else:
                    parent._pending = previous + grad if add is None else add(previous, grad)


def _exact_gradient(order: list[Node]) -> type | None:
    """The array type whose gradients need no fitting, from any node of the pass."""
    return order[-1]._exact_gradient if order else None


def _summing(order: list[Node]) -> Callable[[Any, Any], Any] | None:
    """How the node type sums two contributions (``None``: plain ``+``), from any node."""
    return order[-1]._sum_gradients if order else None


def _wrong_count(op: Op, grads: Any, expected: int) -> TypeError:
    if isinstance(grads, (tuple, list)):
        got = f"{len(grads)} gradient{'s' * (len(grads) != 1)}"
    else:
        got = f"a {type(grads).__name__}"
    return TypeError(
        f"{op.name}: the gradient rule returned {got} for {expected} input"
        f"{'s' * (expected != 1)}; it must return a tuple with one gradient per input (None "
        "for an input that gets no gradient)"
    )


def _vjp_on_nodes(
    op: Op, g: Any, node: Node, parents: tuple[Node, ...], ctx: dict[str, Any]
) -> tuple[Any, ...]:
    """Run a rule on nodes (``create_graph=True``), refusing to lose the graph silently.

    A vector-Jacobian product is linear in ``g``: when ``g`` is a node that requires grad,
    every gradient the rule returns for an input that requires grad must be one too.
    A plain number or array there means the rule stepped outside the graph (say, through
    raw data), and its second derivative would be silently wrong.
    """

    def refuse(why: str) -> NotTwiceDifferentiableError:
        return NotTwiceDifferentiableError(
            f"{op.name}: cannot differentiate this operator's gradient (create_graph=True): {why}"
        )

    if not op.twice_differentiable:
        raise refuse("its gradient rule is not written to run on graph nodes")
    try:
        grads = op.vjp(g, node, *parents, **ctx)
    except TypeError as error:
        raise refuse(f"its gradient rule failed on graph nodes ({error})") from error
    if getattr(g, "requires_grad", False):
        for i, (parent, grad) in enumerate(zip(parents, grads)):
            lost = not getattr(grad, "requires_grad", False)
            if grad is not None and parent.requires_grad and lost:
                raise refuse(
                    f"its gradient rule returned a constant ({type(grad).__name__}) for "
                    f"input {i}, so the graph of the gradient would be lost"
                )
    return tuple(grads)


def grad(
    outputs: list[Node],
    inputs: list[Node],
    seeds: list[Any],
    *,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> list[Any]:
    """The gradients of ``sum(seed_i * output_i)`` with respect to each of ``inputs``.

    The engine-neutral part of ``grad()`` (the engines check arguments and make seeds):
    unlike :func:`backward` it returns the gradients instead of accumulating them into
    ``.grad``, and runs only the rules on a path from an output to an input. An input
    that no output depends on gets ``None``. Each seed has its output's engine type
    (raw data, or a node when ``create_graph`` is true).
    """
    if retain_graph is None:
        retain_graph = create_graph
    order = topological_order(*outputs)
    seeds = [seed(output, s) for output, s in zip(outputs, seeds)]
    path, ends = _grad_path(order, inputs)
    on_path = set(path)
    # The rules that run: none of them may read data modified in place since
    refuse_modified(order=[n for n in path if n not in ends])
    captured: dict[Node, Any] = dict.fromkeys(inputs)
    try:
        for output, gradient in zip(outputs, seeds):
            if output in on_path:
                previous = output._pending
                output._pending = gradient if previous is None else accumulate(previous, gradient)
        fit = outputs[0]._fit_gradient
        _propagate(path, False, fit, retain_graph, create_graph, captured, ends)
    finally:  # rules also send gradients to parents off the path: drop them
        for node in order:
            node._pending = None
    return [captured[x] for x in inputs]
