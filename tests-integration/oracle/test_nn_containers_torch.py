"""sg-nn's containers, module bookkeeping, new activation modules and datasets against
PyTorch float64.

Each model is written once, as PyTorch code, against a namespace ``ns`` (``ns.nn`` is
``torch.nn`` or ``sg_nn``), built on both engines, given the same weights through
``load_state_dict`` and run on the same inputs. Required: the same ``state_dict`` keys
in the same order (and the same names from ``named_parameters``, ``named_buffers``,
``named_modules``), outputs and gradients within a scale-aware ``|sg - torch| / max(1,
|torch|)`` of 1e-12, and the same ``(missing_keys, unexpected_keys)`` lists from
``load_state_dict(strict=False)``.
"""

from __future__ import annotations

import types
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
import torch.utils.data

import sg_nn
import sg_nn.functional as SF
import sg_tensor
from sg_tensor import Tensor

LIMIT = 1e-12


def namespace(engine: str) -> Any:
    """What a program needs from an engine, under PyTorch's names."""
    if engine == "torch":
        return types.SimpleNamespace(
            name="torch",
            nn=torch.nn,
            F=TF,
            data=torch.utils.data,
            f64=torch.float64,
            tensor=lambda a: torch.tensor(np.asarray(a, dtype=np.float64)),
        )
    return types.SimpleNamespace(
        name="sg",
        nn=sg_nn,
        F=SF,
        data=sg_nn.data,
        f64=np.float64,
        tensor=lambda a: Tensor(np.asarray(a, dtype=np.float64)),
    )


TORCH, SG = namespace("torch"), namespace("sg")


def numpy(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().numpy()
    if isinstance(value, Tensor):
        return np.asarray(value.data)
    return np.asarray(value)


def scale_aware_error(got: Any, expected: Any) -> float:
    a, b = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert a.shape == b.shape, f"shapes differ: {a.shape} and {b.shape}"
    same = (np.isnan(a) & np.isnan(b)) | (a == b)
    with np.errstate(invalid="ignore"):
        err = np.where(same, 0.0, np.abs(a - b) / np.maximum(1.0, np.abs(b)))
    return float(np.nan_to_num(err, nan=np.inf).max(initial=0.0))


def assert_close(got: Any, expected: Any, what: str) -> None:
    err = scale_aware_error(numpy(got), numpy(expected))
    assert err <= LIMIT, (
        f"{what}: scale-aware error {err:.3g}\nsg    = {got!r}\ntorch = {expected!r}"
    )


def test_the_comparison_catches_a_difference() -> None:
    assert scale_aware_error([1.0, np.nan], [1.0, np.nan]) == 0.0
    assert scale_aware_error([1 + 2e-12], [1.0]) > LIMIT
    with pytest.raises(AssertionError, match="scale-aware error"):
        assert_close(np.array([1.0]), torch.tensor([1.001], dtype=torch.float64), "x")


def fill_state(ns_models: list[tuple[Any, Any]], seed: int) -> None:
    """Give both models the same values for every state_dict entry (parameters and
    persistent buffers), by loading the same numbers on each engine."""
    (_, torch_model), (_, sg_model) = ns_models
    keys = list(torch_model.state_dict())
    assert list(sg_model.state_dict()) == keys
    rng = np.random.default_rng(seed)
    values = {k: rng.uniform(0.5, 1.5, v.shape) for k, v in torch_model.state_dict().items()}
    torch_model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in values.items()})
    sg_model.load_state_dict(values)


def both(build: Callable[[Any], Any]) -> tuple[Any, Any]:
    return build(TORCH), build(SG)


def names(model: Any) -> dict[str, list[str]]:
    return {
        "state_dict": list(model.state_dict()),
        "named_parameters": [n for n, _ in model.named_parameters()],
        "named_buffers": [n for n, _ in model.named_buffers()],
        "named_modules": [n for n, _ in model.named_modules()],
        "named_children": [n for n, _ in model.named_children()],
    }


