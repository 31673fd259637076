"""``Sequential``, ``ModuleList`` and ``ModuleDict``: registration, PyTorch's names and
order, indexing and slicing, editing (append, insert, del, pop), errors."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import sg_nn as nn
from sg_nn import Module
from sg_tensor import Tensor


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def three_layers() -> list[Module]:
    return [nn.Linear(2, 3, rng=rng(1)), nn.Tanh(), nn.Linear(3, 1, rng=rng(2))]


# ---------------------------------------------------------------------------------------
# Sequential
# ---------------------------------------------------------------------------------------
def test_sequential_slice_is_a_sequential_of_the_same_modules_with_their_names() -> None:
    layers = three_layers()
    model = nn.Sequential(*layers)
    features = model[:-1]
    assert isinstance(features, nn.Sequential)
    assert len(features) == 2
    assert list(features) == layers[:2]
    x = rng(3).standard_normal((4, 2))
    np.testing.assert_array_equal(features(x).data, np.tanh(layers[0](x).data))
    assert list(model[1:].state_dict()) == ["2.weight", "2.bias"]  # names kept, as PyTorch
    assert list(model[::2]._modules) == ["0", "2"]
    assert len(model[5:]) == 0
    assert model[5:](x) is x
    assert features[0].weight is layers[0].weight  # the same parameters, not copies


def test_sequential_negative_and_out_of_range_indices() -> None:
    layers = three_layers()
    model = nn.Sequential(*layers)
    assert model[-1] is layers[2]
    assert model[-3] is layers[0]
    assert model[np.int64(1)] is layers[1]
    with pytest.raises(IndexError, match="index 3 is out of range"):
        model[3]
    with pytest.raises(IndexError, match="index -4 is out of range"):
        model[-4]
    with pytest.raises(TypeError):
        model["0"]  # type: ignore[call-overload]


def test_sequential_from_an_ordered_dict_names_the_children() -> None:
    hidden, act, out = three_layers()
    model = nn.Sequential(OrderedDict([("hidden", hidden), ("act", act), ("out", out)]))
    assert [name for name, _ in model.named_children()] == ["hidden", "act", "out"]
    assert list(model.state_dict()) == ["hidden.weight", "hidden.bias", "out.weight", "out.bias"]
    assert model.hidden is hidden
    assert model[2] is out
    assert list(model[1:]._modules) == ["act", "out"]
    x = rng(4).standard_normal((5, 2))
    np.testing.assert_array_equal(model(x).data, out(act(hidden(x))).data)
    assert repr(model).startswith("Sequential(\n  (hidden): Linear(")
    with pytest.raises(TypeError, match="item 'bad' is a int, not a Module"):
        nn.Sequential({"bad": 3})  # type: ignore[dict-item]


def test_sequential_append_add_module_insert_extend() -> None:
    model = nn.Sequential()
    first = nn.Linear(2, 2, rng=rng())
    assert model.append(first) is model
    model.add_module("act", nn.ReLU())
    assert list(model._modules) == ["0", "act"]
    last = nn.Linear(2, 1, rng=rng(1))
    model.append(last)
    assert list(model._modules) == ["0", "act", "2"]
    assert model[2] is last
    assert len(model) == 3
    tanh = nn.Tanh()
    model.insert(1, tanh)  # renumbers, as PyTorch's insert does on a numbered Sequential
    assert list(model._modules) == ["0", "1", "2", "3"]
    assert [type(m).__name__ for m in model] == ["Linear", "Tanh", "ReLU", "Linear"]
    model.insert(-1, nn.Sigmoid())
    assert [type(m).__name__ for m in model] == ["Linear", "Tanh", "ReLU", "Sigmoid", "Linear"]
    with pytest.raises(IndexError):
        model.insert(7, nn.ReLU())
    assert model.extend([nn.ReLU(), nn.Tanh()]) is model
    assert len(model) == 7
    assert list(model._modules)[-1] == "6"
    with pytest.raises(TypeError, match="is not a Module"):
        model.append(3)  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="contain"):
        model.add_module("a.b", nn.ReLU())


def test_sequential_del_pop_setitem_and_plus() -> None:
    layers = three_layers()
    model = nn.Sequential(*layers)
    del model[0]
    assert list(model._modules) == ["0", "1"]  # renumbered
    assert list(model) == layers[1:]
    assert [n for n, _ in model.named_parameters()] == ["1.weight", "1.bias"]
    assert not hasattr(model, "2")
    model = nn.Sequential(*layers)
    del model[:2]
    assert list(model) == layers[2:]
    assert list(model._modules) == ["0"]
    model = nn.Sequential(*layers)
    assert model.pop(-1) is layers[2]
    assert len(model) == 2
    replacement = nn.ReLU()
    model[1] = replacement
    assert model[1] is replacement
    assert list(model._modules) == ["0", "1"]
    with pytest.raises(TypeError):
        model[0] = "not a module"  # type: ignore[assignment]
    both = nn.Sequential(layers[0]) + nn.Sequential(layers[1], layers[2])
    assert list(both) == layers
    assert list(both._modules) == ["0", "1", "2"]
    with pytest.raises(ValueError, match="only objects of Sequential"):
        nn.Sequential() + [nn.ReLU()]  # type: ignore[operator]
    grown = nn.Sequential(layers[0])
    grown += nn.Sequential(layers[1])
    assert list(grown) == layers[:2]


def test_mlp_slices_are_sequentials() -> None:
    model = nn.MLP([2, 4, 1], rng=rng())
    head = model[:2]
    assert type(head) is nn.Sequential
    x = rng(5).standard_normal((3, 2))
    np.testing.assert_array_equal(model[2](head(x)).data, model(x).data)


# ---------------------------------------------------------------------------------------
# ModuleList
# ---------------------------------------------------------------------------------------
class Deep(Module):
    def __init__(self, n: int = 3) -> None:
        super().__init__()
        self.register_buffer("scale", np.full(3, 0.5))
        self.layers = nn.ModuleList([nn.Linear(3, 3, rng=rng(i)) for i in range(n)])
        self.head = nn.Linear(3, 1, rng=rng(9))

    def forward(self, x: object) -> Tensor:
        h = Tensor(x) * self.scale  # type: ignore[arg-type]
        for layer in self.layers:
            h = layer(h).tanh() + h
        return self.head(h)  # type: ignore[no-any-return]


def test_module_list_registers_parameters_under_pytorch_names() -> None:
    model = Deep()
    assert list(model.state_dict()) == [
        "scale",
        "layers.0.weight",
        "layers.0.bias",
        "layers.1.weight",
        "layers.1.bias",
        "layers.2.weight",
        "layers.2.bias",
        "head.weight",
        "head.bias",
    ]
    assert model.num_parameters() == 3 * 12 + 4
    first, second = list(model.parameters())[:2]
    assert first is model.layers[0].weight
    assert second is model.layers[0].bias


def test_module_list_gradients_reach_every_layer() -> None:
    model = Deep()
    x = rng(7).standard_normal((4, 3))
    model(x).sum().backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert np.any(param.grad != 0), name
    # by hand: the last block's bias gradient is sum over rows of (1 - tanh^2) * (c @ W_head)
    h = x * 0.5
    for layer in list(model.layers)[:2]:
        h = np.tanh(h @ layer.weight.data.T + layer.bias.data) + h
    last = model.layers[2]
    z = h @ last.weight.data.T + last.bias.data
    upstream = np.ones((4, 1)) @ model.head.weight.data
    np.testing.assert_allclose(last.bias.grad, ((1 - np.tanh(z) ** 2) * upstream).sum(0))


def test_module_list_indexing_slicing_and_editing() -> None:
    a, b, c = nn.ReLU(), nn.Tanh(), nn.Sigmoid()
    layers = nn.ModuleList([a, b])
    assert layers.append(c) is layers
    assert len(layers) == 3
    assert list(layers) == [a, b, c]
    assert layers[-1] is c
    assert layers[0] is a
    part = layers[1:]
    assert isinstance(part, nn.ModuleList)
    assert list(part._modules) == ["0", "1"]
    assert list(part) == [b, c]
    with pytest.raises(IndexError):
        layers[3]
    d = nn.ELU()
    layers.insert(1, d)
    assert list(layers) == [a, d, b, c]
    assert list(layers._modules) == ["0", "1", "2", "3"]
    layers.insert(-1, nn.SiLU())
    assert type(layers[3]).__name__ == "SiLU"
    del layers[0]
    assert layers[0] is d
    assert list(layers._modules) == ["0", "1", "2", "3"]
    assert not hasattr(layers, "4")
    assert layers.pop() is c
    assert len(layers) == 3
    layers[0] = a
    assert layers[0] is a
    layers += [nn.ReLU()]
    assert len(layers) == 4
    joined = layers + nn.ModuleList([b])
    assert len(joined) == 5
    assert len(layers) == 4
    assert layers.extend(iter([nn.ReLU()])) is layers
    with pytest.raises(TypeError, match="iterable"):
        layers.extend(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="is not a Module"):
        nn.ModuleList([np.zeros(2)])  # type: ignore[list-item]
    with pytest.raises(NotImplementedError):
        layers(np.zeros(2))


def test_module_list_holding_a_module_twice_lists_its_parameters_once_but_saves_both() -> None:
    shared = nn.Linear(2, 2, rng=rng())
    layers = nn.ModuleList([shared, shared])
    assert [n for n, _ in layers.named_parameters()] == ["0.weight", "0.bias"]
    # PyTorch's state_dict lists every name (it does not remove duplicates)
    assert list(layers.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    assert list(layers.children()) == [shared]
    layers.load_state_dict(layers.state_dict())


# ---------------------------------------------------------------------------------------
# ModuleDict
# ---------------------------------------------------------------------------------------
def test_module_dict_is_a_registered_ordered_mapping() -> None:
    blocks = nn.ModuleDict({"z": nn.Linear(2, 2, rng=rng(1)), "a": nn.Linear(2, 1, rng=rng(2))})
    assert list(blocks) == ["z", "a"]  # insertion order, not sorted
    assert list(blocks.keys()) == ["z", "a"]
    assert [type(m).__name__ for m in blocks.values()] == ["Linear", "Linear"]
    assert [k for k, _ in blocks.items()] == ["z", "a"]
    assert "z" in blocks
    assert "y" not in blocks
    assert len(blocks) == 2

    class Model(Module):
        def __init__(self) -> None:
            super().__init__()
            self.blocks = blocks

        def forward(self, x: object, which: str) -> Tensor:
            return self.blocks[which](x)  # type: ignore[no-any-return]

    model = Model()
    assert list(model.state_dict()) == [
        "blocks.z.weight",
        "blocks.z.bias",
        "blocks.a.weight",
        "blocks.a.bias",
    ]
    x = rng(3).standard_normal((3, 2))
    model(x, "a").sum().backward()
    assert blocks["a"].weight.grad is not None
    assert blocks["z"].weight.grad is None
    blocks["act"] = nn.ReLU()
    blocks.update([("out", nn.Linear(1, 1, rng=rng()))])
    blocks.update(OrderedDict(z=nn.Tanh()))  # an existing key keeps its place
    assert list(blocks) == ["z", "a", "act", "out"]
    assert isinstance(blocks["z"], nn.Tanh)
    assert isinstance(blocks.pop("act"), nn.ReLU)
    assert "act" not in blocks
    assert not hasattr(blocks, "act")
    del blocks["out"]
    assert list(model.state_dict()) == ["blocks.a.weight", "blocks.a.bias"]
    with pytest.raises(KeyError):
        del blocks["nope"]
    blocks.clear()
    assert len(blocks) == 0
    assert list(model.parameters()) == []
    assert not hasattr(blocks, "a")


def test_module_dict_rejects_pytorch_forbidden_keys() -> None:
    with pytest.raises(KeyError, match="attribute 'keys' already exists"):
        nn.ModuleDict({"keys": nn.ReLU()})
    with pytest.raises(KeyError, match="attribute 'training' already exists"):
        nn.ModuleDict({"training": nn.ReLU()})
    with pytest.raises(KeyError, match="contain"):
        nn.ModuleDict({"a.b": nn.ReLU()})
    with pytest.raises(KeyError, match="empty string"):
        nn.ModuleDict({"": nn.ReLU()})
    with pytest.raises(TypeError, match="should be a string"):
        nn.ModuleDict([(1, nn.ReLU())])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="has length 3"):
        nn.ModuleDict([("a", nn.ReLU(), 1)])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="key/value pairs"):
        nn.ModuleDict(3)  # type: ignore[arg-type]
