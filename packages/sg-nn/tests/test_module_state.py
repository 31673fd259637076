"""``Module`` as PyTorch's: the ``state_dict`` order (own parameters, own persistent
buffers, then children), buffers, ``load_state_dict``'s ``(missing_keys,
unexpected_keys)``, registration checks, traversal and forward pre-hooks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import sg_nn as nn
from sg_nn import CheckpointError, Module, Parameter
from sg_nn.module import IncompatibleKeys
from sg_tensor import Tensor


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


class Normalizer(Module):
    """A buffer before a child, a parameter after it, a non-persistent and a later buffer."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", np.zeros(2))
        self.lin = nn.Linear(2, 2, rng=rng())
        self.p = Parameter(np.zeros(1))
        self.register_buffer("cache", np.ones(2), persistent=False)
        self.register_buffer("std", Tensor(np.ones(2)))

    def forward(self, x: Any) -> Tensor:
        return self.lin((x - self.mean) / self.std) + self.p  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------
# state_dict order and buffers
# ---------------------------------------------------------------------------------------
def test_state_dict_order_is_own_parameters_then_own_buffers_then_children() -> None:
    assert list(Normalizer().state_dict()) == ["p", "mean", "std", "lin.weight", "lin.bias"]


def test_nested_state_dict_order() -> None:
    class Outer(Module):
        def __init__(self) -> None:
            super().__init__()
            self.first = nn.Linear(2, 2, rng=rng())
            self.register_buffer("count", np.zeros((), dtype=np.int64))
            self.inner = Normalizer()
            self.scale = Parameter(np.ones(1))

    assert list(Outer().state_dict()) == [
        "scale",
        "count",
        "first.weight",
        "first.bias",
        "inner.p",
        "inner.mean",
        "inner.std",
        "inner.lin.weight",
        "inner.lin.bias",
    ]
    assert list(Outer().state_dict(prefix="model."))[:2] == ["model.scale", "model.count"]


def test_buffers_and_named_buffers_include_non_persistent_ones() -> None:
    model = Normalizer()
    assert [n for n, _ in model.named_buffers()] == ["mean", "cache", "std"]
    assert [b is model.cache for b in model.buffers()] == [False, True, False]
    assert "cache" not in model.state_dict()
    assert [n for n, _ in model.named_buffers(prefix="m")] == ["m.mean", "m.cache", "m.std"]
    outer = nn.Sequential(model)
    assert [n for n, _ in outer.named_buffers()] == ["0.mean", "0.cache", "0.std"]
    assert list(outer.named_buffers(recurse=False)) == []


def test_a_buffer_can_become_persistent_and_keeps_its_status_through_to() -> None:
    model = Normalizer()
    model.to(np.float32)
    assert model.cache.dtype == np.float32
    assert "cache" not in model.state_dict()  # to() keeps it non-persistent
    model.register_buffer("cache", model.cache)  # persistent=True by default
    assert list(model.state_dict())[:4] == ["p", "mean", "cache", "std"]
    model.register_buffer("cache", model.cache, persistent=False)
    assert "cache" not in model.state_dict()


def test_a_none_buffer_holds_its_place_and_is_skipped() -> None:
    module = Module()
    module.register_buffer("running", None)
    assert module.running is None
    assert list(module.named_buffers()) == []
    assert module.state_dict() == {}
    module.running = np.ones(2)  # assigning to the name keeps it a buffer
    assert list(module.state_dict()) == ["running"]


def test_register_buffer_and_parameter_check_names_as_pytorch() -> None:
    model = Normalizer()
    with pytest.raises(KeyError, match="attribute 'p' already exists"):
        model.register_buffer("p", np.zeros(1))
    with pytest.raises(KeyError, match="attribute 'lin' already exists"):
        model.register_buffer("lin", np.zeros(1))
    with pytest.raises(KeyError, match="attribute 'forward' already exists"):
        model.register_buffer("forward", np.zeros(1))
    with pytest.raises(KeyError, match="contain"):
        model.register_buffer("a.b", np.zeros(1))
    with pytest.raises(KeyError, match="empty string"):
        model.register_buffer("", np.zeros(1))
    with pytest.raises(TypeError, match="should be a string"):
        model.register_buffer(3, np.zeros(1))  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="attribute 'mean' already exists"):
        model.register_parameter("mean", Parameter(np.zeros(1)))
    with pytest.raises(TypeError, match="Parameter or None required"):
        model.register_parameter("q", np.zeros(1))  # type: ignore[arg-type]
    q = Parameter(np.zeros(3))
    model.register_parameter("q", q)
    assert model.q is q
    assert list(model.state_dict())[:2] == ["p", "q"]
    model.register_parameter("r", None)
    assert model.r is None
    assert "r" not in model.state_dict()

    class Early(Module):
        def __init__(self) -> None:
            self.register_buffer("x", np.zeros(1))

    with pytest.raises(AttributeError, match="super"):
        Early()


