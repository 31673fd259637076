"""``Module`` bookkeeping: registration, traversal, names, modes, gradients, repr, buffers."""

from __future__ import annotations

import re

import numpy as np
import pytest

import sg_nn as nn
from sg_nn import Module, Parameter
from sg_tensor import Tensor


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


class Affine(Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = Parameter(np.ones(3))
        self.shift = Parameter(np.zeros(3))

    def forward(self, x: object) -> Tensor:
        return x * self.scale + self.shift  # type: ignore[operator]


class Tower(Module):
    """A root parameter, a buffer, a leaf module and a nested Sequential."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Linear(4, 3, rng=rng(1))
        self.body = nn.Sequential(nn.Linear(3, 3, rng=rng(2)), nn.ReLU(), Affine())
        self.head_bias = Parameter(np.zeros(3))
        self.register_buffer("steps", np.zeros((), dtype=np.int64))

    def forward(self, x: object) -> Tensor:
        return self.body(self.embed(x)) + self.head_bias


# ---------------------------------------------------------------------------------------
# parameters and names
# ---------------------------------------------------------------------------------------
def test_mlp_parameter_names_follow_pytorch_order() -> None:
    model = nn.MLP([2, 16, 16, 1], rng=rng())
    names = [name for name, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    params = list(model.parameters())
    expected = [model[0].weight, model[0].bias, model[2].weight, model[2].bias]
    expected += [model[4].weight, model[4].bias]
    assert len(params) == len(expected)
    assert all(p is q for p, q in zip(params, expected))
    assert all(isinstance(p, Parameter) and p.requires_grad for p in params)


def test_nested_modules_have_dotted_names_root_parameters_first() -> None:
    names = [name for name, _ in Tower().named_parameters()]
    assert names == [
        "head_bias",
        "embed.weight",
        "embed.bias",
        "body.0.weight",
        "body.0.bias",
        "body.2.scale",
        "body.2.shift",
    ]


def test_named_parameters_prefix_and_recurse_false() -> None:
    tower = Tower()
    assert [n for n, _ in tower.named_parameters(prefix="net")][:2] == [
        "net.head_bias",
        "net.embed.weight",
    ]
    assert [n for n, _ in tower.named_parameters(recurse=False)] == ["head_bias"]
    assert list(tower.parameters(recurse=False)) == [tower.head_bias]


def test_a_parameter_shared_by_two_submodules_is_listed_once() -> None:
    a, b = nn.Linear(3, 3, rng=rng(1)), nn.Linear(3, 3, rng=rng(2))
    b.weight = a.weight
    model = nn.Sequential(a, b)
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "1.bias"]
    assert model.num_parameters() == 9 + 3 + 3
    # both uses contribute to the one gradient
    x = np.arange(6.0).reshape(2, 3)
    model(x).sum().backward()
    w, c = a.weight.data, np.ones((2, 3))
    h = x @ w.T + a.bias.data
    expected = c.T @ h + (c @ w).T @ x
    np.testing.assert_allclose(a.weight.grad, expected, rtol=1e-12)


def test_a_module_used_twice_is_visited_once() -> None:
    layer = nn.Linear(2, 2, rng=rng())
    model = nn.Sequential(layer, nn.Tanh(), layer)
    assert [n for n, _ in model.named_modules()] == ["", "0", "1"]
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias"]
    assert model.num_parameters() == 6


def test_num_parameters_counts_scalars() -> None:
    assert nn.MLP([2, 16, 16, 1], rng=rng()).num_parameters() == 48 + 272 + 17
    assert nn.Linear(5, 4, bias=False).num_parameters() == 20
    assert nn.ReLU().num_parameters() == 0
    assert Tower().num_parameters() == 3 + 15 + 12 + 6


# ---------------------------------------------------------------------------------------
# traversal
# ---------------------------------------------------------------------------------------
def test_children_and_named_children_are_direct_submodules_in_order() -> None:
    tower = Tower()
    assert [n for n, _ in tower.named_children()] == ["embed", "body"]
    assert list(tower.children()) == [tower.embed, tower.body]
    assert list(nn.ReLU().children()) == []


def test_named_modules_is_depth_first_with_dotted_names() -> None:
    tower = Tower()
    named = list(tower.named_modules())
    assert [n for n, _ in named] == ["", "embed", "body", "body.0", "body.1", "body.2"]
    assert named[0][1] is tower
    assert named[3][1] is tower.body[0]
    assert list(tower.modules()) == [m for _, m in named]
    assert [n for n, _ in tower.named_modules(prefix="m")][:2] == ["m", "m.embed"]


# ---------------------------------------------------------------------------------------
# modes and gradients
# ---------------------------------------------------------------------------------------
def test_train_and_eval_propagate_to_every_submodule() -> None:
    tower = Tower()
    assert all(m.training for m in tower.modules())
    assert tower.eval() is tower
    assert not any(m.training for m in tower.modules())
    assert tower.train() is tower
    assert all(m.training for m in tower.modules())
    tower.body.train(False)
    assert tower.training
    assert tower.embed.training
    assert not any(m.training for m in tower.body.modules())


def test_train_goes_through_each_childs_own_train() -> None:
    # As PyTorch: a child overriding train() (a norm kept in eval) keeps its behaviour.
    class AlwaysEval(nn.BatchNorm1d):
        def train(self, mode: bool = True) -> nn.Module:
            return super().train(False)

    model = nn.Sequential(nn.Linear(2, 2, rng=rng()), nn.Sequential(AlwaysEval(2)))
    assert model.train() is model
    assert model[0].training
    assert model[1].training
    assert not model[1][0].training
    with pytest.raises(ValueError, match=r"Sequential.train: .*expected to be a bool, got 'eval'"):
        model.train("eval")  # type: ignore[arg-type]
    assert model.training


def test_eval_turns_dropout_off_inside_a_model() -> None:
    model = nn.Sequential(nn.Linear(4, 4, rng=rng()), nn.Dropout(0.5, rng=rng(1)))
    x = np.ones((3, 4))
    model.eval()
    expected = x @ model[0].weight.data.T + model[0].bias.data
    np.testing.assert_array_equal(model(x).data, expected)


def test_zero_grad_sets_none_or_zeros() -> None:
    model = nn.MLP([3, 4, 2], rng=rng())
    model(np.ones((5, 3))).sum().backward()
    assert all(p.grad is not None and np.any(p.grad != 0) for p in model.parameters())
    unused = nn.Linear(2, 2, rng=rng())
    model.extra = unused  # no gradient: zeroing gives it none (as PyTorch)
    model.zero_grad(set_to_none=False)
    assert unused.weight.grad is None
    assert unused.bias.grad is None
    del model.extra
    for p in model.parameters():
        assert isinstance(p.grad, np.ndarray)
        assert p.grad.shape == p.shape
        assert p.grad.dtype == p.dtype
        assert not np.any(p.grad)
    grads = [p.grad for p in model.parameters()]
    assert len({id(g) for g in grads}) == len(grads)  # separate arrays
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_gradients_accumulate_until_zero_grad() -> None:
    model = nn.Linear(2, 1, rng=rng())
    x = np.array([[1.0, 2.0]])
    model(x).sum().backward()
    model(x).sum().backward()
    np.testing.assert_array_equal(model.weight.grad, 2 * x)
    model.zero_grad()
    model(x).sum().backward()
    np.testing.assert_array_equal(model.weight.grad, x)


# ---------------------------------------------------------------------------------------
# repr
# ---------------------------------------------------------------------------------------
def test_mlp_repr_lists_the_layers() -> None:
    text = repr(nn.MLP([2, 16, 16, 1], activation="tanh", rng=rng()))
    assert text == (
        "MLP(\n"
        "  (0): Linear(in_features=2, out_features=16, bias=True)\n"
        "  (1): Tanh()\n"
        "  (2): Linear(in_features=16, out_features=16, bias=True)\n"
        "  (3): Tanh()\n"
        "  (4): Linear(in_features=16, out_features=1, bias=True)\n"
        ")"
    )


def test_nested_repr_is_indented() -> None:
    text = repr(Tower())
    assert text.startswith("Tower(\n  (embed): Linear(in_features=4, out_features=3, bias=True)\n")
    assert "\n  (body): Sequential(\n    (0): Linear(" in text
    assert "\n    (1): ReLU()\n    (2): Affine()\n  )\n)" in text


def test_leaf_reprs_show_their_settings() -> None:
    assert repr(nn.Linear(3, 2, bias=False)) == "Linear(in_features=3, out_features=2, bias=False)"
    assert repr(nn.Dropout(0.25)) == "Dropout(p=0.25)"
    assert repr(nn.LayerNorm(8)) == "LayerNorm((8,), eps=1e-05)"
    assert repr(nn.Embedding(10, 3)) == "Embedding(10, 3)"
    assert repr(nn.GELU("tanh")) == "GELU(approximate='tanh')"
    assert repr(nn.Identity()) == "Identity()"
    assert repr(nn.MSELoss("sum")) == "MSELoss(reduction='sum')"


def test_parameter_repr_and_defaults() -> None:
    p = Parameter([1, 2, 3])
    assert p.dtype == np.float64  # integer data becomes floating point
    assert p.requires_grad
    assert p.is_leaf
    assert repr(p).startswith("Parameter([1., 2., 3.]")
    assert not Parameter(np.zeros(2), requires_grad=False).requires_grad
    assert Parameter(np.zeros(2, dtype=np.float32)).dtype == np.float32
    t = Tensor(np.arange(3.0))
    assert Parameter(t).data is t.data


# ---------------------------------------------------------------------------------------
# registration
# ---------------------------------------------------------------------------------------
def test_register_buffer_is_in_state_dict_but_not_a_parameter() -> None:
    tower = Tower()
    tower.body[2].register_buffer("running", np.arange(3.0))
    assert "steps" not in dict(tower.named_parameters())
    assert dict(tower.named_buffers()).keys() == {"steps", "body.2.running"}
    state = tower.state_dict()
    assert {"steps", "body.2.running", "head_bias", "body.0.weight"} <= state.keys()
    assert len(state) == 9
    np.testing.assert_array_equal(state["body.2.running"], np.arange(3.0))
    assert state["steps"].dtype == np.int64
    assert state["body.2.running"] is not tower.body[2].running  # a copy
    assert tower.num_parameters() == 36  # buffers are not trainable


def test_tensor_buffers_are_saved_as_arrays() -> None:
    module = Affine()
    module.register_buffer("mask", Tensor(np.array([1.0, 0.0, 1.0])))
    state = module.state_dict()
    assert isinstance(state["mask"], np.ndarray)
    np.testing.assert_array_equal(state["mask"], [1.0, 0.0, 1.0])


def test_reassigning_an_attribute_replaces_its_registration() -> None:
    module = Affine()
    module.scale = Parameter(np.full(3, 2.0))  # a new parameter replaces the old
    assert dict(module.named_parameters())["scale"] is module.scale
    assert module.num_parameters() == 6
    module.scale = nn.Linear(3, 3, rng=rng())  # a module replaces a parameter
    assert [n for n, _ in module.named_parameters()] == ["shift", "scale.weight", "scale.bias"]
    assert list(module.children()) == [module.scale]
    module.scale = None  # a plain value removes the registration
    assert [n for n, _ in module.named_parameters()] == ["shift"]
    assert list(module.children()) == []
    assert module.scale is None
    for value in (np.zeros(3), Tensor(np.zeros(3))):  # as PyTorch: refused, not dropped
        with pytest.raises(TypeError, match=r"cannot assign a .* as parameter 'shift'"):
            module.shift = value
    assert [n for n, _ in module.named_parameters()] == ["shift"]
    module.add_module("inner", nn.Linear(2, 2, rng=rng()))
    with pytest.raises(TypeError, match="cannot assign a int as module 'inner'"):
        module.inner = 3
    module.register_buffer("stat", np.zeros(2))
    with pytest.raises(TypeError, match="cannot assign a str as buffer 'stat'"):
        module.stat = "x"
    np.testing.assert_array_equal(module.stat, np.zeros(2))


def test_reassigning_a_parameter_with_a_buffer_name_replaces_the_buffer() -> None:
    module = Affine()
    module.register_buffer("stat", np.zeros(2))
    module.stat = Parameter(np.ones(2))
    assert "stat" in dict(module.named_parameters())
    assert "stat" not in dict(module.named_buffers())


def test_reassigning_a_buffer_keeps_it_a_buffer() -> None:
    """Running statistics are updated by assignment, ``self.count = self.count + 1``;
    PyTorch keeps such a name registered as a buffer, so it stays in the state dict."""
    module = Affine()
    module.register_buffer("count", np.zeros((), dtype=np.int64))
    module.count = module.count + 1
    assert dict(module.named_buffers()).keys() == {"count"}
    assert module.state_dict()["count"] == 1


def test_deleting_an_attribute_removes_its_registration() -> None:
    tower = Tower()
    del tower.head_bias
    del tower.body
    del tower.steps
    assert [n for n, _ in tower.named_parameters()] == ["embed.weight", "embed.bias"]
    assert list(tower.named_buffers()) == []
    assert not hasattr(tower, "body")


def test_assigning_before_super_init_is_a_clear_error() -> None:
    class Broken(Module):
        def __init__(self) -> None:
            self.weight = Parameter(np.zeros(2))
            super().__init__()

    with pytest.raises(AttributeError, match=re.escape("Broken: call super().__init__()")):
        Broken()


def test_forward_must_be_defined() -> None:
    class Empty(Module):
        pass

    with pytest.raises(NotImplementedError, match="Empty does not define forward"):
        Empty()(np.zeros(2))


def test_call_runs_forward_with_arguments() -> None:
    class Add(Module):
        def forward(self, a: float, b: float = 0.0) -> float:
            return a + b

    assert Add()(1.0, b=2.0) == 3.0


# ---------------------------------------------------------------------------------------
# dtypes: to, float, double
# ---------------------------------------------------------------------------------------
class WithBuffers(Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 2, rng=rng())
        self.register_buffer("running", np.ones(2))
        self.register_buffer("count", np.zeros((), dtype=np.int64))
        self.register_buffer("scale", Tensor(np.full(2, 0.5)))

    def forward(self, x: object) -> Tensor:
        return self.linear(x) * self.scale + self.running  # type: ignore[no-any-return]


def test_to_converts_parameters_buffers_and_gradients_in_place() -> None:
    model = WithBuffers()
    weight = model.linear.weight
    model(np.ones((1, 3))).sum().backward()
    assert model.to(np.float32) is model
    assert model.linear.weight is weight  # the same Parameter: optimizers keep it
    for p in model.parameters():
        assert p.dtype == np.float32
        assert p.grad.dtype == np.float32
    assert model.running.dtype == np.float32
    assert model.scale.dtype == np.float32
    assert model.count.dtype == np.int64  # integer buffers are left alone, as PyTorch
    assert "running" in dict(model.named_buffers())  # still a buffer
    assert model(np.ones((4, 3), dtype=np.float32)).dtype == np.float32
    assert model.double() is model
    assert all(p.dtype == np.float64 for p in model.parameters())
    assert model.running.dtype == np.float64
    assert model.float() is model
    assert weight.dtype == np.float32
    model.to(dtype="float64")
    assert weight.dtype == np.float64
    np.testing.assert_allclose(weight.data, WithBuffers().linear.weight.data, rtol=1e-7)


def test_to_accepts_the_cpu_and_refuses_other_devices_and_non_float_dtypes() -> None:
    model = nn.Linear(2, 2, rng=rng())
    before = model.weight.data
    assert model.to("cpu") is model
    assert model.to(device="cpu", dtype=np.float64).weight.data is before  # nothing to do
    assert model.to("cpu", np.float32).weight.dtype == np.float32
    with pytest.raises(ValueError, match="device 'cuda' is not available"):
        model.to("cuda")
    with pytest.raises(TypeError, match="only floating-point dtypes are accepted, got int64"):
        model.to(np.int64)
    with pytest.raises(TypeError, match="got two dtypes"):
        model.to(np.float32, np.float64)


# ---------------------------------------------------------------------------------------
# apply and requires_grad_
# ---------------------------------------------------------------------------------------
def test_apply_visits_children_before_their_parent_and_returns_self() -> None:
    tower = Tower()
    visited: list[Module] = []
    assert tower.apply(visited.append) is tower
    body = tower.body
    assert visited == [tower.embed, body[0], body[1], body[2], body, tower]


def test_apply_visits_a_child_registered_twice_once_and_can_initialise_weights() -> None:
    shared = nn.Linear(2, 2, rng=rng())
    model = nn.Sequential(shared, shared, nn.Linear(2, 1, rng=rng()))
    visited: list[Module] = []
    model.apply(visited.append)
    assert [id(m) for m in visited] == [id(shared), id(model[2]), id(model)]

    def zero_biases(m: Module) -> None:
        if isinstance(m, nn.Linear) and m.bias is not None:
            m.bias.data[...] = 0.0

    model.apply(zero_biases)
    assert all(not np.any(m.bias.data) for m in model if isinstance(m, nn.Linear))


def test_requires_grad_false_freezes_every_parameter() -> None:
    model = nn.MLP([3, 4, 1], rng=rng())
    assert model.requires_grad_(False) is model
    assert not any(p.requires_grad for p in model.parameters())
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    model(x).sum().backward()
    assert all(p.grad is None for p in model.parameters())
    assert x.grad is not None  # the input still gets its gradient
    model[0].requires_grad_()
    assert [p.requires_grad for p in model.parameters()] == [True, True, False, False]


# ---------------------------------------------------------------------------------------
# forward hooks
# ---------------------------------------------------------------------------------------
def test_forward_hook_sees_module_inputs_and_output() -> None:
    layer = nn.Linear(2, 3, rng=rng())
    calls: list[tuple[Module, tuple[object, ...], object]] = []
    handle = layer.register_forward_hook(lambda m, inputs, out: calls.append((m, inputs, out)))
    x = np.ones((4, 2))
    out = layer(x)
    assert len(calls) == 1
    module, inputs, seen = calls[0]
    assert module is layer
    assert inputs == (x,)
    assert seen is out
    handle.remove()
    layer(x)
    assert len(calls) == 1
    handle.remove()  # a second remove does nothing


def test_a_hook_returning_a_value_replaces_the_output_in_registration_order() -> None:
    layer = nn.Identity()
    layer.register_forward_hook(lambda m, i, out: out * 2)
    layer.register_forward_hook(lambda m, i, out: None)  # None keeps the output
    layer.register_forward_hook(lambda m, i, out: out + 1)
    assert layer(Tensor([1.0, 2.0])).data.tolist() == [3.0, 5.0]


def test_hooks_on_submodules_fire_inside_a_model_and_the_handle_is_a_context_manager() -> None:
    model = nn.MLP([2, 4, 1], rng=rng())
    shapes: list[tuple[int, ...]] = []
    with model[1].register_forward_hook(lambda m, i, out: shapes.append(out.shape)):
        model(np.ones((5, 2)))
    model(np.ones((5, 2)))
    assert shapes == [(5, 4)]
    x = Tensor(np.ones((1, 2)), requires_grad=True)
    model[0].register_forward_hook(lambda m, i, out: out * 0.0)  # gradients follow the hook
    model(x).sum().backward()
    np.testing.assert_array_equal(x.grad, 0.0)


def test_parameter_numel_counts_elements() -> None:
    assert Parameter(np.zeros((3, 4))).numel() == 12
    assert Parameter(np.float64(1.0)).numel() == 1
    model = nn.MLP([3, 4, 1], rng=rng())
    assert sum(p.numel() for p in model.parameters()) == model.num_parameters() == 21
