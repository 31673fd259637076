"""``sg_verify.check``: every check sg applies to its own operators, on your rule.

The function under check becomes an :class:`~sg_verify.registry.OpSpec`, the same
object the registry makes for each built-in operator, so the same oracles run on it:

- **gradient vs finite differences**: Richardson-extrapolated central differences of
  the forward, every element held to their own error estimate
  (:func:`~sg_verify.oracles.fd_check`), with the forward's round-off measured at the
  inputs (:func:`~sg_verify.numerical.forward_noise`);
- **gradient vs PyTorch float64**, when a PyTorch counterpart ``torch_fn`` is given;
- **float32 vs float64** with ``dtype=np.float32``: the rule in float32 against itself in
  float64, within float32's rounding times the conditioning measured at that point
  (:func:`~sg_verify.float32.float32_check`), so a correct float32 rule passes;
- **kink probes** at the points given as ``probes`` (:mod:`sg_verify.custom.kinks`);
- **properties**: linearity in the output gradient, zero, determinism, no mutation, no
  aliasing, shapes and dtypes, inputs that do not require grad, the rule called
  directly (:func:`~sg_verify.properties.props_check`);
- **second order** vs finite differences (and PyTorch), where the rule is differentiable:
  a ``backward`` written with sg operators is; one that computes on raw arrays is not,
  and the row says so instead of failing.

Then **own-rule mutants** (:mod:`sg_verify.custom.mutants`): the rule with one deliberate
error at a time goes through the same first-order checks; the result says how many the
checks caught. A check that would not have caught a wrong rule is no evidence for a
right one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

import sg_tensor as st
from sg_scalar import NotTwiceDifferentiableError
from sg_verify.custom.kinks import probe_check
from sg_verify.custom.mutants import RuleMutant, rule_mutants
from sg_verify.custom.result import FAIL, NOT_APPLICABLE, PASS, CheckResult, CheckRow, MutantRow
from sg_verify.float32 import float32_check
from sg_verify.oracles import OracleResult, draw_cotangent, fd_check, sg_vjp, torch_check
from sg_verify.properties import props_check
from sg_verify.registry import OpSpec
from sg_verify.second_order import fd_check2, torch_check2

__all__ = ["USER_TORCH_TOL", "check", "run_checks"]

USER_TORCH_TOL = 1e-10
"""Your rule against your PyTorch counterpart (scale-aware). Two implementations of one
function may use different formulas (``log1p(exp(x))`` and PyTorch's ``softplus``), which
agree to ~1e-13 where the function is well conditioned; 1e-10 leaves room for that and
still fails a gradient off by a relative 1e-7."""

FD = "gradient vs finite differences"
TORCH = "gradient vs PyTorch float64"
FLOAT32 = "float32 vs float64"
PROBES = "kink probes"
PROPS = "properties"
FD2 = "second order vs finite differences"
TORCH2 = "second order vs PyTorch"

Mutate = Callable[[RuleMutant], Callable[..., Any]]


def check(
    fn: Any,
    *inputs: Any,
    torch_fn: Callable[..., Any] | None = None,
    dtype: Any = None,
    params: dict[str, Any] | None = None,
    probes: Iterable[Sequence[Any]] = (),
    seed: int = 0,
    mutants: bool = True,
    torch_tol: float = USER_TORCH_TOL,
    raise_on_failure: bool = False,
    name: str | None = None,
) -> CheckResult:
    """Check the gradient rule of ``fn`` at ``inputs`` with every check sg-verify has.

    ``fn`` is a :class:`sg_tensor.Function` subclass (called as ``fn.apply(*inputs,
    **params)``) or any function of Tensors returning a Tensor or a tuple of them. Every
    input (an array, a Tensor or a number) is differentiated; fixed data belongs in
    ``params`` or a closure. ``torch_fn`` is a PyTorch counterpart taking torch tensors
    (the same inputs, the same ``params``): its float64 gradients must agree within
    ``torch_tol``. ``dtype=np.float32`` (the default for float32 inputs) also checks the
    rule evaluated in float32. The inputs may also come as one tuple, as
    ``torch.autograd.gradcheck`` takes them.
    Outputs marked non-differentiable, or detached, are not differentiated (as in
    gradcheck).
    ``probes`` are more points (tuples of inputs) where the function may have a kink:
    the gradient there must lie between the one-sided derivatives (and agree with
    ``torch_fn``). ``mutants=False`` skips the own-rule mutants.

    Returns a :class:`~sg_verify.custom.result.CheckResult` (``.ok``, ``.rows``,
    ``.mutants``, a readable ``str()``); with ``raise_on_failure=True`` a failed check
    raises :class:`~sg_verify.GradcheckError` with that table instead.

    >>> import numpy as np, sg_tensor as st, sg_verify
    >>> result = sg_verify.check(lambda x: (x * x).sin(), np.array([0.5, 1.0]))
    >>> result.ok, result.caught == result.counted
    (True, True)
    """
    params = checked_options(params, seed, torch_tol)
    arrays, dtype = inputs_and_dtype(inputs, dtype)
    label = name or _name_of(fn)
    probes = checked_probes(probes, len(arrays))
    call, mutate = sg_subject(fn, params, len(arrays))
    keep = _sg_outputs(label, call, arrays)
    for k, point in enumerate(probes):
        _sg_outputs(label, call, inputs_and_dtype(point, dtype)[0], f"probe {k}")
    torch_call = None if torch_fn is None else (lambda *xs: torch_fn(*xs, **params))
    result = run_checks(
        label, call, arrays, dtype, mutate if mutants else None, keep=keep,
        torch_call=torch_call, torch_tol=torch_tol, probes=probes, seed=seed,
    )  # fmt: skip
    if raise_on_failure:
        result.raise_for_failure()
    return result


def run_checks(
    name: str,
    call: Callable[..., Any],
    arrays: list[np.ndarray],
    dtype: Any,
    mutate: Mutate | None,
    *,
    torch_call: Callable[..., Any] | None = None,
    torch_tol: float = USER_TORCH_TOL,
    probes: Iterable[Sequence[Any]] = (),
    seed: int = 0,
    keep: Sequence[int] | None = None,
) -> CheckResult:
    """The checks of the module docstring on ``call`` at ``arrays``; with ``mutate`` (a
    mutant -> its call) the own-rule mutants too. Of several outputs, those numbered in
    ``keep`` are differentiated (all floating ones without it)."""
    points = [inputs_and_dtype(tuple(p), dtype)[0] for p in probes]
    flat_torch = None if torch_call is None else _flat_torch(torch_call, keep)
    spec = _spec(name, _flat(call, keep), arrays, flat_torch, torch_tol)
    single = np.dtype(dtype) == np.float32
    shapes = " ".join(str(a.shape) for a in arrays)
    result = CheckResult(name, shapes, str(np.dtype(dtype)))
    first = _first_order(spec, arrays, single, points, seed)
    result.rows += [_row(check, run) for check, run in first]
    raised = [row.check for row in result.rows if row.where.startswith("raised ")]
    second, why = _second_order(spec, arrays, seed, raised)
    result.rows += second
    result.rows.append(_row(PROPS, lambda: props_check(spec, arrays, seed, create_graph=not why)))
    if mutate is not None and result.ok:
        result.mutants = [
            _run_mutant(spec, mutant, _flat(mutate(mutant), keep), arrays, single, points, seed)
            for mutant in rule_mutants([a.shape for a in arrays])
        ]
    return result


# ---------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------
Run = Callable[[], OracleResult]


def _first_order(
    spec: OpSpec,
    arrays: list[np.ndarray],
    single: bool,
    points: list[list[np.ndarray]],
    seed: int,
) -> list[tuple[str, Run]]:
    """The first-order checks that apply, cheapest and strongest first."""
    runs: list[tuple[str, Run]] = [(FD, lambda: fd_check(spec, arrays, seed, measured=True))]
    if spec.torch is not _NO_TORCH:
        runs.append((TORCH, lambda: torch_check(spec, arrays, seed)))
    if single:
        runs.append((FLOAT32, lambda: float32_check(spec, arrays, seed)))
    if points:
        runs.append((PROBES, lambda: _probes(spec, points, seed)))
    return runs


def _probes(spec: OpSpec, points: list[list[np.ndarray]], seed: int) -> OracleResult:
    """Every probe point: the one-sided interval, and PyTorch's convention if given."""
    results = []
    for k, point in enumerate(points):
        results.append(("", probe_check(spec, point, seed), k))
        if spec.torch is not _NO_TORCH:
            results.append((" vs PyTorch", torch_check(spec, point, seed), k))
    failed = [(s, r, k) for s, r, k in results if not r.passed]
    suffix, worst, k = (failed or sorted(results, key=lambda t: t[1].worst))[-1]
    return OracleResult(
        "probes", spec.name, worst.worst, f"probe {k}{suffix}: {worst.where}", not failed
    )


def _second_order(
    spec: OpSpec, arrays: list[np.ndarray], seed: int, raised: Sequence[str] = ()
) -> tuple[list[CheckRow], str]:
    """The second-order rows, or one n/a row and the reason when the rule is first order
    only (a ``backward`` on raw arrays, or marked ``once_differentiable``). ``raised``:
    the first-order rows where the rule raised, the cause to name first."""
    try:
        rows = [_row(FD2, lambda: fd_check2(spec, arrays, seed), reraise=True)]
    except NotTwiceDifferentiableError as error:
        why = f"the rule is first order only ({' '.join(str(error).split())[:140]})"
        if raised:  # "first order only" would hide that the first order did not run
            why = f"not checked: the rule raised in {', '.join(raised)}"
        return [CheckRow(FD2, NOT_APPLICABLE, detail=why)], why
    if spec.torch is not _NO_TORCH:
        # your torch_tol, as the first-order row (sg's own operators keep TORCH2_TOL)
        rows.append(_row(TORCH2, lambda: torch_check2(spec, arrays, seed, spec.torch_tol)))
    return rows, ""


def _row(check: str, run: Run, reraise: bool = False) -> CheckRow:
    """A check's row; a rule or forward that raises fails it, with the error."""
    try:
        outcome = run()
    except NotTwiceDifferentiableError:
        if reraise:
            raise
        outcome = None
        error: Exception = NotTwiceDifferentiableError()
    except Exception as caught:  # the user's code raised: that is the finding
        outcome, error = None, caught
    if outcome is None:
        reason = " ".join(str(error).split())[:160]
        return CheckRow(check, FAIL, np.inf, f"raised {type(error).__name__}: {reason}")
    status = PASS if outcome.passed else FAIL
    if outcome.forward > outcome.worst:  # PyTorch's oracle: the outputs differ more
        return CheckRow(check, status, float(outcome.forward), "the forward's output")
    if check != FD:  # how coarse the first-order differences were (the others: no claim)
        return CheckRow(check, status, float(outcome.worst), outcome.where)
    return CheckRow(check, status, float(outcome.worst), outcome.where, "",
                    outcome.resolution, outcome.resolution_where)  # fmt: skip


def _run_mutant(
    spec: OpSpec,
    mutant: RuleMutant,
    call: Callable[..., Any],
    arrays: list[np.ndarray],
    single: bool,
    points: list[list[np.ndarray]],
    seed: int,
) -> MutantRow:
    """The first check that fails on the mutant, ``None`` if it changes nothing here."""
    wrong = _spec(spec.name, call, arrays, spec.torch, spec.torch_tol)
    if _unchanged(spec, wrong, arrays, seed):
        return MutantRow(mutant.name, None)
    runs = _first_order(wrong, arrays, single, points, seed)
    runs.append((PROPS, lambda: props_check(wrong, arrays, seed, create_graph=False)))
    for check, run in runs:
        if not _row(check, run).passed:
            return MutantRow(mutant.name, True, check)
    return MutantRow(mutant.name, False)


def _unchanged(spec: OpSpec, wrong: OpSpec, arrays: list[np.ndarray], seed: int) -> bool:
    """Whether the mutant returns the rule's very gradients (two random cotangents)."""
    rng = np.random.default_rng(seed + 1)
    for _ in range(2):
        v = draw_cotangent("tensor", spec.sg, arrays, rng)
        try:
            _, right = sg_vjp("tensor", spec.sg, arrays, v)
            _, mutated = sg_vjp("tensor", wrong.sg, arrays, v)
        except Exception:
            return False
        if not all(np.array_equal(a, b) for a, b in zip(right, mutated)):
            return False
    return True


# ---------------------------------------------------------------------------------------
# The function under check, as the oracles see it
# ---------------------------------------------------------------------------------------
def _no_torch(*inputs: Any) -> Any:  # pragma: no cover - never called: no torch row
    raise RuntimeError("no PyTorch counterpart was given")


_NO_TORCH = _no_torch


def _spec(
    name: str,
    call: Callable[..., Any],
    arrays: list[np.ndarray],
    torch_call: Callable[..., Any] | None,
    torch_tol: float,
) -> OpSpec:
    return OpSpec(
        name=name,
        engine="tensor",
        op=name,
        sg=call,
        torch=torch_call or _NO_TORCH,
        sample=lambda rng: [a.copy() for a in arrays],
        covers=(),
        torch_tol=torch_tol,
    )


def inputs_and_dtype(inputs: tuple[Any, ...], dtype: Any) -> tuple[list[np.ndarray], Any]:
    """The inputs as float64 arrays, and the precision to check in.

    ``check(f, x, y)`` or, as ``torch.autograd.gradcheck`` takes them, ``check(f, (x,
    y))``. Without ``dtype``, float32 inputs (numpy or torch) ask for float32; the inputs
    are rounded to ``dtype`` first, so both precisions are evaluated at the same numbers.
    """
    one = inputs[0] if len(inputs) == 1 else None
    if isinstance(one, (tuple, list)) and one and all(_is_array(x) for x in one):
        inputs = tuple(one)
    if not inputs:
        raise ValueError("check: give at least one input to differentiate")
    arrays = []
    for i, x in enumerate(inputs):
        data = getattr(x, "data", x)
        if hasattr(data, "detach"):  # a torch tensor
            data = data.detach().cpu().numpy()
        array = np.asarray(data)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"check: input {i} is not real numbers ({type(x).__name__})")
        if array.size == 0:
            raise ValueError(
                f"check: input {i} is empty (shape {array.shape}): there is no element to "
                "check a gradient at"
            )
        arrays.append(array)
    if dtype is None:
        single = any(a.dtype == np.float32 for a in arrays)
        dtype = np.float32 if single else np.float64
    dtype = _numpy_dtype(dtype)
    return [a.astype(dtype).astype(np.float64) for a in arrays], dtype