def test_replacing_a_buffer_by_a_parameter_forgets_that_it_was_non_persistent() -> None:
    model = Normalizer()
    model.cache = Parameter(np.ones(2))
    assert "cache" in model.state_dict()
    del model.cache
    model.register_buffer("cache", np.ones(2))
    assert "cache" in model.state_dict()


# ---------------------------------------------------------------------------------------
# load_state_dict
# ---------------------------------------------------------------------------------------
def test_load_state_dict_returns_the_incompatible_keys_in_pytorch_order() -> None:
    model = Normalizer()
    state: dict[str, Any] = model.state_dict()
    state.update({"x": 1.0, "lin.foo": 2.0, "bar": 3.0, "lin": 4.0, "cache": 5.0})
    state.update({"nosuch.w": 6.0, "lin.weight.extra": 7.0})
    del state["lin.bias"], state["mean"]
    state["std"] = np.full(2, 3.0)
    result = model.load_state_dict(state, strict=False)
    assert isinstance(result, IncompatibleKeys)
    assert isinstance(result, tuple)
    # these lists are what PyTorch returns for the same module and dict
    assert result.missing_keys == ["mean", "lin.bias"]
    assert result.unexpected_keys == [
        "x",
        "bar",
        "lin",
        "cache",
        "nosuch.w",
        "lin.foo",
        "lin.weight.extra",
    ]
    missing, unexpected = result
    assert missing is result.missing_keys
    assert unexpected is result.unexpected_keys
    np.testing.assert_array_equal(model.std.data, [3.0, 3.0])  # the matching keys loaded
    assert repr(result).startswith("_IncompatibleKeys(missing_keys=['mean', 'lin.bias'], ")


def test_strict_load_state_dict_raises_and_changes_nothing() -> None:
    model = Normalizer()
    state = model.state_dict()
    state["std"] = np.full(2, 3.0)
    state["extra"] = np.zeros(1)
    del state["p"]
    with pytest.raises(CheckpointError, match="missing keys: p; unexpected keys: extra"):
        model.load_state_dict(state)
    np.testing.assert_array_equal(model.std.data, [1.0, 1.0])
    result = Normalizer().load_state_dict(Normalizer().state_dict())
    assert result == ([], [])
    assert repr(result) == "<All keys matched successfully>"
    assert str(result) == "<All keys matched successfully>"


def test_load_state_dict_with_strict_false_still_refuses_a_wrong_shape() -> None:
    model = Normalizer()
    with pytest.raises(CheckpointError, match="shape mismatch for mean"):
        model.load_state_dict({"mean": np.zeros(3)}, strict=False)


def test_a_non_string_key_is_unexpected() -> None:
    result = Normalizer().load_state_dict({3: np.zeros(1), "p": np.ones(1)}, strict=False)
    assert result.unexpected_keys == [3]
    assert result.missing_keys == ["mean", "std", "lin.weight", "lin.bias"]


def test_tied_parameters_are_saved_under_both_names_and_load() -> None:
    a, b = nn.Linear(3, 3, rng=rng(1)), nn.Linear(3, 3, rng=rng(2))
    b.weight = a.weight
    model = nn.Sequential(a, b)
    state = model.state_dict()
    assert list(state) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    np.testing.assert_array_equal(state["0.weight"], state["1.weight"])
    state["0.weight"] = state["1.weight"] = np.full((3, 3), 2.0)
    assert model.load_state_dict(state) == ([], [])
    np.testing.assert_array_equal(b.weight.data, np.full((3, 3), 2.0))


