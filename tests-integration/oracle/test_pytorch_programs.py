"""PyTorch programs run unchanged on PyTorch and, through the mapping, on sg.

Each program below is written once, as PyTorch code, against a namespace ``ns``:

========================  ================================  ============================
``ns.``                   PyTorch                           sg
========================  ================================  ============================
``T``                     ``torch``                         ``sg_tensor``
``F``                     ``torch.nn.functional``           ``sg_nn.functional``
``nn``                    ``torch.nn``                      ``sg_nn``
``utils``                 ``torch.nn.utils``                ``sg_nn.utils``
``data``                  ``torch.utils.data``              ``sg_nn.data``
``optim``                 ``torch.optim``                   ``sg_optim``
``sched``                 ``torch.optim.lr_scheduler``      ``sg_optim.lr_scheduler``
``autograd``              ``torch.autograd``                ``sg_tensor.autograd``
``save``, ``load``        ``torch.save``, ``torch.load``    ``sg_nn.save``, ``sg_nn.load``
``f64``                   ``torch.float64``                 ``sg_tensor.float64``
========================  ================================  ============================

A program returns a dict of named results (values, gradients, parameters after training
steps, learning rates, indices, Python numbers). The test runs it on both engines,
converts every result to numpy (tensors, namedtuples and tuples elementwise, Python
numbers as they are) and requires: the same structure, shapes and kinds of dtype;
integer and boolean results exactly equal; floating results within a scale-aware
``|sg - torch| / max(1, |torch|) <= 1e-12``. Every float tensor is created in float64
(``dtype=ns.f64``), PyTorch's default being float32 and sg's float64.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
import torch.utils.data

import sg_nn
import sg_nn.functional as SF
import sg_optim
import sg_optim.lr_scheduler
import sg_tensor
import sg_tensor.autograd

LIMIT = 1e-12

Program = Callable[[Any], dict[str, Any]]
PROGRAMS: list[Any] = []


def program(fn: Program) -> Program:
    """Register a program."""
    PROGRAMS.append(pytest.param(fn, id=fn.__name__))
    return fn


# ---------------------------------------------------------------------------------------
# The two namespaces
# ---------------------------------------------------------------------------------------
def torch_namespace(tmp: Path) -> Any:
    return types.SimpleNamespace(
        name="torch",
        T=torch,
        F=TF,
        nn=torch.nn,
        utils=torch.nn.utils,
        data=torch.utils.data,
        optim=torch.optim,
        sched=torch.optim.lr_scheduler,
        autograd=torch.autograd,
        Function=torch.autograd.Function,
        save=torch.save,
        load=torch.load,
        f64=torch.float64,
        tmp=tmp,
    )


def sg_namespace(tmp: Path) -> Any:
    return types.SimpleNamespace(
        name="sg",
        T=sg_tensor,
        F=SF,
        nn=sg_nn,
        utils=sg_nn.utils,
        data=sg_nn.data,
        optim=sg_optim,
        sched=sg_optim.lr_scheduler,
        autograd=sg_tensor.autograd,
        Function=sg_tensor.autograd.Function,
        save=sg_nn.save,
        load=sg_nn.load,
        f64=sg_tensor.float64,
        tmp=tmp,
    )


# ---------------------------------------------------------------------------------------
# Results to numpy, and the comparison
# ---------------------------------------------------------------------------------------
def to_numpy(value: Any) -> Any:
    """Tensors and gradients as numpy arrays, containers elementwise, numbers as they are."""
    if isinstance(value, torch.Tensor):
        return value.detach().numpy().copy()
    if isinstance(value, sg_tensor.Tensor):
        return np.array(value.data)
    if isinstance(value, (np.ndarray, np.generic)):
        return np.array(value)
    if isinstance(value, dict):
        return {str(k): to_numpy(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):  # namedtuples (torch.return_types) too
        return [to_numpy(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot compare a result of type {type(value).__name__}")


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return type(value).__name__


def assert_same(got: Any, expected: Any, where: str) -> None:
    """``got`` (sg) against ``expected`` (torch), recursively."""
    if isinstance(expected, dict):
        assert isinstance(got, dict), f"{where}: sg gave {type(got).__name__}, torch a dict"
        assert sorted(got) == sorted(expected), (
            f"{where}: keys {sorted(got)} != {sorted(expected)}"
        )
        for key in expected:
            assert_same(got[key], expected[key], f"{where}.{key}")
        return
    if isinstance(expected, list):
        assert isinstance(got, list), f"{where}: sg gave {type(got).__name__}, torch a sequence"
        assert len(got) == len(expected), f"{where}: {len(got)} items, torch {len(expected)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            assert_same(g, e, f"{where}[{i}]")
        return
    if isinstance(expected, np.ndarray):
        assert isinstance(got, np.ndarray), f"{where}: sg gave {got!r}, torch an array"
        assert got.shape == expected.shape, f"{where}: shape {got.shape} != {expected.shape}"
        assert got.dtype.kind == expected.dtype.kind, (
            f"{where}: dtype {got.dtype} != torch's {expected.dtype}"
        )
        if expected.dtype.kind == "f":
            assert got.dtype.itemsize == expected.dtype.itemsize, (
                f"{where}: dtype {got.dtype} != torch's {expected.dtype}"
            )
            err = scale_aware_error(got, expected)
            assert err <= LIMIT, (
                f"{where}: scale-aware error {err:.3g}\nsg    = {got!r}\ntorch = {expected!r}"
            )
        else:
            np.testing.assert_array_equal(got, expected, err_msg=where)
        return
    assert _kind(got) == _kind(expected), f"{where}: sg gave {got!r}, torch {expected!r}"
    if isinstance(expected, float):
        err = scale_aware_error(got, expected)
        assert err <= LIMIT, f"{where}: sg {got!r}, torch {expected!r} (error {err:.3g})"
    else:
        assert got == expected, f"{where}: sg gave {got!r}, torch {expected!r}"


def scale_aware_error(got: Any, expected: Any) -> float:
    """``max |got - expected| / max(1, |expected|)``; inf where only one is nan."""
    a = np.asarray(got, dtype=np.float64)
    b = np.asarray(expected, dtype=np.float64)
    same = (np.isnan(a) & np.isnan(b)) | (a == b)
    with np.errstate(invalid="ignore"):
        err = np.where(same, 0.0, np.abs(a - b) / np.maximum(1.0, np.abs(b)))
    return float(np.nan_to_num(err, nan=np.inf).max(initial=0.0))


@pytest.mark.parametrize("prog", PROGRAMS)
def test_program_agrees_with_pytorch(prog: Program, tmp_path: Path) -> None:
    (tmp_path / "torch").mkdir()
    (tmp_path / "sg").mkdir()
    expected = to_numpy(prog(torch_namespace(tmp_path / "torch")))
    got = to_numpy(prog(sg_namespace(tmp_path / "sg")))
    assert_same(got, expected, prog.__name__)


def test_the_comparison_catches_differences() -> None:
    """The comparison is not vacuous: values, shapes, dtypes, kinds and keys all count."""
    base = {"x": np.array([1.0, 2.0]), "i": np.array([1, 2]), "n": 3, "f": 1.5}
    assert_same(to_numpy(dict(base)), to_numpy(dict(base)), "same")
    changes = [
        {"x": np.array([1.0, 2.0 + 1e-9])},
        {"x": np.array([1.0, 2.0], dtype=np.float32)},
        {"x": np.array([[1.0, 2.0]])},
        {"i": np.array([1, 3])},
        {"i": np.array([1.0, 2.0])},
        {"n": 3.0},
        {"n": True},
        {"f": 1.5 + 1e-9},
        {"extra": 0},
    ]
    for change in changes:
        with pytest.raises(AssertionError):
            assert_same(to_numpy({**base, **change}), to_numpy(base), "changed")
    assert len(PROGRAMS) >= 30


# ---------------------------------------------------------------------------------------
# Shared by the programs (written in PyTorch's terms, on ns)
# ---------------------------------------------------------------------------------------
def randn(ns: Any, *shape: int, seed: int, requires_grad: bool = False, scale: float = 1.0) -> Any:
    """A float64 tensor of normal samples (numpy's, so both engines get the same)."""
    values = np.random.default_rng(seed).standard_normal(shape) * scale
    return ns.T.tensor(values, dtype=ns.f64, requires_grad=requires_grad)


def init_parameters(ns: Any, model: Any, seed: int, scale: float = 0.5) -> None:
    """Overwrite every parameter, in order, with the same numbers on both engines."""
    rng = np.random.default_rng(seed)
    with ns.T.no_grad():
        for p in model.parameters():
            p.copy_(ns.T.tensor(rng.standard_normal(tuple(p.shape)) * scale, dtype=ns.f64))


def snapshot(model: Any) -> dict[str, Any]:
    """Copies of the named parameters."""
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def grads(model: Any) -> dict[str, Any]:
    """The named parameters' gradients."""
    return {name: p.grad for name, p in model.named_parameters()}


# ---------------------------------------------------------------------------------------
# Tensor math
# ---------------------------------------------------------------------------------------
@program
def elementwise_broadcasting(ns: Any) -> dict[str, Any]:
    x = randn(ns, 3, 1, 4, seed=1, requires_grad=True)
    y = randn(ns, 2, 4, seed=2, requires_grad=True)
    z = (x * y + x.exp() - y.sin()) / (1 + y**2)
    z = z + ns.T.sqrt(x.abs() + 1) * ns.T.tanh(y) - ns.T.log(1 + x**2) + x.sigmoid() * 0.5
    z = z + ns.T.maximum(x, y) - ns.T.minimum(x, 0.1 * y) + (2.0**x) + x.relu() * y.cos()
    z = z - (-x) / 3 + ns.T.exp(-(y**2)) + x.pow(3) * 0.01 + ns.T.abs(y - x)
    loss = (z * z).mean()
    loss.backward()
    return {"z": z, "loss": loss, "x.grad": x.grad, "y.grad": y.grad, "shape": tuple(z.shape)}


@program
def reductions_with_dim_and_keepdim(ns: Any) -> dict[str, Any]:
    x = randn(ns, 3, 4, 5, seed=3, requires_grad=True)
    s1 = x.sum(dim=1, keepdim=True)
    s2 = x.sum((0, 2))
    m1 = x.mean(dim=-1)
    m2 = x.mean(dim=(0, 1), keepdim=True)
    p = (x * 0.5 + 1).prod(dim=2)
    lse = x.logsumexp(dim=1)
    lse2 = ns.T.logsumexp(x, dim=-1, keepdim=True)
    a1 = x.amax(dim=0)
    a2 = ns.T.amin(x, dim=(1, 2))
    loss = (
        s1.sum() + (s2**2).sum() + m1.pow(2).sum() + m2.sum() + p.sum() + lse.sum()
        + lse2.mean() + a1.sum() + a2.sum() + x.sum() + x.mean()
    )  # fmt: skip
    loss.backward()
    return {
        "sum_keepdim": s1, "sum_dims": s2, "mean": m1, "mean_keepdim": m2, "prod": p,
        "logsumexp": lse, "logsumexp_keepdim": lse2, "amax": a1, "amin": a2,
        "loss": loss.item(), "grad": x.grad,
    }  # fmt: skip


@program
def std_and_var(ns: Any) -> dict[str, Any]:
    x = randn(ns, 4, 6, seed=4, requires_grad=True)
    results = {
        "std": x.std(),
        "var": x.var(),
        "std_dim": x.std(dim=1),
        "std_0": x.std(0),
        "std_biased": x.std(dim=1, unbiased=False),
        "var_biased": x.var(1, unbiased=False, keepdim=True),
        "var_correction0": x.var(dim=0, correction=0),
        "std_correction2": x.std(dim=1, correction=2),
        "var_fn": ns.T.var(x, dim=1),
        "std_fn": ns.T.std(x, dim=0, keepdim=True),
    }
    loss = sum(v.sum() for v in results.values())
    loss.backward()
    return {**results, "grad": x.grad}


@program
def max_min_with_dim_values_and_indices(ns: Any) -> dict[str, Any]:
    x = randn(ns, 5, 4, seed=5, requires_grad=True)
    values, indices = x.max(1)
    vmin, imin = x.min(dim=0, keepdim=True)
    best = ns.T.max(x, dim=0)
    preds = x.max(1)[1]
    ones = x.min(-1).indices
    loss = values.sum() + 2 * vmin.sum() + best.values.pow(2).sum() + x.max() - x.min()
    loss.backward()
    return {
        "values": values, "indices": indices, "vmin": vmin, "imin": imin,
        "best": best, "preds": preds, "min_indices": ones, "argmax": x.argmax(dim=1),
        "argmin": ns.T.argmin(x, dim=0), "argmax_all": x.argmax(), "max": x.max(),
        "argmax_keepdim": x.argmax(1, keepdim=True), "grad": x.grad,
    }  # fmt: skip


@program
def norms_with_p_and_dim(ns: Any) -> dict[str, Any]:
    x = randn(ns, 3, 4, seed=6, requires_grad=True)
    n1 = x.norm(p=1, dim=1)
    n2 = x.norm(2, dim=0, keepdim=True)
    ninf = x.norm(float("inf"), dim=1)
    nall = x.norm()
    nfn = ns.T.norm(x, p=2, dim=1)
    n3 = x.norm(p=3, dim=(0, 1))
    loss = n1.sum() + n2.sum() + ninf.sum() + nall + nfn.sum() + n3
    loss.backward()
    return {"p1": n1, "p2": n2, "pinf": ninf, "all": nall, "fn": nfn, "p3": n3, "grad": x.grad}


@program
def reshaping_and_transposing(ns: Any) -> dict[str, Any]:
    x = randn(ns, 2, 3, 4, seed=7, requires_grad=True)
    w = randn(ns, 4, 2, 3, seed=8)
    t = x.transpose(0, 1)
    t2 = ns.T.transpose(x, 1, 2)
    p = x.permute(2, 0, 1)
    mt = x.mT
    v = x.view(-1, 4)
    r = x.reshape(6, 4)
    r2 = x.reshape((4, -1))
    f = x.flatten(1)
    f0 = x.flatten()
    u = f.unflatten(1, (3, 4))
    sq = x.squeeze(1)  # not a size-1 dim: unchanged
    u1 = x.unsqueeze(1)
    s = u1.squeeze(1)
    s_all = x[:, :1].squeeze()
    loss = (
        (t.sum(0) * 2).sum() + (t2 * t2).sum() + (p * w).sum() + mt.sum(-1).pow(2).sum()
        + (v @ w.reshape(4, 6)).sum() + r.std() + r2.sum() + (f * f0.view(2, 12)).sum()
        + (u - x).abs().sum() + sq.sum() + s.mean() + s_all.pow(2).sum()
    )  # fmt: skip
    loss.backward()
    return {
        "t": t, "t2": t2, "p": p, "mT": mt, "v": v, "r": r, "r2": r2, "f": f, "u": u,
        "sq": sq, "u1_shape": tuple(u1.shape), "s_all": s_all, "grad": x.grad,
    }  # fmt: skip


@program
def cat_stack_split_chunk(ns: Any) -> dict[str, Any]:
    a = randn(ns, 2, 5, seed=9, requires_grad=True)
    b = randn(ns, 2, 3, seed=10, requires_grad=True)
    c = ns.T.cat([a, b], dim=1)
    c0 = ns.T.cat((a, a * 2), 0)
    st = ns.T.stack([a, a.exp()], dim=1)
    st0 = ns.T.stack((b, b))
    pieces = c.split(3, dim=1)
    sized = ns.T.split(c, [2, 1, 5], dim=1)
    chunks = c0.chunk(3, dim=0)
    chunks1 = a.chunk(2, 1)
    loss = (
        sum((i + 1) * piece.sum() for i, piece in enumerate(pieces))
        + sum(piece.pow(2).sum() * (i + 2) for i, piece in enumerate(sized))
        + sum(ch.sum() * (i - 1) for i, ch in enumerate(chunks))
        + (chunks1[0] * 3).sum() + chunks1[1].pow(3).sum()
        + st.sum(1).pow(2).sum() + st0.mean()
    )  # fmt: skip
    loss.backward()
    return {
        "cat": c, "cat0": c0, "stack": st, "stack0": st0, "pieces": pieces,
        "sized": sized, "chunks": chunks, "chunks1": chunks1,
        "n_pieces": len(pieces), "a.grad": a.grad, "b.grad": b.grad,
    }  # fmt: skip


@program
def gather_masked_fill_where_clamp(ns: Any) -> dict[str, Any]:
    x = randn(ns, 3, 4, seed=11, requires_grad=True)
    index = ns.T.tensor([[0, 2], [3, 3], [1, 0]])
    g = x.gather(1, index)
    g0 = ns.T.gather(x, 0, ns.T.tensor([[2, 1, 0, 0]]))
    mf = x.masked_fill(x > 0.5, -1.0)
    w1 = ns.T.where(x > 0, x, 0.0)
    w2 = ns.T.where(x < 0, 1.0, x * 2)
    c1 = x.clamp(min=-0.5, max=0.5)
    c2 = x.clamp(min=1.0, max=0.0)  # min > max: every element is max
    c3 = ns.T.clamp(x, min=0)
    c4 = x.clip(-1, 1)
    c5 = x.clamp(max=0.2)
    loss = (
        (g * 3).sum() + g0.sum() + mf.pow(2).sum() + w1.sum() + w2.pow(2).sum()
        + c1.sum() + c2.sum() + c3.sum() * 2 + c4.pow(2).sum() + c5.sum()
    )  # fmt: skip
    loss.backward()
    return {
        "gather": g, "gather0": g0, "masked_fill": mf, "where1": w1, "where2": w2,
        "clamp": c1, "clamp_min_gt_max": c2, "clamp_min": c3, "clip": c4, "clamp_max": c5,
        "grad": x.grad,
    }  # fmt: skip


@program
def clamp_with_tensor_bounds(ns: Any) -> dict[str, Any]:
    x = randn(ns, 3, 4, seed=97, requires_grad=True)
    low = ns.T.tensor([-0.5, -1.0, 0.0, -0.2], dtype=ns.f64)
    y = x.clamp(min=low, max=low + 1)
    z = ns.T.clamp(x, min=low)
    (y.sum() + z.pow(2).sum()).backward()
    return {"y": y, "z": z, "grad": x.grad}


@program
def sort_topk_argsort_cumsum(ns: Any) -> dict[str, Any]:
    x = randn(ns, 3, 5, seed=12, requires_grad=True)
    sv, si = x.sort(dim=1, descending=True)
    s0 = ns.T.sort(x, 0)
    tv, ti = x.topk(2, dim=1)
    low = ns.T.topk(x, 3, dim=0, largest=False)
    order = x.argsort(dim=1)
    order_desc = ns.T.argsort(x, dim=0, descending=True)
    cs = x.cumsum(dim=1)
    cs0 = ns.T.cumsum(x, 0)
    weights = ns.T.tensor(np.arange(1.0, 16.0).reshape(3, 5), dtype=ns.f64)
    loss = (
        (sv * weights).sum() + (s0.values * weights).sum() + tv.pow(2).sum()
        + low.values.sum() + (cs * weights).sum() + cs0.pow(2).sum()
    )  # fmt: skip
    loss.backward()
    return {
        "sorted": sv, "sort_indices": si, "sort0": s0, "topk": tv, "topk_indices": ti,
        "bottom3": low, "argsort": order, "argsort_desc": order_desc, "cumsum": cs,
        "cumsum0": cs0, "grad": x.grad,
    }  # fmt: skip


@program
def softmax_and_log_softmax(ns: Any) -> dict[str, Any]:
    logits = randn(ns, 4, 3, seed=13, requires_grad=True)
    target = ns.T.tensor([2, 0, 1, 1])
    p1 = ns.F.softmax(logits, dim=1)
    p0 = logits.softmax(dim=0)
    p_fn = ns.T.softmax(logits, dim=-1)
    logp = ns.F.log_softmax(logits, dim=-1)
    logp_m = logits.log_softmax(1)
    nll = -logp.gather(1, target.unsqueeze(1)).mean()
    loss = nll + (p1 * p0).sum() + p_fn.pow(2).sum() + logp_m.sum() * 0.1
    loss.backward()
    return {"softmax": p1, "softmax0": p0, "fn": p_fn, "logp": logp, "nll": nll,
            "grad": logits.grad}  # fmt: skip


@program
def indexing_and_setitem_under_no_grad(ns: Any) -> dict[str, Any]:
    x = randn(ns, 4, 5, seed=14, requires_grad=True)
    row = x[1]
    col = x[:, 2]
    pos = x[x > 0]
    picked = x[[0, 2, 2]]
    pairs = x[[0, 3], [1, 4]]
    last = x[..., -1]
    block = x[1:3, ::2]
    new_axis = x[None, 0]
    by_tensor = x[ns.T.tensor([3, 0])]
    loss = (
        row.sum() + (col * 2).sum() + pos.pow(2).sum() + picked.sum() + pairs.sum() * 3
        + last.mean() + block.pow(2).sum() + new_axis.sum() + by_tensor.sum()
    )  # fmt: skip
    loss.backward()
    buf = ns.T.zeros(3, 5, dtype=ns.f64)
    with ns.T.no_grad():
        buf[0] = x[0]
        buf[1, 2] = 5.0
        buf[:, 0] = ns.T.tensor([7.0, 8.0, 9.0], dtype=ns.f64)
        buf[2, 1:4] = -1.5
        buf[buf > 6] = 0.0
        x[0, 0] = 100.0  # a leaf that requires grad, written under no_grad
    return {
        "row": row, "col": col, "pos": pos, "picked": picked, "pairs": pairs, "last": last,
        "block": block, "new_axis": new_axis, "by_tensor": by_tensor, "grad": x.grad,
        "buf": buf, "x": x, "x.requires_grad": x.requires_grad,
    }  # fmt: skip


@program
def sizes_and_python_numbers(ns: Any) -> dict[str, Any]:
    x = randn(ns, 2, 3, 4, seed=15)
    return {
        "size": tuple(x.size()), "size1": x.size(1), "size_neg": x.size(-1),
        "shape0": x.shape[0], "numel": x.numel(), "dim": x.dim(), "ndim": x.ndim,
        "len": len(x), "item": x.sum().item(), "tolist": x[0, 0].tolist(),
        "int_item": (x > 0).sum().item(), "float": float(x.mean()),
        "count": int((x > 0).sum()), "frac": (x > 0).double().mean().item(),
        "bool": bool((x.abs() < 10).sum() == x.numel()),
        "requires_grad": x.requires_grad, "is_leaf": x.is_leaf,
    }  # fmt: skip


@program
def matmul_linear_algebra(ns: Any) -> dict[str, Any]:
    a = randn(ns, 2, 3, 4, seed=16, requires_grad=True)
    b = randn(ns, 4, 5, seed=17, requires_grad=True)
    v = randn(ns, 5, seed=18, requires_grad=True)
    y = a @ b
    yv = ns.T.matmul(y, v)
    gram = a @ a.transpose(-2, -1)
    lin = ns.F.linear(a, b.T, v)
    loss = yv.pow(2).sum() + gram.sum() + lin.tanh().sum()
    loss.backward()
    return {"y": y, "yv": yv, "gram": gram, "linear": lin, "a.grad": a.grad,
            "b.grad": b.grad, "v.grad": v.grad}  # fmt: skip


@program
def attention_with_causal_mask(ns: Any) -> dict[str, Any]:
    q = randn(ns, 2, 4, 3, seed=19, requires_grad=True)
    k = randn(ns, 2, 4, 3, seed=20, requires_grad=True)
    v = randn(ns, 2, 4, 3, seed=21, requires_grad=True)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    i = ns.T.arange(4)
    mask = i[None, :] > i[:, None]
    scores = scores.masked_fill(mask, float("-inf"))
    attn = ns.F.softmax(scores, dim=-1)
    out = attn @ v
    loss = out.pow(2).sum()
    loss.backward()
    return {"attn": attn, "out": out, "q.grad": q.grad, "k.grad": k.grad, "v.grad": v.grad}


# ---------------------------------------------------------------------------------------
# Autograd
# ---------------------------------------------------------------------------------------
@program
def manual_sgd_loop_grad_set_to_none(ns: Any) -> dict[str, Any]:
    X = randn(ns, 16, 3, seed=22)
    true_w = ns.T.tensor([[1.5], [-2.0], [0.5]], dtype=ns.f64)
    y = X @ true_w + 0.3
    w = ns.T.zeros(3, 1, dtype=ns.f64, requires_grad=True)
    b = ns.T.zeros(1, dtype=ns.f64, requires_grad=True)
    lr, losses, trajectory = 0.1, [], []
    for _ in range(12):
        loss = ((X @ w + b - y) ** 2).mean()
        loss.backward()
        with ns.T.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        w.grad = None
        b.grad = None
        losses.append(loss.item())
        trajectory.append(w.detach().clone())
    return {"losses": losses, "w": w, "b": b, "trajectory": trajectory, "grad": w.grad}


@program
def in_place_parameter_updates(ns: Any) -> dict[str, Any]:
    p = randn(ns, 3, 4, seed=25, requires_grad=True)
    q = randn(ns, 4, seed=26, requires_grad=True)
    history = []
    for step in range(5):
        loss = ((p * q).sum(1).sin() ** 2).sum() + (q**2).sum()
        loss.backward()
        with ns.T.no_grad():
            p.add_(p.grad, alpha=-0.1)
            q.sub_(q.grad, alpha=0.05)
            p.mul_(0.99)
            p.clamp_(-1.0, 1.0)
            q += 0.01 * step
            q *= 1.01
        p.grad = None
        q.grad = None
        history.append((p.detach().clone(), q.detach().clone()))
    buf = ns.T.ones(2, 3, dtype=ns.f64)
    buf.mul_(3.0)
    buf.div_(2.0)
    buf.add_(ns.T.tensor([1.0, 2.0, 3.0], dtype=ns.f64), alpha=2)
    z = buf.clone()
    z.zero_()
    f = ns.T.zeros_like(buf)
    f.fill_(4.25)
    c = ns.T.zeros(2, 3, dtype=ns.f64)
    c.copy_(buf)
    c.clamp_(min=2.0, max=1.0)  # min > max
    return {"history": history, "buf": buf, "zeroed": z, "filled": f, "copied_clamped": c}


@program
def gradient_penalty_with_create_graph(ns: Any) -> dict[str, Any]:
    x = randn(ns, 5, 3, seed=27, requires_grad=True)
    w1 = randn(ns, 3, 4, seed=28, requires_grad=True)
    w2 = randn(ns, 4, 1, seed=29, requires_grad=True)
    critic = ((x @ w1).tanh() @ w2).sum()
    (gx,) = ns.autograd.grad(critic, x, create_graph=True)
    penalty = ((gx.norm(2, dim=1) - 1) ** 2).mean()
    loss = critic + 10 * penalty
    loss.backward()
    # a second derivative of a scalar function, twice differentiated
    t = ns.T.tensor([0.3, -1.2, 2.0], dtype=ns.f64, requires_grad=True)
    (g1,) = ns.autograd.grad((t**3 * t.sin()).sum(), t, create_graph=True)
    (g2,) = ns.autograd.grad(g1.sum(), t)
    return {"gx": gx, "penalty": penalty, "x.grad": x.grad, "w1.grad": w1.grad,
            "w2.grad": w2.grad, "g1": g1, "g2": g2}  # fmt: skip


@program
def autograd_grad_several_inputs(ns: Any) -> dict[str, Any]:
    a = randn(ns, 3, seed=30, requires_grad=True)
    b = randn(ns, 3, seed=31, requires_grad=True)
    unused = randn(ns, 2, seed=32, requires_grad=True)
    y = a * b.exp() + a**2
    ga, gb = ns.autograd.grad(y.sum(), [a, b], retain_graph=True)
    gv = ns.autograd.grad(y, a, grad_outputs=ns.T.tensor([1.0, -2.0, 0.5], dtype=ns.f64),
                          retain_graph=True)  # fmt: skip
    ga2, gu = ns.autograd.grad(y.sum(), (a, unused), allow_unused=True)
    z = (a * b).sum()
    z.backward(retain_graph=True)
    z.backward()  # accumulates
    y2 = a * 3
    y2.backward(ns.T.ones(3, dtype=ns.f64) * 0.5)
    return {"ga": ga, "gb": gb, "gv": gv, "ga2": ga2, "unused_is_none": gu is None,
            "a.grad": a.grad, "b.grad": b.grad}  # fmt: skip


@program
def hooks_scale_gradients(ns: Any) -> dict[str, Any]:
    x = randn(ns, 4, seed=33, requires_grad=True)
    w = randn(ns, 4, seed=34, requires_grad=True)
    h = x * w
    h.register_hook(lambda g: g * 3)
    handle = w.register_hook(lambda g: g * 10)
    y = (h.tanh() ** 2).sum()
    y.backward()
    first = (x.grad, w.grad)
    handle.remove()
    x.grad = None
    w.grad = None
    (x * w).sum().backward()
    return {"first_x": first[0], "first_w": first[1], "second_x": x.grad, "second_w": w.grad}


@program
def retain_grad_on_non_leaf(ns: Any) -> dict[str, Any]:
    x = randn(ns, 3, 2, seed=35, requires_grad=True)
    h = x.exp() * 2
    h.retain_grad()
    z = (h.sum(1) ** 2).sum()
    z.backward()
    return {"h.grad": h.grad, "x.grad": x.grad, "h.is_leaf": h.is_leaf}


@program
def retain_grad_sees_hooked_gradient(ns: Any) -> dict[str, Any]:
    x = ns.T.tensor([1.0, 2.0, 3.0], dtype=ns.f64, requires_grad=True)
    h = x * 2
    h.retain_grad()
    h.register_hook(lambda g: g * 3)
    (h**2).sum().backward()
    return {"h.grad": h.grad, "x.grad": x.grad}


@program
def detach_no_grad_and_grad_modes(ns: Any) -> dict[str, Any]:
    x = randn(ns, 4, seed=36, requires_grad=True)
    y = x * x.detach() + x.detach().exp()
    y.sum().backward()
    with ns.T.no_grad():
        z = x * 2
        with ns.T.enable_grad():
            inner = x * 3
    with ns.T.set_grad_enabled(False):
        off = x + 1
    d = x.detach()
    return {
        "y": y, "grad": x.grad, "z.requires_grad": z.requires_grad,
        "inner.requires_grad": inner.requires_grad, "off.requires_grad": off.requires_grad,
        "d.requires_grad": d.requires_grad, "d.is_leaf": d.is_leaf,
        "y.requires_grad": y.requires_grad, "enabled": ns.T.is_grad_enabled(),
    }  # fmt: skip


def make_functions(base: Any) -> tuple[Any, Any]:
    """Two custom autograd Functions, the same bodies on each engine's ``Function``."""

    class ScaledCube(base):
        @staticmethod
        def forward(ctx: Any, x: Any, w: Any) -> Any:
            ctx.save_for_backward(x, w)
            return w * x**3

        @staticmethod
        def backward(ctx: Any, grad_output: Any) -> Any:
            x, w = ctx.saved_tensors
            grad_x = grad_w = None
            if ctx.needs_input_grad[0]:
                grad_x = grad_output * 3 * w * x**2
            if ctx.needs_input_grad[1]:
                grad_w = (grad_output * x**3).sum(0)
            return grad_x, grad_w

    class ClampedExp(base):
        @staticmethod
        def forward(ctx: Any, x: Any, limit: float) -> Any:
            out = x.clamp(max=limit).exp()
            ctx.save_for_backward(x, out)
            ctx.limit = limit
            return out

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            x, out = ctx.saved_tensors
            return g * out * (x <= ctx.limit).to(out.dtype), None

    return ScaledCube, ClampedExp


@program
def custom_autograd_function(ns: Any) -> dict[str, Any]:
    ScaledCube, ClampedExp = make_functions(ns.Function)
    x = randn(ns, 4, 3, seed=37, requires_grad=True)
    w = randn(ns, 3, seed=38, requires_grad=True)
    y = ScaledCube.apply(x, w)
    e = ClampedExp.apply(x, 0.5)
    loss = (y.tanh() + e).sum()
    loss.backward()
    # second order through the custom backward (written with tensor operations)
    t = ns.T.tensor([0.5, -1.0, 2.0], dtype=ns.f64, requires_grad=True)
    c = ns.T.tensor([1.0, 2.0, -1.0], dtype=ns.f64)
    (g1,) = ns.autograd.grad(ScaledCube.apply(t, c).sum(), t, create_graph=True)
    (g2,) = ns.autograd.grad(g1.sum(), t)
    return {"y": y, "e": e, "x.grad": x.grad, "w.grad": w.grad, "g1": g1, "g2": g2}


@program
def autograd_functional_api(ns: Any) -> dict[str, Any]:
    fn = ns.autograd.functional
    x = ns.T.tensor([0.5, -1.0, 2.0], dtype=ns.f64)
    v = ns.T.tensor([1.0, 0.5, -2.0], dtype=ns.f64)

    def f(t: Any) -> Any:
        return (t**3).sum() + (t[0] * t[1] * t[2]) + t.exp().sum()

    def g(t: Any) -> Any:
        return ns.T.stack([t.sin() * t[0], t**2], dim=0)

    def h(a: Any, b: Any) -> Any:
        return (a * b.exp()).sum() + (a**2 * b).sum()

    y = ns.T.tensor([0.2, 0.3, -0.4], dtype=ns.f64)
    return {
        "jacobian": fn.jacobian(g, x),
        "hessian": fn.hessian(f, x),
        "hvp": fn.hvp(f, x, v),
        "vjp": fn.vjp(g, x, ns.T.ones(2, 3, dtype=ns.f64)),
        "jvp": fn.jvp(g, x, v),
        "jacobian_tuple": fn.jacobian(lambda a, b: a * b + a.exp(), (x, y)),
        "hessian_tuple": fn.hessian(h, (x, y)),
        "hvp_tuple": fn.hvp(h, (x, y), (v, v * 2)),
    }


# ---------------------------------------------------------------------------------------
# nn: modules, models, losses
# ---------------------------------------------------------------------------------------
def mlp(ns: Any) -> Any:
    nn = ns.nn
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(6, 8, dtype=ns.f64),
        nn.ReLU(),
        nn.Linear(8, 8, dtype=ns.f64),
        nn.Tanh(),
        nn.LayerNorm(8, dtype=ns.f64),
        nn.Linear(8, 6, dtype=ns.f64),
        nn.LeakyReLU(0.1),
        nn.ELU(alpha=0.7),
        nn.Dropout(0.3),
        nn.SiLU(),
        nn.Linear(6, 3, dtype=ns.f64),
    )


