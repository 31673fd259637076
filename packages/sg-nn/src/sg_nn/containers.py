"""Containers, as PyTorch's: ``Sequential``, ``ModuleList`` and ``ModuleDict``.

Each registers the modules it holds as its children, so their parameters are the
container's, under PyTorch's names: ``"0.weight"`` in a ``Sequential``, ``"layers.0.weight"``
for a ``ModuleList`` assigned to ``self.layers``, ``"blocks.name.weight"`` for a
``ModuleDict`` assigned to ``self.blocks``.

>>> from collections import OrderedDict
>>> import sg_nn as nn
>>> model = nn.Sequential(OrderedDict([("hidden", nn.Linear(2, 4)), ("act", nn.Tanh()),
...                                    ("out", nn.Linear(4, 1))]))
>>> features = model[:-1]  # a Sequential, its children keeping their names
>>> [name for name, _ in features.named_parameters()]
['hidden.weight', 'hidden.bias']
>>> blocks = nn.ModuleList([nn.Linear(3, 3) for _ in range(2)])
>>> list(blocks.state_dict())
['0.weight', '0.bias', '1.weight', '1.bias']
"""

from __future__ import annotations

import operator
from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from typing import Any, overload

from sg_nn.module import Module

__all__ = ["ModuleDict", "ModuleList", "Sequential"]


def _set_children(container: Module, items: Iterable[tuple[str, Module]]) -> None:
    """Replace every child of ``container`` by ``items``, in that order (renumbering after
    a deletion or an insertion, as PyTorch's containers do)."""
    items = list(items)
    for name in list(container._modules):
        object.__delattr__(container, name)
    container._modules.clear()
    for name, module in items:
        container._modules[name] = module
        object.__setattr__(container, name, module)


def _index(name: str, size: int, index: Any) -> int:
    """``index`` (an int, negative counting from the end) as a position in ``[0, size)``."""
    position = operator.index(index)
    if not -size <= position < size:
        raise IndexError(f"{name}: index {position} is out of range for {size} modules")
    return position % size


def _checked(name: str, module: Any) -> Module:
    if not isinstance(module, Module):
        raise TypeError(f"{name}: {type(module).__name__} is not a Module subclass")
    return module


class Sequential(Module):
    """Modules applied one after the other: ``Sequential(Linear(2, 8), ReLU())``.

    As PyTorch's: the children are named ``"0"``, ``"1"``... or, from an ``OrderedDict``
    (any mapping), by its keys; ``model[i]`` is a child (negative ``i`` from the end),
    ``model[a:b]`` a new Sequential of the same child objects under the same names;
    ``append``, ``insert``, ``extend``, ``pop``, ``del model[i]`` (which renumbers the
    children ``"0"``, ``"1"``..., as PyTorch), ``len``, iteration and ``+``.
    """

    def __init__(self, *modules: Module | Mapping[str, Module]) -> None:
        super().__init__()
        first = modules[0] if len(modules) == 1 else None
        items: list[tuple[str, Any]]
        if isinstance(first, Mapping):
            items = [(key, module) for key, module in first.items()]
        else:
            items = [(str(i), module) for i, module in enumerate(modules)]
        for key, module in items:
            if not isinstance(module, Module):
                what = f"item {key!r}" if isinstance(first, Mapping) else f"item {key}"
                raise TypeError(f"Sequential: {what} is a {type(module).__name__}, not a Module")
            self.add_module(key, module)

    def forward(self, x: Any) -> Any:
        """Each module in turn on the previous one's output; ``x`` unchanged if there are none."""
        for module in self._modules.values():
            x = module(x)
        return x

    @overload
    def __getitem__(self, index: int) -> Module: ...

    @overload
    def __getitem__(self, index: slice) -> Sequential: ...

    def __getitem__(self, index: int | slice) -> Module | Sequential:
        if isinstance(index, slice):
            return Sequential(dict(list(self._modules.items())[index]))
        return list(self._modules.values())[_index("Sequential", len(self), index)]

    def __setitem__(self, index: int, module: Module) -> None:
        key = list(self._modules)[_index("Sequential", len(self), index)]
        setattr(self, key, _checked("Sequential", module))

    def __delitem__(self, index: int | slice) -> None:
        items = list(self._modules.values())
        if isinstance(index, slice):
            del items[index]
        else:
            del items[_index("Sequential", len(self), index)]
        _set_children(self, ((str(i), module) for i, module in enumerate(items)))

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def __add__(self, other: Sequential) -> Sequential:
        if not isinstance(other, Sequential):
            raise ValueError(
                "add operator supports only objects of Sequential class, but "
                f"{type(other).__name__} is given."
            )
        return Sequential(*self, *other)

    def __iadd__(self, other: Sequential) -> Sequential:
        if not isinstance(other, Sequential):
            raise ValueError(
                "add operator supports only objects of Sequential class, but "
                f"{type(other).__name__} is given."
            )
        return self.extend(list(other))

    def append(self, module: Module) -> Sequential:
        """Add ``module`` at the end (named ``str(len(self))``); returns self."""
        self.add_module(str(len(self)), _checked("Sequential.append", module))
        return self

    def insert(self, index: int, module: Module) -> Sequential:
        """Put ``module`` before position ``index`` (``-len <= index <= len``); the
        children are renumbered ``"0"``, ``"1"``...; returns self."""
        _checked("Sequential.insert", module)
        n = len(self)
        position = operator.index(index)
        if not -n <= position <= n:
            raise IndexError(f"Sequential.insert: index {position} is out of range for {n}")
        items = list(self._modules.values())
        items.insert(position, module)
        _set_children(self, ((str(i), m) for i, m in enumerate(items)))
        return self

    def extend(self, modules: Iterable[Module]) -> Sequential:
        """:meth:`append` each module of ``modules`` in turn; returns self."""
        for module in modules:
            self.append(module)
        return self

    def pop(self, index: int) -> Module:
        """Remove the module at ``index`` (renumbering the rest) and return it."""
        module = self[index]
        del self[index]
        return module