def test_load_state_dict_replaces_an_array_buffer_of_a_shared_module() -> None:
    norm = Normalizer()
    model = nn.ModuleList([norm, norm])
    state = model.state_dict()
    assert [k for k in state if k.endswith("mean")] == ["0.mean", "1.mean"]
    state["0.mean"] = state["1.mean"] = np.full(2, 7.0)
    model.load_state_dict(state)
    np.testing.assert_array_equal(norm.mean, [7.0, 7.0])
    assert "mean" in dict(norm.named_buffers())


# ---------------------------------------------------------------------------------------
# traversal
# ---------------------------------------------------------------------------------------
def test_children_named_modules_and_duplicates() -> None:
    shared = nn.Linear(2, 2, rng=rng())
    model = nn.Sequential(shared, nn.Tanh(), shared)
    assert [n for n, _ in model.named_children()] == ["0", "1"]
    assert list(model.children()) == [shared, model[1]]
    assert [n for n, _ in model.named_modules()] == ["", "0", "1"]
    assert [n for n, _ in model.named_modules(remove_duplicate=False)] == ["", "0", "1", "2"]
    names = [n for n, _ in model.named_parameters(remove_duplicate=False)]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert list(model.modules()) == [model, shared, model[1]]
    assert repr(model).count("Linear(") == 2  # the repr lists every name, as PyTorch


# ---------------------------------------------------------------------------------------
# forward pre-hooks
# ---------------------------------------------------------------------------------------
class Add(Module):
    def forward(self, a: float, b: float = 0.0) -> float:
        return a + b


def test_a_forward_pre_hook_can_replace_the_arguments() -> None:
    module = Add()
    seen: list[tuple[Any, ...]] = []
    handle = module.register_forward_pre_hook(lambda m, args: (args[0] * 10,))
    module.register_forward_hook(lambda m, args, out: seen.append(args))
    assert module(1.0, b=2.0) == 12.0
    assert seen == [(10.0,)]  # the forward hooks see the new arguments
    handle.remove()
    handle.remove()  # removing twice does nothing
    assert module(1.0, b=2.0) == 3.0


def test_pre_hooks_chain_in_order_wrap_a_single_value_and_may_return_none() -> None:
    module = Add()
    calls: list[str] = []
    module.register_forward_pre_hook(lambda m, args: calls.append("observe"))
    module.register_forward_pre_hook(lambda m, args: args[0] + 1)  # not a tuple: wrapped
    module.register_forward_pre_hook(lambda m, args: (args[0] * 2, 5.0))
    module.register_forward_pre_hook(lambda m, args: calls.append("first"), prepend=True)
    assert module(1.0) == 2 * (1.0 + 1) + 5.0
    assert calls == ["first", "observe"]


def test_a_pre_hook_with_kwargs() -> None:
    module = Add()

    def hook(m: Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return args, {**kwargs, "b": 100.0}

    with module.register_forward_pre_hook(hook, with_kwargs=True):
        assert module(1.0, b=2.0) == 101.0
    assert module(1.0, b=2.0) == 3.0
    module.register_forward_pre_hook(lambda m, args, kwargs: 3, with_kwargs=True)
    with pytest.raises(RuntimeError, match="new_args, new_kwargs"):
        module(1.0)


def test_a_pre_hook_on_a_layer_changes_its_gradient_path() -> None:
    layer = nn.Linear(2, 1, rng=rng())
    layer.register_forward_pre_hook(lambda m, args: (args[0] * 3.0,))
    x = Tensor(np.ones((1, 2)), requires_grad=True)
    layer(x).sum().backward()
    np.testing.assert_allclose(x.grad, 3.0 * layer.weight.data)


def test_load_state_dict_refuses_a_read_only_parameter_before_writing_any() -> None:
    model = nn.Sequential(nn.Linear(2, 3, rng=rng()), nn.Linear(3, 1, rng=rng(1)))
    before = {k: v.copy() for k, v in model.state_dict().items()}
    model[1].bias.data.setflags(write=False)
    state = {k: v + 1.0 for k, v in before.items()}
    with pytest.raises(nn.CheckpointError, match=r"1\.bias is read-only in the model"):
        model.load_state_dict(state)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])