@program
def sequential_model_forward_backward(ns: Any) -> dict[str, Any]:
    model = mlp(ns)
    init_parameters(ns, model, seed=39)
    model.eval()  # Dropout: the identity
    x = randn(ns, 5, 2, 3, seed=40)
    target = ns.T.tensor([0, 2, 1, 1, 0])
    logits = model(x)
    probs = ns.nn.Softmax(dim=1)(logits)
    loss = ns.nn.CrossEntropyLoss()(logits, target)
    loss.backward()
    return {
        "logits": logits, "probs": probs, "loss": loss, "grads": grads(model),
        "names": [name for name, _ in model.named_parameters()],
        "n_params": sum(p.numel() for p in model.parameters()),
        "state_keys": list(model.state_dict().keys()), "training": model.training,
        "preds": logits.argmax(dim=1),
    }  # fmt: skip


@program
def state_dict_copied_between_models(ns: Any) -> dict[str, Any]:
    rng = np.random.default_rng(41)
    weights = {
        "0.weight": rng.standard_normal((4, 3)),
        "0.bias": rng.standard_normal(4),
        "2.weight": rng.standard_normal((2, 4)),
        "2.bias": rng.standard_normal(2),
    }
    model = ns.nn.Sequential(
        ns.nn.Linear(3, 4, dtype=ns.f64), ns.nn.Sigmoid(), ns.nn.Linear(4, 2, dtype=ns.f64)
    )
    model.load_state_dict({k: ns.T.tensor(v, dtype=ns.f64) for k, v in weights.items()})
    twin = ns.nn.Sequential(
        ns.nn.Linear(3, 4, dtype=ns.f64), ns.nn.Sigmoid(), ns.nn.Linear(4, 2, dtype=ns.f64)
    )
    twin.load_state_dict(model.state_dict())
    x = randn(ns, 6, 3, seed=42)
    out, out_twin = model(x), twin(x)
    model[0].requires_grad_(False)  # freeze the first layer
    opt = ns.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        ns.F.mse_loss(model(x), ns.T.zeros(6, 2, dtype=ns.f64)).backward()
        opt.step()
    return {"out": out, "out_twin": out_twin, "after": snapshot(model),
            "frozen_grad_is_none": model[0].weight.grad is None, "len": len(model)}  # fmt: skip