# ---------------------------------------------------------------------------------------
# Models written once, as PyTorch code
# ---------------------------------------------------------------------------------------
def build_net(ns: Any) -> Any:
    nn, f64 = ns.nn, ns.f64

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mean", ns.tensor([0.1, -0.2, 0.3]))
            self.embed = nn.Sequential(
                OrderedDict([("proj", nn.Linear(3, 4, dtype=f64)), ("act", nn.Tanh())])
            )
            self.blocks = nn.ModuleList([nn.Linear(4, 4, dtype=f64) for _ in range(3)])
            self.act = nn.PReLU(4, dtype=f64)
            self.heads = nn.ModuleDict(
                {"reg": nn.Linear(4, 1, dtype=f64), "cls": nn.Linear(4, 3, dtype=f64)}
            )
            self.norm = nn.LayerNorm(4, dtype=f64)
            self.scale = nn.Parameter(ns.tensor([1.5]))
            self.register_buffer("std", ns.tensor([1.0, 2.0, 0.5]))
            self.register_buffer("cache", ns.tensor([0.0]), persistent=False)

        def forward(self, x: Any) -> Any:
            h = self.embed((x - self.mean) / self.std)
            for block in self.blocks:
                h = self.act(block(h)) + h
            h = self.norm(h)
            return self.heads["reg"](h) * self.scale, self.heads["cls"](h)

    return Net()