class ModuleList(Module):
    """A list of modules, registered as children ``"0"``, ``"1"``... (so a ModuleList in
    ``self.layers`` names its parameters ``"layers.0.weight"``), as PyTorch's.

    Indexing (negative from the end), slicing (a new ModuleList, renumbered from 0),
    assignment, ``del`` (which renumbers), ``append``, ``extend``, ``insert``, ``pop``,
    ``len``, iteration, ``+`` and ``+=``. It has no ``forward``: call its modules.
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _key(self, index: int) -> str:
        return str(_index("ModuleList", len(self), index))

    @overload
    def __getitem__(self, index: int) -> Module: ...

    @overload
    def __getitem__(self, index: slice) -> ModuleList: ...

    def __getitem__(self, index: int | slice) -> Module | ModuleList:
        if isinstance(index, slice):
            return ModuleList(list(self._modules.values())[index])
        return self._modules[self._key(index)]

    def __setitem__(self, index: int, module: Module) -> None:
        setattr(self, self._key(index), _checked("ModuleList", module))

    def __delitem__(self, index: int | slice) -> None:
        items = list(self._modules.values())
        if isinstance(index, slice):
            del items[index]
        else:
            del items[int(self._key(index))]
        _set_children(self, ((str(i), module) for i, module in enumerate(items)))

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        return ModuleList([*self, *other])

    def append(self, module: Module) -> ModuleList:
        """Add ``module`` at the end; returns self."""
        self.add_module(str(len(self)), _checked("ModuleList.append", module))
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Append every module of ``modules``; returns self."""
        if not isinstance(modules, Iterable):
            raise TypeError(
                "ModuleList.extend should be called with an iterable, but got "
                + type(modules).__name__
            )
        for module in list(modules):
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Put ``module`` before position ``index``, as ``list.insert`` (a negative index
        counts from the end, one past either end inserts there); renumbers the rest."""
        items = list(self._modules.values())
        items.insert(operator.index(index), _checked("ModuleList.insert", module))
        _set_children(self, ((str(i), m) for i, m in enumerate(items)))

    def pop(self, index: int = -1) -> Module:
        """Remove the module at ``index`` (the last by default; renumbering the rest) and
        return it."""
        module = self[index]
        del self[index]
        return module


class ModuleDict(Module):
    """A dictionary of modules, registered as children under their keys (so a ModuleDict
    in ``self.blocks`` names its parameters ``"blocks.key.weight"``), as PyTorch's.

    It keeps insertion order; ``d[key]``, ``d[key] = module``, ``del d[key]``, ``key in
    d``, ``len``, iteration over the keys, ``keys()``, ``values()``, ``items()``,
    ``update()``, ``pop()`` and ``clear()``. A key must be a string without a dot that is
    not already an attribute of the module (``"keys"``, ``"training"``): ``KeyError``, as
    PyTorch. It has no ``forward``: call its modules.
    """

    def __init__(
        self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None
    ) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        if key not in self._modules:
            raise KeyError(key)
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._modules))

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def clear(self) -> None:
        """Remove every module."""
        _set_children(self, [])

    def pop(self, key: str) -> Module:
        """Remove the module under ``key`` and return it."""
        module = self[key]
        del self[key]
        return module

    def keys(self) -> KeysView[str]:
        """The keys, in insertion order."""
        return self._modules.keys()

    def items(self) -> ItemsView[str, Module]:
        """The ``(key, module)`` pairs, in insertion order."""
        return self._modules.items()

    def values(self) -> ValuesView[Module]:
        """The modules, in insertion order."""
        return self._modules.values()

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add (or replace) the modules of a mapping (a dict, an ``OrderedDict``, a
        ModuleDict) or of an iterable of ``(key, module)`` pairs, in their order."""
        if isinstance(modules, (Mapping, ModuleDict)):
            for key, module in modules.items():
                self[key] = module
            return
        if not isinstance(modules, Iterable):
            raise TypeError(
                "ModuleDict.update should be called with an iterable of key/value pairs, "
                f"but got {type(modules).__name__}"
            )
        for j, pair in enumerate(modules):
            if not isinstance(pair, Iterable):
                raise TypeError(
                    f"ModuleDict update sequence element #{j} should be Iterable; is "
                    f"{type(pair).__name__}"
                )
            entry: list[Any] = list(pair)
            if len(entry) != 2:
                raise ValueError(
                    f"ModuleDict update sequence element #{j} has length {len(entry)}; "
                    "2 is required"
                )
            self[entry[0]] = entry[1]