@program
def custom_module_training(ns: Any) -> dict[str, Any]:
    nn, F = ns.nn, ns.F

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = nn.Linear(4, 6, dtype=ns.f64)
            self.fc2 = nn.Linear(6, 3, dtype=ns.f64)
            self.scale = nn.Parameter(ns.T.ones(3, dtype=ns.f64))

        def forward(self, x: Any) -> Any:
            h = F.gelu(self.fc1(x))
            h = F.dropout(h, p=0.5, training=self.training)
            return self.fc2(h) * self.scale

    net = Net()
    init_parameters(ns, net, seed=43)
    net.eval()
    X = randn(ns, 10, 4, seed=44)
    y = ns.T.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    opt = ns.optim.SGD(net.parameters(), lr=0.2, momentum=0.5)
    losses, accuracy = [], []
    for _ in range(8):
        opt.zero_grad()
        out = net(X)
        loss = F.cross_entropy(out, y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        accuracy.append((out.max(1)[1] == y).sum().item())
    return {"losses": losses, "accuracy": accuracy, "params": snapshot(net),
            "names": [n for n, _ in net.named_parameters()]}  # fmt: skip


@program
def embedding_with_padding_idx(ns: Any) -> dict[str, Any]:
    emb = ns.nn.Embedding(7, 4, padding_idx=0, dtype=ns.f64)
    head = ns.nn.Linear(4, 2, dtype=ns.f64)
    with ns.T.no_grad():
        emb.weight.copy_(randn(ns, 7, 4, seed=45))
        emb.weight[0] = 0.0
    init_parameters(ns, head, seed=46)
    tokens = ns.T.tensor([[1, 3, 0, 0], [2, 2, 5, 0], [6, 1, 4, 3]])
    labels = ns.T.tensor([1, 0, 1])
    opt = ns.optim.SGD(list(emb.parameters()) + list(head.parameters()), lr=0.5)
    history = []
    for _ in range(4):
        opt.zero_grad()
        vectors = emb(tokens)
        mask = (tokens != 0).unsqueeze(-1).to(ns.f64)
        pooled = (vectors * mask).sum(1) / mask.sum(1)
        loss = ns.F.cross_entropy(head(pooled), labels)
        loss.backward()
        history.append((loss.item(), emb.weight.grad))
        opt.step()
    lookup = ns.F.embedding(tokens, emb.weight, padding_idx=0)
    return {"history": history, "weight": emb.weight, "lookup": lookup,
            "vectors_shape": tuple(vectors.shape)}  # fmt: skip


@program
def regression_losses_and_reductions(ns: Any) -> dict[str, Any]:
    pred = randn(ns, 4, 3, seed=47, requires_grad=True)
    target = randn(ns, 4, 3, seed=48)
    F, nn = ns.F, ns.nn
    out = {}
    total = 0
    for reduction in ("mean", "sum", "none"):
        for name, value in (
            ("mse", F.mse_loss(pred, target, reduction=reduction)),
            ("l1", F.l1_loss(pred, target, reduction=reduction)),
            ("smooth_l1", F.smooth_l1_loss(pred, target, reduction=reduction, beta=0.5)),
            ("huber", F.huber_loss(pred, target, reduction=reduction, delta=0.8)),
            ("MSELoss", nn.MSELoss(reduction=reduction)(pred, target)),
            ("L1Loss", nn.L1Loss(reduction=reduction)(pred, target)),
            ("SmoothL1Loss", nn.SmoothL1Loss(reduction=reduction)(pred, target)),
            ("HuberLoss", nn.HuberLoss(reduction=reduction, delta=2.0)(pred, target)),
        ):
            out[f"{name}_{reduction}"] = value
            total = total + value.sum()
    total.backward()
    return {**out, "grad": pred.grad}


@program
def classification_losses(ns: Any) -> dict[str, Any]:
    logits = randn(ns, 6, 4, seed=49, requires_grad=True)
    y = ns.T.tensor([0, 3, 1, 1, 2, 3])
    weight = ns.T.tensor([1.0, 2.0, 0.5, 1.5], dtype=ns.f64)
    soft = ns.F.softmax(randn(ns, 6, 4, seed=50), dim=1)
    F = ns.F
    out = {
        "ce": F.cross_entropy(logits, y),
        "ce_sum": F.cross_entropy(logits, y, reduction="sum"),
        "ce_none": F.cross_entropy(logits, y, reduction="none"),
        "ce_weight": F.cross_entropy(logits, y, weight=weight),
        "ce_ignore": F.cross_entropy(logits, y, ignore_index=3),
        "ce_weight_ignore": F.cross_entropy(logits, y, weight=weight, ignore_index=1),
        "ce_smooth": F.cross_entropy(logits, y, label_smoothing=0.1),
        "ce_smooth_weight": F.cross_entropy(logits, y, weight=weight, label_smoothing=0.2),
        "ce_probs": F.cross_entropy(logits, soft),
        "ce_probs_smooth": F.cross_entropy(logits, soft, label_smoothing=0.3),
        "ce_module": ns.nn.CrossEntropyLoss(weight=weight, ignore_index=0)(logits, y),
        "nll": F.nll_loss(F.log_softmax(logits, dim=1), y),
        "nll_weight_sum": F.nll_loss(F.log_softmax(logits, 1), y, weight=weight,
                                     reduction="sum"),
        "nll_module": ns.nn.NLLLoss(ignore_index=2)(logits.log_softmax(dim=1), y),
    }  # fmt: skip
    total = sum(v.sum() * (i + 1) for i, v in enumerate(out.values()))
    total.backward()
    return {**out, "grad": logits.grad}


@program
def binary_and_divergence_losses(ns: Any) -> dict[str, Any]:
    logits = randn(ns, 5, 3, seed=51, requires_grad=True)
    target = ns.T.tensor(np.random.default_rng(52).random((5, 3)), dtype=ns.f64)
    labels = (target > 0.5).to(ns.f64)
    probs = logits.sigmoid()
    log_q = ns.F.log_softmax(logits, dim=1)
    p = ns.F.softmax(randn(ns, 5, 3, seed=53), dim=1)
    F = ns.F
    out = {
        "bce": F.binary_cross_entropy(probs, target),
        "bce_sum_weight": F.binary_cross_entropy(probs, labels, weight=target, reduction="sum"),
        "bce_logits": F.binary_cross_entropy_with_logits(logits, target),
        "bce_logits_pos": F.binary_cross_entropy_with_logits(
            logits, labels, pos_weight=ns.T.tensor([1.0, 2.0, 3.0], dtype=ns.f64)),
        "bce_logits_none": F.binary_cross_entropy_with_logits(logits, labels, reduction="none"),
        "BCELoss": ns.nn.BCELoss()(probs, labels),
        "BCEWithLogitsLoss": ns.nn.BCEWithLogitsLoss(reduction="sum")(logits, target),
        "kl_batchmean": F.kl_div(log_q, p, reduction="batchmean"),
        "kl_sum": F.kl_div(log_q, p, reduction="sum"),
        "kl_none": F.kl_div(log_q, p, reduction="none"),
        "kl_log_target": F.kl_div(log_q, p.log(), reduction="batchmean", log_target=True),
        "KLDivLoss": ns.nn.KLDivLoss(reduction="batchmean")(log_q, p),
    }  # fmt: skip
    total = sum(v.sum() * (i + 1) for i, v in enumerate(out.values()))
    total.backward()
    return {**out, "grad": logits.grad}


@program
def functional_layers(ns: Any) -> dict[str, Any]:
    F = ns.F
    x = randn(ns, 3, 4, seed=54, requires_grad=True)
    w = randn(ns, 4, seed=55, requires_grad=True)
    b = randn(ns, 4, seed=56, requires_grad=True)
    out = {
        "layer_norm": F.layer_norm(x, (4,), w, b),
        "normalize": F.normalize(x, p=2, dim=1),
        "normalize0": F.normalize(x, dim=0),
        "one_hot": F.one_hot(ns.T.tensor([0, 2, 1, 3]), num_classes=5),
        "relu": F.relu(x), "leaky": F.leaky_relu(x, negative_slope=0.2), "elu": F.elu(x),
        "gelu": F.gelu(x), "gelu_tanh": F.gelu(x, approximate="tanh"), "silu": F.silu(x),
        "softplus": F.softplus(x, beta=2.0), "sigmoid": ns.T.sigmoid(x), "tanh": F.tanh(x),
        "hardtanh": F.hardtanh(x, -0.5, 0.5), "relu6": F.relu6(x * 4), "selu": F.selu(x),
        "mish": F.mish(x), "logsigmoid": F.logsigmoid(x), "softsign": F.softsign(x),
        "pad": F.pad(x, (1, 2)),
    }  # fmt: skip
    total = sum(v.sum() * (i + 1) for i, v in enumerate(out.values()) if v.dtype == ns.f64)
    total.backward()
    return {**out, "x.grad": x.grad, "w.grad": w.grad, "b.grad": b.grad}


# ---------------------------------------------------------------------------------------
# Optimizers and schedulers
# ---------------------------------------------------------------------------------------
def regression_problem(ns: Any, seed: int) -> tuple[Any, Any, Any]:
    """A small model and a regression batch, the same on both engines."""
    model = ns.nn.Sequential(
        ns.nn.Linear(3, 5, dtype=ns.f64), ns.nn.Tanh(), ns.nn.Linear(5, 2, dtype=ns.f64)
    )
    init_parameters(ns, model, seed=seed)
    X = randn(ns, 12, 3, seed=seed + 1)
    Y = ns.T.stack([X.sum(1).sin(), X[:, 0] * X[:, 1]], dim=1)
    return model, X, Y


def train(ns: Any, model: Any, X: Any, Y: Any, opt: Any, sched: Any, steps: int) -> Any:
    """Train, recording the parameters, the rates (and momenta) after every step."""
    params, lrs, losses = [], [], []
    for _ in range(steps):
        opt.zero_grad()
        loss = ns.F.mse_loss(model(X), Y)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        params.append(snapshot(model))
        lrs.append([group["lr"] for group in opt.param_groups])
        losses.append(loss.item())
    last_lr = sched.get_last_lr() if sched is not None else None
    return {"params": params, "lrs": lrs, "losses": losses, "last_lr": last_lr}


@program
def sgd_nesterov_weight_decay_steplr(ns: Any) -> dict[str, Any]:
    model, X, Y = regression_problem(ns, seed=60)
    opt = ns.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True,
                       weight_decay=1e-3)  # fmt: skip
    sched = ns.sched.StepLR(opt, step_size=7, gamma=0.5)
    return train(ns, model, X, Y, opt, sched, 25)