def build_nested(ns: Any) -> Any:
    nn, f64 = ns.nn, ns.f64

    class Stage(nn.Module):
        def __init__(self, width: int) -> None:
            super().__init__()
            self.layers = nn.Sequential(
                nn.Linear(width, width, dtype=f64), nn.ReLU(inplace=True),
                nn.Dropout(0.1, inplace=False), nn.Linear(width, width, dtype=f64),
            )  # fmt: skip
            self.register_buffer("steps", ns.tensor(0.0))
            self.gate = nn.Parameter(ns.tensor([0.5]))

        def forward(self, x: Any) -> Any:
            return x + self.gate * self.layers(x)

    class Nested(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stages = nn.ModuleDict(
                OrderedDict(
                    [("low", nn.ModuleList([Stage(3), Stage(3)])), ("high", nn.ModuleList([]))]
                )
            )
            self.stages["high"].append(Stage(3))
            self.out = nn.Sequential()
            self.out.add_module("mix", nn.Linear(3, 2, dtype=f64))
            self.out.append(nn.Softplus(beta=2.0))

        def forward(self, x: Any) -> Any:
            for stage in self.stages["low"]:
                x = stage(x)
            for stage in self.stages["high"]:
                x = stage(x)
            return self.out(x)

    return Nested().eval()


def build_shared(ns: Any) -> Any:
    nn, f64 = ns.nn, ns.f64
    shared = nn.Linear(3, 3, dtype=f64)
    tied = nn.Linear(3, 3, dtype=f64)
    model = nn.Sequential(shared, nn.Tanh(), shared, tied)
    tied.weight = shared.weight
    return model


def build_edited_sequential(ns: Any) -> Any:
    nn, f64 = ns.nn, ns.f64
    model = nn.Sequential(
        nn.Linear(3, 5, dtype=f64), nn.Hardtanh(-0.5, 0.5), nn.Linear(5, 4, dtype=f64),
        nn.Mish(), nn.Linear(4, 2, dtype=f64),
    )  # fmt: skip
    del model[1]
    model.insert(1, nn.ELU(0.5, inplace=True))
    model.append(nn.Softmin(dim=1))
    return model


def build_sliced(ns: Any) -> Any:
    nn, f64 = ns.nn, ns.f64
    model = nn.Sequential(
        OrderedDict(
            [
                ("a", nn.Linear(4, 3, dtype=f64)),
                ("b", nn.LeakyReLU(0.1, inplace=True)),
                ("c", nn.Linear(3, 3, dtype=f64)),
                ("d", nn.SiLU()),
                ("e", nn.Linear(3, 1, dtype=f64)),
            ]
        )
    )
    return model[1:-1]  # LeakyReLU, c, SiLU: a Sequential keeping the names b, c, d


MODELS = {
    "net": build_net,
    "nested": build_nested,
    "shared": build_shared,
    "edited_sequential": build_edited_sequential,
    "sliced": build_sliced,
}


@pytest.mark.parametrize("name", MODELS)
def test_names_and_key_order_match_pytorch(name: str) -> None:
    reference, ours = both(MODELS[name])
    assert names(ours) == names(reference)


@pytest.mark.parametrize("name", MODELS)
def test_outputs_and_gradients_match_pytorch(name: str) -> None:
    reference, ours = both(MODELS[name])
    fill_state([(TORCH, reference), (SG, ours)], seed=len(name))
    x = np.random.default_rng(1).standard_normal((5, 3))
    tx = torch.tensor(x, requires_grad=True)
    sx = Tensor(x.copy(), requires_grad=True)
    expected, got = reference(tx * 1.0), ours(sx * 1.0)  # inplace=True needs a non-leaf
    expected = expected if isinstance(expected, tuple) else (expected,)
    got = got if isinstance(got, tuple) else (got,)
    rng = np.random.default_rng(2)
    torch_loss, sg_loss = 0.0, 0.0
    for i, (e, g) in enumerate(zip(expected, got)):
        assert_close(g, e, f"output {i}")
        c = rng.standard_normal(tuple(e.shape))
        torch_loss = torch_loss + (e * torch.from_numpy(c)).sum()
        sg_loss = sg_loss + (g * c).sum()
    torch_loss.backward()  # type: ignore[union-attr]
    sg_loss.backward()  # type: ignore[union-attr]
    assert_close(sx.grad, tx.grad, "input gradient")
    ours_params = dict(ours.named_parameters())
    for key, param in reference.named_parameters():
        assert_close(ours_params[key].grad, param.grad, f"gradient of {key}")
    state, reference_state = ours.state_dict(), reference.state_dict()
    for key in reference_state:
        assert_close(state[key], reference_state[key], f"state {key}")


def test_buffer_before_a_child_comes_first_in_both() -> None:
    def build(ns: Any) -> Any:
        class Normalizer(ns.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.register_buffer("mean", ns.tensor([0.0, 0.0, 0.0]))
                self.lin = ns.nn.Linear(3, 2, dtype=ns.f64)

        return Normalizer()

    reference, ours = both(build)
    assert list(reference.state_dict()) == ["mean", "lin.weight", "lin.bias"]
    assert list(ours.state_dict()) == list(reference.state_dict())
    assert [n for n, _ in ours.named_buffers()] == ["mean"]


# ---------------------------------------------------------------------------------------
# load_state_dict(strict=False)
# ---------------------------------------------------------------------------------------
EDITS: dict[str, tuple[list[str], dict[str, tuple[int, ...]]]] = {
    "nothing": ([], {}),
    "missing": (["mean", "blocks.1.bias", "heads.cls.weight", "scale"], {}),
    "unexpected": (
        [],
        {
            "x": (1,),
            "blocks.7.weight": (2,),
            "heads.other.bias": (1,),
            "cache": (1,),
            "embed.proj.weight.extra": (1,),
            "embed": (1,),
            "norm.running_mean": (4,),
            "blocks.0.weight.": (1,),
        },
    ),
    "both": (["std", "act.weight"], {"act.bias": (4,), "zzz": (1,), "heads.reg.x": (1,)}),
}


@pytest.mark.parametrize("edit", EDITS)
def test_load_state_dict_not_strict_reports_pytorch_keys(edit: str) -> None:
    removed, added = EDITS[edit]
    reports = []
    for ns in (TORCH, SG):
        model = build_net(ns)
        state = dict(model.state_dict())
        for key in removed:
            del state[key]
        for key, shape in added.items():
            state[key] = ns.tensor(np.zeros(shape)) if ns is TORCH else np.zeros(shape)
        result = model.load_state_dict(state, strict=False)
        reports.append((list(result.missing_keys), list(result.unexpected_keys)))
        missing, unexpected = result  # a named tuple on both
        assert (missing, unexpected) == (result.missing_keys, result.unexpected_keys)
    assert reports[1] == reports[0]
    if not removed and not added:
        assert reports[0] == ([], [])


def test_load_state_dict_not_strict_loads_the_matching_keys_as_pytorch() -> None:
    reference, ours = both(build_net)
    values = {"std": np.array([3.0, 4.0, 5.0]), "blocks.2.bias": np.array([1.0, 2, 3, 4])}
    reference.load_state_dict({k: torch.from_numpy(v) for k, v in values.items()}, strict=False)
    ours.load_state_dict(values, strict=False)
    assert_close(ours.std, reference.std, "std")
    assert_close(ours.blocks[2].bias, reference.blocks[2].bias, "bias")


# ---------------------------------------------------------------------------------------
# New activation modules and functions, inplace=, PReLU
# ---------------------------------------------------------------------------------------
KINKS = np.array([-25.0, -6.0, -3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 6.0, 10.0, 25.0])


def module_case(make: Callable[[Any], Any], x: np.ndarray) -> None:
    """The module (built by ``make(ns)``) on ``x``: values and gradients (of the input and
    of any parameter) against PyTorch's, for a random cotangent. The module gets a
    non-leaf (``x * 1``), which PyTorch's ``inplace=True`` modifies and sg does not."""
    reference, ours = make(TORCH), make(SG)
    tx = torch.tensor(x, requires_grad=True)
    sx = Tensor(x.copy(), requires_grad=True)
    e, g = reference(tx * 1.0), ours(sx * 1.0)
    assert_close(g, e, f"{type(ours).__name__} value")
    c = np.random.default_rng(3).standard_normal(tuple(e.shape))
    e.backward(torch.from_numpy(c))
    g.backward(c)
    assert_close(sx.grad, tx.grad, f"{type(ours).__name__} input gradient")
    for (key, p), (_, q) in zip(reference.named_parameters(), ours.named_parameters()):
        assert_close(q.grad, p.grad, f"{type(ours).__name__} gradient of {key}")


ACTIVATIONS: dict[str, Callable[[Any], Any]] = {
    "Softplus": lambda ns: ns.nn.Softplus(),
    "Softplus_beta": lambda ns: ns.nn.Softplus(beta=0.5, threshold=3.0),
    "Softplus_at_threshold": lambda ns: ns.nn.Softplus(beta=2.0, threshold=6.0),
    "Hardtanh": lambda ns: ns.nn.Hardtanh(),
    "Hardtanh_range": lambda ns: ns.nn.Hardtanh(-3.0, 0.5, inplace=True),
    "Mish": lambda ns: ns.nn.Mish(inplace=True),
    "PReLU": lambda ns: ns.nn.PReLU(dtype=ns.f64),
    "PReLU_init": lambda ns: ns.nn.PReLU(init=-0.3, dtype=ns.f64),
    "Softmin": lambda ns: ns.nn.Softmin(dim=0),
    "ReLU6": lambda ns: ns.nn.ReLU6(inplace=True),
    "SELU": lambda ns: ns.nn.SELU(),
    "CELU": lambda ns: ns.nn.CELU(0.5),
    "LogSigmoid": lambda ns: ns.nn.LogSigmoid(),
    "Softsign": lambda ns: ns.nn.Softsign(),
    "Tanhshrink": lambda ns: ns.nn.Tanhshrink(),
    "Hardshrink": lambda ns: ns.nn.Hardshrink(1.0),
    "Softshrink": lambda ns: ns.nn.Softshrink(1.0),
    "Threshold": lambda ns: ns.nn.Threshold(0.5, -2.0, inplace=True),
    "Hardswish": lambda ns: ns.nn.Hardswish(),
    "GLU": lambda ns: ns.nn.GLU(0),
    "ReLU_inplace": lambda ns: ns.nn.ReLU(inplace=True),
    "LeakyReLU_inplace": lambda ns: ns.nn.LeakyReLU(0.2, inplace=True),
    "ELU_inplace": lambda ns: ns.nn.ELU(0.7, inplace=True),
    "SiLU_inplace": lambda ns: ns.nn.SiLU(inplace=True),
    "Identity_args": lambda ns: ns.nn.Identity(3, bias=False),
}


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_modules_match_pytorch(name: str) -> None:
    x = KINKS if name != "Identity_args" else KINKS[:4]
    if name == "Identity_args":  # returns its input: compare on a computed tensor
        make = ACTIVATIONS[name]
        reference, ours = make(TORCH), make(SG)
        assert_close(ours(Tensor(x)), reference(torch.tensor(x)), "Identity")
        return
    module_case(ACTIVATIONS[name], x)


def test_prelu_per_channel_matches_pytorch() -> None:
    x = np.random.default_rng(4).standard_normal((2, 3, 4))
    x[0, :, 0] = 0.0  # the kink

    def make(ns: Any) -> Any:
        layer = ns.nn.PReLU(3, dtype=ns.f64)
        layer.load_state_dict({"weight": ns.tensor([0.1, -0.4, 0.7])})
        return layer

    module_case(make, x)
    module_case(make, x[:, :, 0])


def test_hardsigmoid_matches_pytorch_within_its_float32_slope() -> None:
    # PyTorch's backward uses 1/6 rounded to float32 (see sg_nn.functional.hardsigmoid),
    # so compare the values exactly and the slope to float32's precision.
    tx = torch.tensor(KINKS, requires_grad=True)
    sx = Tensor(KINKS.copy(), requires_grad=True)
    e, g = torch.nn.Hardsigmoid(inplace=True)(tx * 1.0), sg_nn.Hardsigmoid(inplace=True)(sx * 1.0)
    assert_close(g, e, "value")
    e.sum().backward()
    g.sum().backward()
    np.testing.assert_allclose(sx.grad, tx.grad.numpy(), rtol=1e-7)


FUNCTIONS: dict[str, Callable[[Any, Any], Any]] = {
    "relu": lambda ns, x: ns.F.relu(x, inplace=True),
    "relu_positional": lambda ns, x: ns.F.relu(x, False),
    "leaky_relu": lambda ns, x: ns.F.leaky_relu(x, 0.3, True),
    "elu": lambda ns, x: ns.F.elu(x, 0.8, inplace=True),
    "selu": lambda ns, x: ns.F.selu(x, True),
    "celu": lambda ns, x: ns.F.celu(x, 1.5, True),
    "silu": lambda ns, x: ns.F.silu(x, inplace=True),
    "mish": lambda ns, x: ns.F.mish(x, inplace=True),
    "hardtanh": lambda ns, x: ns.F.hardtanh(x, -2.0, 2.0, True),
    "relu6": lambda ns, x: ns.F.relu6(x, inplace=True),
    "hardswish": lambda ns, x: ns.F.hardswish(x, True),
    "threshold": lambda ns, x: ns.F.threshold(x, 0.0, 7.0, True),
    "dropout_eval": lambda ns, x: ns.F.dropout(x, 0.5, False, True),
    "prelu": lambda ns, x: ns.F.prelu(x, ns.tensor([0.35])),
}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_functions_with_inplace_match_pytorch(name: str) -> None:
    """PyTorch modifies its (non-leaf) input in place; sg computes out of place. Values and
    the gradient of the leaf behind the input are the same."""
    fn = FUNCTIONS[name]
    tx = torch.tensor(KINKS, requires_grad=True)
    sx = Tensor(KINKS.copy(), requires_grad=True)
    e, g = fn(TORCH, tx * 1.0), fn(SG, sx * 1.0)
    assert_close(g, e, "value")
    c = np.random.default_rng(5).standard_normal(KINKS.shape)
    e.backward(torch.from_numpy(c))
    g.backward(c)
    assert_close(sx.grad, tx.grad, "gradient")


# ---------------------------------------------------------------------------------------
# Embedding.from_pretrained, LayerNorm(bias=False), forward pre-hooks
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("freeze", [True, False])
@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding_from_pretrained_matches_pytorch(freeze: bool, padding_idx: int | None) -> None:
    table = np.random.default_rng(6).standard_normal((5, 3))
    reference = torch.nn.Embedding.from_pretrained(
        torch.tensor(table), freeze=freeze, padding_idx=padding_idx
    )
    ours = sg_nn.Embedding.from_pretrained(table, freeze=freeze, padding_idx=padding_idx)
    assert ours.weight.requires_grad == reference.weight.requires_grad
    assert ours.padding_idx == reference.padding_idx
    assert_close(ours.weight, reference.weight, "table")  # the padding row is not zeroed
    idx = np.array([[0, 2, 4], [4, 4, 1]])
    e, g = reference(torch.tensor(idx)), ours(idx)
    assert_close(g, e, "value")
    if not freeze:
        c = np.random.default_rng(7).standard_normal(tuple(e.shape))
        e.backward(torch.from_numpy(c))
        g.backward(c)
        assert_close(ours.weight.grad, reference.weight.grad, "gradient")
    assert list(ours.state_dict()) == list(reference.state_dict())


@pytest.mark.parametrize(("affine", "bias"), [(True, True), (True, False), (False, True)])
def test_layer_norm_bias_matches_pytorch(affine: bool, bias: bool) -> None:
    def make(ns: Any) -> Any:
        layer = ns.nn.LayerNorm((2, 3), elementwise_affine=affine, bias=bias, dtype=ns.f64)
        rng = np.random.default_rng(8)
        state = {
            k: ns.tensor(rng.standard_normal(tuple(v.shape)))
            for k, v in layer.state_dict().items()
        }
        layer.load_state_dict(state)
        return layer

    assert list(make(SG).state_dict()) == list(make(TORCH).state_dict())
    module_case(make, np.random.default_rng(9).standard_normal((4, 2, 3)))


def run_hooks(ns: Any) -> tuple[list[Any], list[str]]:
    """A layer with forward pre-hooks (replacing, wrapping, prepended, with kwargs) and a
    forward hook, called before and after one hook is removed."""
    layer = ns.nn.Linear(2, 2, dtype=ns.f64)
    layer.load_state_dict(
        {"weight": ns.tensor([[1.0, 2.0], [3.0, 4.0]]), "bias": ns.tensor([0.5, -0.5])}
    )
    log: list[str] = []
    layer.register_forward_pre_hook(lambda m, args: (args[0] * 2,))
    handle = layer.register_forward_pre_hook(lambda m, args: args[0] + 1)
    layer.register_forward_pre_hook(lambda m, args: log.append("first"), prepend=True)
    layer.register_forward_pre_hook(lambda m, args, kwargs: (args, kwargs), with_kwargs=True)
    layer.register_forward_hook(lambda m, args, out: log.append(f"{float(args[0].sum()):.1f}"))
    x = ns.tensor([[1.0, -1.0]])
    outputs = [layer(x)]
    handle.remove()
    outputs.append(layer(x))
    return outputs, log


def test_forward_pre_hooks_match_pytorch() -> None:
    (theirs, their_log), (ours, our_log) = run_hooks(TORCH), run_hooks(SG)
    for got, expected in zip(ours, theirs):
        assert_close(got, expected, "output")
    assert our_log == their_log


# ---------------------------------------------------------------------------------------
# Datasets
# ---------------------------------------------------------------------------------------
def build_squares(ns: Any) -> Any:
    class Squares(ns.data.Dataset):
        def __init__(self, n: int) -> None:
            self.x = np.arange(float(n))

        def __len__(self) -> int:
            return len(self.x)

        def __getitem__(self, i: int) -> Any:
            v = float(self.x[i])
            return ns.tensor(v), ns.tensor([v, v**2]), v / 2, int(i)

    return Squares(7)


def batches_as_numpy(loader: Any) -> list[list[np.ndarray]]:
    return [[numpy(field) for field in batch] for batch in loader]


@pytest.mark.parametrize("batch_size", [1, 3, 7])
def test_a_dataset_subclass_batches_as_pytorch(batch_size: int) -> None:
    got = batches_as_numpy(sg_nn.data.DataLoader(build_squares(SG), batch_size=batch_size))
    want = batches_as_numpy(
        torch.utils.data.DataLoader(build_squares(TORCH), batch_size=batch_size)
    )
    assert len(got) == len(want)
    for ours, theirs in zip(got, want):
        for a, b in zip(ours, theirs):
            assert a.shape == b.shape
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)


def test_subset_and_concat_as_pytorch() -> None:
    indices = [6, 0, 3]
    ours = [numpy(s[1]) for s in sg_nn.data.Subset(build_squares(SG), indices)]
    theirs = [numpy(s[1]) for s in torch.utils.data.Subset(build_squares(TORCH), indices)]
    np.testing.assert_array_equal(ours, theirs)
    cat = sg_nn.data.ConcatDataset([list("abc"), list("de")])
    tcat = torch.utils.data.ConcatDataset([list("abc"), list("de")])
    assert cat.cumulative_sizes == tcat.cumulative_sizes
    assert [cat[i] for i in range(-5, 5)] == [tcat[i] for i in range(-5, 5)]


@pytest.mark.parametrize(
    "lengths",
    [[7, 3], [0.8, 0.2], [0.5, 0.3, 0.2], [1 / 3, 1 / 3, 1 / 3], [0.25] * 4, [1, 0], [10]],
)
def test_random_split_sizes_as_pytorch(lengths: list[Any]) -> None:
    """The sizes follow PyTorch's rule; the permutation comes from numpy's generator, so
    which samples go where differs from PyTorch's (see sg_nn.data.random_split)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = torch.utils.data.random_split(
            range(10), lengths, generator=torch.Generator().manual_seed(0)
        )
        ours = sg_nn.data.random_split(range(10), lengths, np.random.default_rng(0))
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    assert sorted(i for s in ours for i in s.indices) == list(range(10))


def test_sg_tensor_is_the_tensor_type() -> None:
    assert SG.tensor([1.0]).__class__ is sg_tensor.Tensor