def _numpy_dtype(dtype: Any) -> np.dtype[Any]:
    """float32 or float64 as a numpy dtype, from a numpy or torch dtype or a name."""
    if type(dtype).__module__ == "torch":  # torch.float32 is not a numpy dtype
        dtype = str(dtype).removeprefix("torch.")
    try:
        found: np.dtype[Any] = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"check: dtype must be float32 or float64, got {dtype!r}") from None
    if found not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"check: dtype must be float32 or float64, got {found}")
    return found


def checked_options(
    params: Any, seed: Any, torch_tol: Any = USER_TORCH_TOL, who: str = "check"
) -> dict[str, Any]:
    """``params`` as a dict, once it, ``seed`` and ``torch_tol`` are of the kinds
    :func:`check` takes (a usage error up front, not a failed rule)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{who}: seed must be an int, got {seed!r}")
    if seed < 0:  # numpy's generators take none: every check would raise
        raise ValueError(f"{who}: seed must be 0 or more, got {seed}")
    number = isinstance(torch_tol, (int, float, np.integer, np.floating))
    if isinstance(torch_tol, bool) or not number or not 0 < torch_tol < np.inf:
        raise ValueError(f"{who}: torch_tol must be a finite positive number, got {torch_tol!r}")
    if params is not None and not isinstance(params, Mapping):
        raise TypeError(
            f"{who}: params must be a dict of keyword arguments, got {type(params).__name__}"
        )
    return dict(params or {})


def checked_probes(probes: Iterable[Sequence[Any]], n_inputs: int) -> list[tuple[Any, ...]]:
    """The probe points, each a tuple of one value per input (a usage error otherwise,
    not a failure of the rule)."""
    points = []
    for k, point in enumerate(probes):
        if not isinstance(point, (tuple, list)):
            raise TypeError(
                f"check: probe {k} must be a tuple with a value for each input ({n_inputs} "
                f"here, as in (x,)), got a {type(point).__name__}"
            )
        if len(point) != n_inputs:
            raise ValueError(
                f"check: probe {k} has {len(point)} input(s); the rule is checked with {n_inputs}"
            )
        points.append(tuple(point))
    return points


def _is_array(x: Any) -> bool:
    """An array, an sg Tensor or a torch tensor (not a number: ``(1.0, 2.0)`` is one input)."""
    return isinstance(x, np.ndarray) or hasattr(x, "_op") or hasattr(x, "detach")


def _sg_outputs(
    name: str, call: Callable[..., Any], arrays: list[np.ndarray], where: str = ""
) -> list[int]:
    """Refuse, up front, a function whose output is not a Tensor or a tuple of them, or is
    not finite at ``arrays`` (the inputs, or the probe ``where``); the outputs to
    differentiate (:func:`differentiated`)."""
    xs = [st.Tensor(a.copy(), requires_grad=True) for a in arrays]
    with st.enable_grad():  # so that a detached or non-differentiable output shows
        out = call(*xs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    for k, o in enumerate(outs):
        if not isinstance(o, st.Tensor):
            raise TypeError(
                f"check: {name} returned a {type(o).__name__} as output {k}; it must return "
                "a Tensor or a tuple of Tensors"
            )
    datas, grads = [o.data for o in outs], [o.requires_grad for o in outs]
    return differentiated("check", name, datas, grads, where)


def differentiated(
    who: str, name: str, outputs: Sequence[np.ndarray], requires_grad: Sequence[bool], where: str
) -> list[int]:
    """The outputs whose gradient is checked: the floating ones that require grad.

    As in ``torch.autograd.gradcheck``, an output marked non-differentiable or detached
    is left out: its rule is zero by declaration, not by calculus, and its differences
    are not. When no output requires grad at all, every floating one is checked (the
    rule then claims a zero gradient, which the differences can refute). Each checked
    output must be finite at the inputs, a usage error otherwise.
    """
    floating = [k for k, o in enumerate(outputs) if o.dtype.kind == "f"]
    if not floating:
        raise TypeError(f"{who}: {name} has no floating-point output to differentiate")
    keep = [k for k in floating if requires_grad[k]] or floating
    at = f"at {where}" if where else "at the inputs given"
    for k in keep:
        bad = ~np.isfinite(outputs[k])
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"{who}: {name}'s forward gives {outputs[k][index]} {at} (output {k}, "
                f"element {index}): a gradient is checked where the function is finite; "
                f"choose {'probes' if where else 'inputs'} inside its domain"
            )
    return keep


def _name_of(fn: Any) -> str:
    return str(getattr(fn, "__name__", type(fn).__name__))


def _flat(call: Callable[..., Any], keep: Sequence[int] | None = None) -> Callable[..., Any]:
    """``call`` with one output: the outputs numbered in ``keep`` (every floating one
    without it) raveled one after another (a random output gradient of that is a random
    output gradient of each)."""

    def flat(*xs: Any) -> Any:
        out = call(*xs)
        if not isinstance(out, (tuple, list)):
            return out
        kept = range(len(out)) if keep is None else keep
        parts = [out[k].reshape(-1) for k in kept if out[k].dtype.kind == "f"]
        return parts[0] if len(parts) == 1 else st.concatenate(parts)

    return flat


def _flat_torch(call: Callable[..., Any], keep: Sequence[int] | None = None) -> Callable[..., Any]:
    """:func:`_flat` for a torch function."""

    def flat(*xs: Any) -> Any:
        out = call(*xs)
        if not isinstance(out, (tuple, list)):
            return out
        import torch

        kept = range(len(out)) if keep is None else keep
        parts = [out[k].reshape(-1) for k in kept if out[k].is_floating_point()]
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    return flat


def sg_subject(
    fn: Any, params: dict[str, Any], n_inputs: int
) -> tuple[Callable[..., Any], Mutate]:
    """``fn`` as a function of the inputs, and how to make a mutant of its rule.

    A Function's mutant is a subclass whose ``backward`` transforms the original's
    result. Any other function's rule is sg's gradient of it: its mutant is a Function
    that recomputes ``fn`` and transforms that gradient.
    """
    if isinstance(fn, type) and issubclass(fn, st.Function):
        function = fn

        def mutate_function(mutant: RuleMutant) -> Callable[..., Any]:
            wrong = _mutated_function(function, mutant, n_inputs)
            return lambda *xs: wrong.apply(*xs, **params)

        return (lambda *xs: function.apply(*xs, **params)), mutate_function
    if isinstance(fn, type) and hasattr(fn, "apply"):  # torch.autograd.Function
        raise TypeError(
            f"check: {fn.__name__} is not an sg_tensor.Function; for a "
            "torch.autograd.Function use sg_verify.check_torch"
        )
    if not callable(fn):
        raise TypeError(f"check: {type(fn).__name__} is not callable nor a sg_tensor.Function")

    def call(*xs: Any) -> Any:
        return fn(*xs, **params)

    def mutate_callable(mutant: RuleMutant) -> Callable[..., Any]:
        wrong = _recomputed(call, mutant)
        return wrong.apply

    return call, mutate_callable


def _mutated_function(
    function: type[st.Function], mutant: RuleMutant, n: int
) -> type[st.Function]:
    original = function.backward

    def backward(ctx: Any, *grads: Any) -> Any:
        returned = original(ctx, *grads)
        returned = tuple(returned) if isinstance(returned, (tuple, list)) else (returned,)
        return (*mutant.transform(returned[:n]), *returned[n:])

    once = getattr(original, "_sg_once_differentiable", False)
    if once:
        backward = st.once_differentiable(backward)
    methods = {"backward": staticmethod(backward)}
    wrong: type[st.Function] = type(function.__name__, (function,), methods)
    return wrong


def _recomputed(call: Callable[..., Any], mutant: RuleMutant) -> type[st.Function]:
    """A Function computing ``call`` whose rule is sg's gradient of it, mutated."""

    def forward(ctx: Any, *xs: Any) -> Any:
        ctx.save_for_backward(*xs)
        return call(*xs)

    def backward(ctx: Any, *grads: Any) -> Any:
        xs = ctx.saved_tensors
        on_nodes = st.is_grad_enabled()
        if not on_nodes:
            xs = tuple(x.detach().requires_grad_() for x in xs)
        with st.enable_grad():
            out = call(*xs)
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        pairs = [(o, g) for o, g in zip(outs, grads) if g is not None and o.requires_grad]
        found = st.grad(
            [o for o, _ in pairs], list(xs), [g for _, g in pairs],
            create_graph=on_nodes, allow_unused=True,
        )  # fmt: skip
        found = tuple(g if g is not None else x * 0.0 for g, x in zip(found, xs))
        return mutant.transform(found)

    name = getattr(call, "__name__", "function")
    methods = {"forward": staticmethod(forward), "backward": staticmethod(backward)}
    recomputed: type[st.Function] = type(name, (st.Function,), methods)
    return recomputed