@program
def sgd_momentum_dampening_multisteplr(ns: Any) -> dict[str, Any]:
    model, X, Y = regression_problem(ns, seed=61)
    opt = ns.optim.SGD(model.parameters(), lr=0.05, momentum=0.8, dampening=0.1)
    sched = ns.sched.MultiStepLR(opt, milestones=[5, 12, 18], gamma=0.3)
    return train(ns, model, X, Y, opt, sched, 22)


@program
def adam_exponentiallr(ns: Any) -> dict[str, Any]:
    model, X, Y = regression_problem(ns, seed=62)
    opt = ns.optim.Adam(model.parameters(), lr=0.02, betas=(0.8, 0.99), weight_decay=1e-2)
    sched = ns.sched.ExponentialLR(opt, gamma=0.93)
    return train(ns, model, X, Y, opt, sched, 25)


@program
def adam_amsgrad_param_groups(ns: Any) -> dict[str, Any]:
    model, X, Y = regression_problem(ns, seed=63)
    opt = ns.optim.Adam(
        [{"params": model[0].parameters(), "lr": 0.05},
         {"params": model[2].parameters()}],
        lr=0.01, amsgrad=True,
    )  # fmt: skip
    sched = ns.sched.LambdaLR(opt, lr_lambda=[lambda e: 0.95**e, lambda e: 1 / (1 + e)])
    return train(ns, model, X, Y, opt, sched, 20)


@program
def adamw_cosineannealinglr(ns: Any) -> dict[str, Any]:
    model, X, Y = regression_problem(ns, seed=64)
    opt = ns.optim.AdamW(model.parameters(), lr=0.03, weight_decay=0.05)
    sched = ns.sched.CosineAnnealingLR(opt, T_max=10, eta_min=0.001)
    return train(ns, model, X, Y, opt, sched, 24)


@program
def rmsprop_centered_momentum_lambdalr(ns: Any) -> dict[str, Any]:
    model, X, Y = regression_problem(ns, seed=65)
    opt = ns.optim.RMSprop(model.parameters(), lr=0.01, alpha=0.9, momentum=0.5,
                           centered=True, weight_decay=1e-3)  # fmt: skip
    sched = ns.sched.LambdaLR(opt, lambda epoch: 1.0 / (1.0 + 0.1 * epoch))
    return train(ns, model, X, Y, opt, sched, 25)


@program
def adagrad_steplr(ns: Any) -> dict[str, Any]:
    model, X, Y = regression_problem(ns, seed=66)
    opt = ns.optim.Adagrad(model.parameters(), lr=0.1, lr_decay=0.01, weight_decay=1e-3,
                           initial_accumulator_value=0.1)  # fmt: skip
    sched = ns.sched.StepLR(opt, step_size=5)
    return train(ns, model, X, Y, opt, sched, 21)


@program
def sgd_onecyclelr_with_momentum_cycling(ns: Any) -> dict[str, Any]:
    model, X, Y = regression_problem(ns, seed=67)
    opt = ns.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    sched = ns.sched.OneCycleLR(opt, max_lr=0.2, total_steps=30)
    out = train(ns, model, X, Y, opt, sched, 29)
    return {**out, "momentum": opt.param_groups[0]["momentum"]}


@program
def adam_onecyclelr_linear_three_phase(ns: Any) -> dict[str, Any]:
    model, X, Y = regression_problem(ns, seed=68)
    opt = ns.optim.Adam(model.parameters(), lr=0.01)
    sched = ns.sched.OneCycleLR(opt, max_lr=0.05, epochs=4, steps_per_epoch=6,
                                anneal_strategy="linear", three_phase=True)  # fmt: skip
    out = train(ns, model, X, Y, opt, sched, 23)
    return {**out, "betas": list(opt.param_groups[0]["betas"])}


@program
def reduce_lr_on_plateau(ns: Any) -> dict[str, Any]:
    model, X, Y = regression_problem(ns, seed=69)
    opt = ns.optim.SGD(model.parameters(), lr=0.1)
    sched = ns.sched.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=2, cooldown=1,
                                       min_lr=0.01)  # fmt: skip
    metrics = [1.0, 0.9, 0.95, 0.92, 0.91, 0.93, 0.94, 0.8, 0.85, 0.86, 0.87, 0.88,
               0.89, 0.9, 0.91, 0.92, 0.93, 0.95, 0.96, 0.97, 0.98, 0.99]  # fmt: skip
    lrs, params = [], []
    for metric in metrics:
        opt.zero_grad()
        loss = ns.F.mse_loss(model(X), Y)
        loss.backward()
        opt.step()
        sched.step(metric)
        lrs.append(opt.param_groups[0]["lr"])
        params.append(snapshot(model))
    # a validation loss tensor as the metric, as training loops pass it
    for _ in range(4):
        opt.zero_grad()
        loss = ns.F.mse_loss(model(X), Y)
        loss.backward()
        opt.step()
        with ns.T.no_grad():
            val_loss = ns.F.mse_loss(model(X * 0.9), Y)
        sched.step(val_loss)
        lrs.append(opt.param_groups[0]["lr"])
    return {"lrs": lrs, "params": params, "last_lr": sched.get_last_lr()}


@program
def optimizer_zero_grad_and_accumulation(ns: Any) -> dict[str, Any]:
    model, X, Y = regression_problem(ns, seed=70)
    opt = ns.optim.SGD(model.parameters(), lr=0.05)
    record = []
    for _ in range(3):
        opt.zero_grad()
        for xb, yb in ((X[:6], Y[:6]), (X[6:], Y[6:])):  # accumulate over micro-batches
            loss = ns.F.mse_loss(model(xb), yb) / 2
            loss.backward()
        record.append(grads(model))
        opt.step()
    opt.zero_grad()
    none_after = [p.grad is None for p in model.parameters()]
    ns.F.mse_loss(model(X), Y).backward()
    model.zero_grad(set_to_none=False)
    zeros_after = [p.grad for p in model.parameters()]
    return {"grads": record, "params": snapshot(model), "none_after": none_after,
            "zeros_after": zeros_after}  # fmt: skip


# ---------------------------------------------------------------------------------------
# Data, utilities, checkpoints, dtypes
# ---------------------------------------------------------------------------------------
@program
def tensordataset_dataloader_training(ns: Any) -> dict[str, Any]:
    X = randn(ns, 10, 3, seed=71)
    y = ns.T.tensor([0, 1, 1, 0, 2, 2, 1, 0, 2, 1])
    ds = ns.data.TensorDataset(X, y)
    first = ds[3]
    loader = ns.data.DataLoader(ds, batch_size=4, shuffle=False)
    dropping = ns.data.DataLoader(ds, batch_size=3, shuffle=False, drop_last=True)
    model = ns.nn.Sequential(ns.nn.Linear(3, 3, dtype=ns.f64))
    init_parameters(ns, model, seed=72)
    opt = ns.optim.Adam(model.parameters(), lr=0.05)
    losses, batches = [], []
    for _epoch in range(3):
        for xb, yb in loader:
            opt.zero_grad()
            loss = ns.F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            batches.append((xb, yb))
    return {"len_ds": len(ds), "first": first, "len_loader": len(loader),
            "len_dropping": len(dropping), "dropping": list(dropping),
            "batches": batches, "losses": losses, "params": snapshot(model)}  # fmt: skip


@program
def gradient_clipping_and_parameter_vectors(ns: Any) -> dict[str, Any]:
    model, X, Y = regression_problem(ns, seed=73)
    loss = ns.F.mse_loss(model(X), Y) * 50
    loss.backward()
    raw = {k: g * 1 for k, g in grads(model).items()}  # copies: clipping works in place
    norm = ns.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    clipped = grads(model)
    norm_inf = ns.utils.clip_grad_norm_(model.parameters(), max_norm=0.05, norm_type=float("inf"))
    clipped_inf = grads(model)
    norm_big = ns.utils.clip_grad_norm_(list(model.parameters()), max_norm=100.0)
    ns.utils.clip_grad_value_(model.parameters(), clip_value=0.001)
    by_value = grads(model)
    vec = ns.utils.parameters_to_vector(model.parameters())
    ns.utils.vector_to_parameters(vec * 2, model.parameters())
    return {"raw": raw, "norm": norm, "clipped": clipped, "norm_inf": norm_inf,
            "clipped_inf": clipped_inf, "norm_big": norm_big, "by_value": by_value,
            "vec": vec, "doubled": snapshot(model)}  # fmt: skip


@program
def clip_grad_norm_in_training_loop(ns: Any) -> dict[str, Any]:
    model, X, Y = regression_problem(ns, seed=74)
    opt = ns.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
    norms, params = [], []
    for _ in range(15):
        opt.zero_grad()
        loss = ns.F.mse_loss(model(X), Y)
        loss.backward()
        norms.append(ns.utils.clip_grad_norm_(model.parameters(), 0.5).item())
        opt.step()
        params.append(snapshot(model))
    return {"norms": norms, "params": params}


@program
def save_load_and_continue_training(ns: Any) -> dict[str, Any]:
    model, X, Y = regression_problem(ns, seed=75)
    opt = ns.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(5):
        opt.zero_grad()
        ns.F.mse_loss(model(X), Y).backward()
        opt.step()
    path = ns.tmp / "checkpoint.pt"
    ns.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 5}, path)
    checkpoint = ns.load(path)
    restored, _, _ = regression_problem(ns, seed=76)  # different weights until loaded
    restored.load_state_dict(checkpoint["model"])
    restored_opt = ns.optim.Adam(restored.parameters(), lr=0.02)
    restored_opt.load_state_dict(checkpoint["optimizer"])
    same_start = all(
        bool((a == b).sum() == a.numel())
        for a, b in zip(model.parameters(), restored.parameters())
    )
    original, continued = [], []
    for m, o, out in ((model, opt, original), (restored, restored_opt, continued)):
        for _ in range(5):
            o.zero_grad()
            loss = ns.F.mse_loss(m(X), Y)
            loss.backward()
            o.step()
            out.append(loss.item())
    return {"epoch": checkpoint["epoch"], "same_start": same_start, "original": original,
            "continued": continued, "params": snapshot(restored),
            "identical": original == continued}  # fmt: skip


@program
def set_default_dtype_round_trip(ns: Any) -> dict[str, Any]:
    old = ns.T.get_default_dtype()
    try:
        ns.T.set_default_dtype(ns.T.float32)
        x = ns.T.tensor([1.5, 2.25, -0.125])
        z = ns.T.zeros(2)
        is32 = (x.dtype == ns.T.float32, z.dtype == ns.T.float32)
        ns.T.set_default_dtype(ns.f64)
        y = ns.T.tensor([0.1, 0.2])
        lin = ns.nn.Linear(2, 1)
        is64 = (y.dtype == ns.f64, ns.T.ones(3).dtype == ns.f64, lin.weight.dtype == ns.f64)
        s = (y * 3).sum()
    finally:
        ns.T.set_default_dtype(old)
    restored = ns.T.get_default_dtype() == old
    return {"x": x, "is32": is32, "is64": is64, "y": y, "s": s, "restored": restored,
            "after": ns.T.tensor([0.5]).dtype == old}  # fmt: skip


@program
def classifier_training_with_accuracy(ns: Any) -> dict[str, Any]:
    rng = np.random.default_rng(77)
    centers = np.array([[2.0, 0.0], [-1.0, 1.5], [-1.0, -1.5]])
    labels = np.repeat(np.arange(3), 8)
    X = ns.T.tensor(centers[labels] + rng.standard_normal((24, 2)) * 0.7, dtype=ns.f64)
    y = ns.T.tensor(labels)
    model = ns.nn.Sequential(ns.nn.Linear(2, 8, dtype=ns.f64), ns.nn.ReLU(),
                             ns.nn.Linear(8, 3, dtype=ns.f64))  # fmt: skip
    init_parameters(ns, model, seed=78)
    opt = ns.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    sched = ns.sched.StepLR(opt, step_size=10, gamma=0.5)
    correct, losses = [], []
    for _ in range(25):
        model.train()
        opt.zero_grad()
        out = model(X)
        loss = ns.nn.CrossEntropyLoss(label_smoothing=0.05)(out, y)
        loss.backward()
        opt.step()
        sched.step()
        model.eval()
        with ns.T.no_grad():
            preds = model(X).argmax(dim=1)
            correct.append(int((preds == y).sum()))
        losses.append(loss.item())
    return {"correct": correct, "losses": losses, "preds": preds, "lr": sched.get_last_lr()}


@program
def chained_exponential_and_multistep(ns: Any) -> dict[str, Any]:
    """PyTorch's documented chaining: two schedulers stepped back to back."""
    model, X, Y = regression_problem(ns, seed=79)
    opt = ns.optim.SGD(model.parameters(), lr=0.1, momentum=0.5)
    s1 = ns.sched.ExponentialLR(opt, gamma=0.9)
    s2 = ns.sched.MultiStepLR(opt, milestones=[4, 9], gamma=0.1)
    lrs, params = [], []
    for _ in range(12):
        opt.zero_grad()
        ns.F.mse_loss(model(X), Y).backward()
        opt.step()
        s1.step()
        s2.step()
        lrs.append(opt.param_groups[0]["lr"])
        params.append(snapshot(model))
    return {"lrs": lrs, "params": params, "last": [s1.get_last_lr(), s2.get_last_lr()]}


@program
def scheduler_state_dict_resume(ns: Any) -> dict[str, Any]:
    model, X, Y = regression_problem(ns, seed=80)
    opt = ns.optim.SGD(model.parameters(), lr=0.2)
    sched = ns.sched.MultiStepLR(opt, milestones=[2, 2, 5], gamma=0.5)  # a repeated milestone
    for _ in range(3):
        opt.step()
        sched.step()
    state = sched.state_dict()
    resumed = ns.sched.MultiStepLR(opt, milestones=[2, 2, 5], gamma=0.5)
    resumed.load_state_dict(state)
    lrs = []
    for _ in range(5):
        opt.zero_grad()
        ns.F.mse_loss(model(X), Y).backward()
        opt.step()
        resumed.step()
        lrs.append(resumed.get_last_lr())
    return {"lrs": lrs, "last_epoch": resumed.last_epoch, "params": snapshot(model)}


@program
def errors_match_pytorch(ns: Any) -> dict[str, Any]:
    """The autograd errors PyTorch raises, sg raises too (as RuntimeError)."""

    def raises(fn: Callable[[], Any]) -> bool:
        try:
            fn()
        except RuntimeError:
            return True
        return False

    def backward_twice() -> None:
        x = randn(ns, 3, seed=98, requires_grad=True)
        y = (x.exp() * x).sum()
        y.backward()
        y.backward()

    def non_scalar() -> None:
        (randn(ns, 3, seed=99, requires_grad=True) * 2).backward()

    def modified_saved_tensor() -> None:
        x = randn(ns, 3, seed=100, requires_grad=True)
        y = x.exp()
        z = y * y
        with ns.T.no_grad():
            y[0] = 5.0
        z.sum().backward()

    def no_grad_required() -> None:
        (randn(ns, 3, seed=101) * 2).sum().backward()

    def leaf_in_place() -> None:
        x = randn(ns, 3, seed=102, requires_grad=True)
        x += 1

    def retain_graph_ok() -> None:
        x = randn(ns, 3, seed=103, requires_grad=True)
        y = (x.exp() * x).sum()
        y.backward(retain_graph=True)
        y.backward()

    return {
        "backward_twice": raises(backward_twice), "non_scalar": raises(non_scalar),
        "modified_saved_tensor": raises(modified_saved_tensor),
        "no_grad_required": raises(no_grad_required), "leaf_in_place": raises(leaf_in_place),
        "retain_graph_ok": raises(retain_graph_ok),
    }  # fmt: skip


@program
def pinn_training_with_input_derivatives(ns: Any) -> dict[str, Any]:
    """Fit u'' = -u with u(0) = 0, u'(0) = 1: derivatives of the network in the loss."""
    model = ns.nn.Sequential(
        ns.nn.Linear(1, 8, dtype=ns.f64), ns.nn.Tanh(), ns.nn.Linear(8, 8, dtype=ns.f64),
        ns.nn.Tanh(), ns.nn.Linear(8, 1, dtype=ns.f64),
    )  # fmt: skip
    init_parameters(ns, model, seed=104)
    opt = ns.optim.Adam(model.parameters(), lr=0.01)
    t = ns.T.tensor(np.linspace(0.0, 2.0, 9).reshape(-1, 1), dtype=ns.f64, requires_grad=True)
    t0 = ns.T.zeros(1, 1, dtype=ns.f64, requires_grad=True)
    losses, params = [], []
    for _ in range(8):
        opt.zero_grad()
        u = model(t)
        (du,) = ns.autograd.grad(u.sum(), t, create_graph=True)
        (d2u,) = ns.autograd.grad(du.sum(), t, create_graph=True)
        u0 = model(t0)
        (du0,) = ns.autograd.grad(u0.sum(), t0, create_graph=True)
        loss = ((d2u + u) ** 2).mean() + (u0**2).sum() + ((du0 - 1) ** 2).sum()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        params.append(snapshot(model))
    return {"losses": losses, "params": params, "d2u": d2u, "t.grad": t.grad}


@program
def sequence_model_with_kdim_cross_entropy(ns: Any) -> dict[str, Any]:
    nn, F = ns.nn, ns.F

    class TinyLM(nn.Module):
        def __init__(self, vocab: int, dim: int) -> None:
            super().__init__()
            self.embed = nn.Embedding(vocab, dim, padding_idx=0, dtype=ns.f64)
            self.qkv = nn.Linear(dim, 3 * dim, bias=False, dtype=ns.f64)
            self.norm = nn.LayerNorm(dim, dtype=ns.f64)
            self.head = nn.Linear(dim, vocab, dtype=ns.f64)

        def forward(self, tokens: Any) -> Any:
            h = self.embed(tokens)
            q, k, v = self.qkv(h).chunk(3, dim=-1)
            scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
            n = tokens.size(1)
            causal = ns.T.arange(n)[None, :] > ns.T.arange(n)[:, None]
            attn = F.softmax(scores.masked_fill(causal, float("-inf")), dim=-1)
            return self.head(self.norm(h + attn @ v))

    model = TinyLM(vocab=6, dim=4)
    init_parameters(ns, model, seed=105)
    tokens = ns.T.tensor([[1, 4, 2, 5, 0], [3, 3, 1, 0, 0]])
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    opt = ns.optim.AdamW(model.parameters(), lr=0.05, weight_decay=0.01)
    sched = ns.sched.OneCycleLR(opt, max_lr=0.1, total_steps=8)
    losses, lrs = [], []
    for _ in range(6):
        opt.zero_grad()
        logits = model(inputs)
        loss = F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=0)
        flat = F.cross_entropy(logits.reshape(-1, 6), targets.reshape(-1), ignore_index=0)
        loss.backward()
        opt.step()
        sched.step()
        losses.append((loss.item(), flat.item()))
        lrs.append(sched.get_last_lr())
    return {"losses": losses, "lrs": lrs, "params": snapshot(model), "logits": logits}


@program
def autoencoder_training(ns: Any) -> dict[str, Any]:
    nn = ns.nn
    encoder = nn.Sequential(
        nn.Linear(6, 4, dtype=ns.f64),
        nn.GELU(),
        nn.LayerNorm(4, dtype=ns.f64),
        nn.Linear(4, 2, dtype=ns.f64),
    )
    decoder = nn.Sequential(
        nn.Linear(2, 4, dtype=ns.f64), nn.SiLU(), nn.Linear(4, 6, dtype=ns.f64)
    )
    init_parameters(ns, encoder, seed=106)
    init_parameters(ns, decoder, seed=107)
    X = randn(ns, 10, 6, seed=108)
    params = list(encoder.parameters()) + list(decoder.parameters())
    opt = ns.optim.RMSprop(params, lr=0.01, alpha=0.95)
    losses = []
    for _ in range(10):
        opt.zero_grad()
        z = encoder(X)
        recon = decoder(z)
        loss = ns.F.mse_loss(recon, X) + 1e-3 * z.abs().mean() + ns.F.huber_loss(recon, X)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {"losses": losses, "encoder": snapshot(encoder), "decoder": snapshot(decoder),
            "z": z}  # fmt: skip


@program
def newton_quantities_for_logistic_regression(ns: Any) -> dict[str, Any]:
    X = randn(ns, 12, 3, seed=109)
    y = (X[:, 0] - X[:, 1] > 0).to(ns.f64)
    w0 = ns.T.tensor([0.1, -0.2, 0.3], dtype=ns.f64)

    def loss_fn(w: Any) -> Any:
        return ns.F.binary_cross_entropy_with_logits(X @ w, y) + 0.01 * (w**2).sum()

    fn = ns.autograd.functional
    w = w0.clone().requires_grad_()
    (g,) = ns.autograd.grad(loss_fn(w), w)
    H = fn.hessian(loss_fn, w0)
    _, Hg = fn.hvp(loss_fn, w0, g.detach())
    J = fn.jacobian(lambda v: (X @ v).sigmoid(), w0)
    # a few Newton-like steps with a diagonal preconditioner read off the Hessian
    diagonal = ns.T.stack([H[i, i] for i in range(3)]) + 0.1
    trajectory, w = [], w0.clone()
    for _ in range(3):
        w_req = w.detach().requires_grad_()
        (gk,) = ns.autograd.grad(loss_fn(w_req), w_req)
        with ns.T.no_grad():
            w = w - gk / diagonal
        trajectory.append(w)
    return {"g": g, "H": H, "Hg": Hg, "J": J, "trajectory": trajectory}


# ---------------------------------------------------------------------------------------
# Known differences: each fails on sg (the reason says how), and passes on PyTorch
# ---------------------------------------------------------------------------------------
@program
def std_var_positional_unbiased(ns: Any) -> dict[str, Any]:
    x = randn(ns, 3, 5, seed=81, requires_grad=True)
    biased_std = x.std(1, False)
    biased_var = x.var(1, False)
    fn_var = ns.T.var(x, 0, True)
    fn_std = ns.T.std(x, 0, False)
    (biased_std.sum() + biased_var.sum() + fn_var.sum() + fn_std.sum()).backward()
    return {"std": biased_std, "var": biased_var, "fn_var": fn_var, "fn_std": fn_std,
            "grad": x.grad}  # fmt: skip


@program
def leaf_hook_with_autograd_grad(ns: Any) -> dict[str, Any]:
    x = randn(ns, 3, seed=85, requires_grad=True)
    x.register_hook(lambda g: g * 10)
    (gx,) = ns.autograd.grad((x**2).sum(), x)
    return {"gx": gx}


@program
def chained_step_and_warmup_schedulers(ns: Any) -> dict[str, Any]:
    lrs = {}
    for name, make in (
        ("step+exp", lambda o: [ns.sched.StepLR(o, 3, 0.5), ns.sched.ExponentialLR(o, 0.9)]),
        ("linear+exp", lambda o: [ns.sched.LinearLR(o, start_factor=0.2, total_iters=4),
                                  ns.sched.ExponentialLR(o, 0.9)]),
        ("cosine+exp", lambda o: [ns.sched.CosineAnnealingLR(o, T_max=6),
                                  ns.sched.ExponentialLR(o, 0.9)]),
    ):  # fmt: skip
        w = ns.T.zeros(2, dtype=ns.f64, requires_grad=True)
        opt = ns.optim.SGD([w], lr=1.0)
        schedulers = make(opt)
        lrs[name] = []
        for _ in range(10):
            opt.step()
            for s in schedulers:
                s.step()
            lrs[name].append(opt.param_groups[0]["lr"])
    return lrs


@program
def activation_inplace_argument(ns: Any) -> dict[str, Any]:
    model = ns.nn.Sequential(
        ns.nn.Linear(3, 4, dtype=ns.f64), ns.nn.ReLU(inplace=True),
        ns.nn.Dropout(0.2, inplace=False), ns.nn.Linear(4, 1, dtype=ns.f64),
    )  # fmt: skip
    init_parameters(ns, model, seed=86)
    model.eval()
    x = randn(ns, 5, 3, seed=87)
    return {"out": model(x), "relu": ns.F.relu(x, inplace=False)}


@program
def sequential_slicing_as_feature_extractor(ns: Any) -> dict[str, Any]:
    model = ns.nn.Sequential(
        ns.nn.Linear(3, 4, dtype=ns.f64), ns.nn.Tanh(), ns.nn.Linear(4, 2, dtype=ns.f64)
    )
    init_parameters(ns, model, seed=88)
    features = model[:-1]
    x = randn(ns, 5, 3, seed=89)
    return {"features": features(x), "n": len(features)}


@program
def module_list_model(ns: Any) -> dict[str, Any]:
    nn = ns.nn

    class Deep(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(3, 3, dtype=ns.f64) for _ in range(3)])

        def forward(self, x: Any) -> Any:
            for layer in self.layers:
                x = layer(x).tanh() + x
            return x

    model = Deep()
    init_parameters(ns, model, seed=90)
    out = model(randn(ns, 4, 3, seed=91))
    out.sum().backward()
    return {"out": out, "grads": grads(model)}


@program
def common_tensor_idioms(ns: Any) -> dict[str, Any]:
    x = randn(ns, 3, 4, seed=93, requires_grad=True)
    labels = ns.T.tensor([0.0, 2.0, 1.0], dtype=ns.f64).long()
    y = x.t() @ x
    mask = (x > -0.5) & (x < 0.5)
    out = {
        "y": y, "labels": labels, "mask": mask, "not": ~mask, "all": (x < 10).all(),
        "any": (x > 10).any(), "contig": x.transpose(0, 1).contiguous().view(-1),
        "view_as": x.view(-1).view_as(x), "expand_as": x[:1].expand_as(x),
        "add_alpha": x.add(y[:3], alpha=2), "mod": ns.T.arange(7) % 3,
        "floordiv": ns.T.arange(7) // 2, "round": (x * 10).round(),
    }  # fmt: skip
    return out


@program
def linear_algebra_functions(ns: Any) -> dict[str, Any]:
    a = randn(ns, 3, 4, seed=94, requires_grad=True)
    b = randn(ns, 4, 2, seed=95, requires_grad=True)
    c = randn(ns, 5, 3, 4, seed=96)
    out = {
        "mm": ns.T.mm(a, b), "bmm": ns.T.bmm(c, c.transpose(1, 2)),
        "outer": ns.T.outer(a[0], b[:, 0]),
        "dot": ns.T.dot(a[0], b[:, 1]),
    }  # fmt: skip
    sum(v.sum() for v in out.values()).backward()
    return {**out, "a.grad": a.grad, "b.grad": b.grad}


@program
def autograd_functional_keywords(ns: Any) -> dict[str, Any]:
    fn = ns.autograd.functional
    x = ns.T.tensor([0.5, -1.0, 2.0], dtype=ns.f64)
    v = ns.T.tensor([1.0, 2.0, 3.0], dtype=ns.f64)

    def f(t: Any) -> Any:
        return (t**3).sum() + t.exp().sum()

    return {
        "jacobian": fn.jacobian(lambda t: t.sin() * t, x, create_graph=False, strict=False),
        "hessian": fn.hessian(f, x, vectorize=False),
        "vjp": fn.vjp(lambda t: t**2, x, v, create_graph=False),
        "hvp": fn.hvp(f, x, v, strict=False),
        "vhp": fn.vhp(f, x, v),
    }


@program
def custom_dataset_class(ns: Any) -> dict[str, Any]:
    class Squares(ns.data.Dataset):
        def __init__(self, n: int) -> None:
            self.x = ns.T.arange(n).to(ns.f64)

        def __len__(self) -> int:
            return len(self.x)

        def __getitem__(self, i: int) -> Any:
            return self.x[i], self.x[i] ** 2

    loader = ns.data.DataLoader(Squares(7), batch_size=3)
    return {"batches": list(loader), "subset": list(ns.data.Subset(Squares(7), [1, 3]))}


@program
def module_with_buffer_state_dict_order(ns: Any) -> dict[str, Any]:
    nn = ns.nn

    class Normalizer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mean", ns.T.zeros(3, dtype=ns.f64))
            self.lin = nn.Linear(3, 2, dtype=ns.f64)

        def forward(self, x: Any) -> Any:
            if self.training:
                self.mean = 0.9 * self.mean + 0.1 * x.mean(0).detach()
            return self.lin(x - self.mean)

    model = Normalizer()
    init_parameters(ns, model, seed=110)
    x = randn(ns, 4, 3, seed=111)
    out = model(x)
    state = model.state_dict()
    return {"out": out, "keys": list(state), "values": list(state.values()),
            "mean": model.mean}  # fmt: skip


@program
def autograd_grad_positional_arguments(ns: Any) -> dict[str, Any]:
    x = randn(ns, 3, seed=112, requires_grad=True)
    y = x**3
    (g,) = ns.autograd.grad(y, x, ns.T.ones_like(y), None, True)  # create_graph=True
    (h,) = ns.autograd.grad(g.sum(), x)
    return {"g": g, "h": h, "g.requires_grad": g.requires_grad}
