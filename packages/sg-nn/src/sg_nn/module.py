"""``Module`` and ``Parameter``: the bookkeeping every layer shares.

A module registers the parameters, buffers and sub-modules assigned to its attributes,
in the order they are assigned, so ``parameters()`` and ``state_dict()`` are
deterministic and their names and order match PyTorch's: ``state_dict()`` lists a
module's own parameters, then its own (persistent) buffers, then each child's entries.

>>> import numpy as np
>>> import sg_nn as nn
>>> class Normalizer(Module):
...     def __init__(self):
...         super().__init__()
...         self.register_buffer("mean", np.zeros(2))
...         self.lin = nn.Linear(2, 1)
>>> list(Normalizer().state_dict())
['mean', 'lin.weight', 'lin.bias']
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple, TypeVar

import numpy as np

import sg_tensor as st
from sg_nn.checkpoint import CheckpointError
from sg_nn.hooks import ForwardHook, ForwardPreHook, RemovableHandle
from sg_tensor import Tensor
from sg_tensor.capturing import replayed
from sg_tensor.versions import written

__all__ = ["IncompatibleKeys", "Module", "Parameter"]

M = TypeVar("M", bound="Module")


class Parameter(Tensor):
    """A tensor that is a trainable weight of a module (it requires grad by default)."""

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        super().__init__(data.data if isinstance(data, Tensor) else data)
        if self.data.dtype.kind != "f":  # integer data: sg-tensor's default floating dtype
            self.data = self.data.astype(st.get_default_dtype())
        self.requires_grad_(requires_grad)

    def __repr__(self) -> str:
        return "Parameter(" + super().__repr__()[len("Tensor(") :]

    def numel(self) -> int:
        """The number of elements (PyTorch's name for ``size``)."""
        return self.size


class IncompatibleKeys(NamedTuple):
    """What :meth:`Module.load_state_dict` returns, as PyTorch's ``_IncompatibleKeys``:
    the model's keys the checkpoint lacks and the checkpoint's keys the model lacks, in
    PyTorch's order (with ``strict=True`` both are empty, or it raised)."""

    missing_keys: list[str]
    unexpected_keys: list[Any]

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (
            f"_IncompatibleKeys(missing_keys={self.missing_keys!r}, "
            f"unexpected_keys={self.unexpected_keys!r})"
        )

    def __str__(self) -> str:
        return self.__repr__()


class Module:
    """Base class of layers and models: subclass it and define :meth:`forward`.

    >>> class Affine(Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.scale = Parameter([2.0])
    ...     def forward(self, x):
    ...         return x * self.scale
    >>> [name for name, _ in Affine().named_parameters()]
    ['scale']
    """

    training: bool
    _parameters: dict[str, Parameter]
    _modules: dict[str, Module]
    _buffers: dict[str, Any]
    _non_persistent_buffers_set: set[str]
    _forward_hooks: dict[int, ForwardHook]
    _forward_pre_hooks: dict[int, tuple[Callable[..., Any], bool]]
    #: names of the module's own state a checkpoint may lack: loading keeps their value
    #: (PyTorch's batch norm takes a state dict without ``num_batches_tracked``)
    _optional_state: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.__dict__.update(
            _parameters={},
            _modules={},
            _buffers={},
            _non_persistent_buffers_set=set(),
            _forward_hooks={},
            _forward_pre_hooks={},
            training=True,
        )

    # -- registration ------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: call super().__init__() before assigning attributes"
            )
        if isinstance(value, Parameter):
            table: dict[str, Any] | None = self._parameters
        elif isinstance(value, Module):
            table = self._modules
        elif value is not None and (name in self._parameters or name in self._modules):
            # as PyTorch: the weight silently dropped from training and checkpoints otherwise
            kind, wanted = (("parameter", "an sg_nn.Parameter") if name in self._parameters
                            else ("module", "a Module"))  # fmt: skip
            raise TypeError(
                f"{type(self).__name__}: cannot assign a {type(value).__name__} as {kind} "
                f"'{name}' ({wanted} or None expected; to change a parameter's values, "
                f"write into its .data)"
            )
        elif name in self._buffers:  # running statistics are updated by assignment
            if not (value is None or isinstance(value, (np.ndarray, np.generic, Tensor))):
                raise TypeError(
                    f"{type(self).__name__}: cannot assign a {type(value).__name__} as "
                    f"buffer '{name}' (an array, a Tensor or None expected)"
                )
            table = self._buffers
        else:
            table = None
        for other in (self._parameters, self._modules, self._buffers):
            if other is not table:
                other.pop(name, None)
        if table is not self._buffers:
            self._non_persistent_buffers_set.discard(name)
        if table is not None:
            table[name] = value  # an existing name keeps its position
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        for table in (self._parameters, self._modules, self._buffers):
            table.pop(name, None)
        self._non_persistent_buffers_set.discard(name)
        object.__delattr__(self, name)

    def _check_new_name(self, kind: str, name: Any, table: str) -> None:
        """PyTorch's checks of a name given to ``register_buffer``, ``register_parameter``
        or ``add_module``: a non-empty string without a dot that does not hide another
        attribute (one already in the table ``table`` may be replaced)."""
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: call super().__init__() before registering a {kind}"
            )
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')
        if hasattr(self, name) and name not in self.__dict__[table]:
            raise KeyError(f"attribute '{name}' already exists")

    def register_buffer(self, name: str, tensor: Any, persistent: bool = True) -> None:
        """Keep ``tensor`` (an array or a Tensor; ``None`` holds the place) as a buffer: state
        that is not trained (running statistics, a mask), returned by :meth:`buffers` and
        converted by :meth:`to`.

        A persistent buffer is in the :meth:`state_dict` (after this module's parameters,
        before its children, as PyTorch); ``persistent=False`` keeps it out. As PyTorch, the
        name must be new or already a buffer's: ``KeyError`` if it names another attribute.
        """
        self._check_new_name("buffer", name, "_buffers")
        self._buffers[name] = tensor
        object.__setattr__(self, name, tensor)
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` under ``name``, as ``self.name = param`` does, with PyTorch's
        checks on the name; ``None`` sets a plain ``None`` attribute (nothing to train)."""
        self._check_new_name("parameter", name, "_parameters")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                "(sg_nn.Parameter or None required)"
            )
        setattr(self, name, param)

    def add_module(self, name: str, module: Module) -> None:
        """Register ``module`` as a child under ``name`` (as ``self.name = module``, with
        PyTorch's checks: a string without a dot that does not hide another attribute)."""
        if not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_new_name("module", name, "_modules")
        setattr(self, name, module)

    def register_module(self, name: str, module: Module) -> None:
        """:meth:`add_module` under its other name."""
        self.add_module(name, module)

    # -- calling ---------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation of the module; subclasses define it."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self._forward_pre_hooks and not self._forward_hooks:  # the usual case
            return self.forward(*args, **kwargs)
        for hook, with_kwargs in list(self._forward_pre_hooks.values()):
            if with_kwargs:
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(
                            "forward pre-hook must return None or a tuple of (new_args, "
                            f"new_kwargs), but got {result!r}."
                        )
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        output = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, output)
            if result is not None:
                output = result
        return output

    def register_forward_hook(self, hook: ForwardHook) -> RemovableHandle:
        """Call ``hook(module, inputs, output)`` after every forward of this module.

        ``inputs`` is the tuple of positional arguments; a hook that returns something
        other than ``None`` replaces the output (the next hook sees the new one). Hooks
        run in the order they were registered. Returns a handle: ``handle.remove()``.
        """
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    def register_forward_pre_hook(
        self, hook: ForwardPreHook, *, prepend: bool = False, with_kwargs: bool = False
    ) -> RemovableHandle:
        """Call ``hook(module, args)`` before every forward of this module.

        ``args`` is the tuple of positional arguments; a hook that returns something other
        than ``None`` replaces them (a value that is not a tuple is wrapped in one), and the
        next hook, ``forward`` and the forward hooks see the new ones. With
        ``with_kwargs=True`` the hook is ``hook(module, args, kwargs)`` and returns ``None``
        or a pair ``(args, kwargs)``. Hooks run in the order they were registered
        (``prepend=True`` puts this one first). Returns a handle: ``handle.remove()``.
        """
        hooks = self._forward_pre_hooks
        handle = RemovableHandle(hooks)
        hooks[handle.id] = (hook, bool(with_kwargs))
        if prepend:  # in place: the handles hold this dict
            for key in [key for key in hooks if key != handle.id]:
                hooks[key] = hooks.pop(key)
        return handle

    # -- traversal -----------------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct sub-modules with their attribute names (one registered under two names
        only under the first, as PyTorch)."""
        seen: set[int] = set()
        for name, module in self._modules.items():
            if id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        """The direct sub-modules."""
        for _, module in self.named_children():
            yield module

    def named_modules(
        self, prefix: str = "", *, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """This module and every module below it, depth first, with dotted names; a module
        reached twice is listed once (``remove_duplicate=False``: every time)."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if remove_duplicate:
                if id(module) in seen:
                    continue
                seen.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, m) for n, m in module._modules.items()]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        """This module and every module below it."""
        for _, module in self.named_modules():
            yield module

    def _named_members(
        self,
        members: Callable[[Module], Iterator[tuple[str, Any]]],
        prefix: str,
        recurse: bool,
        remove_duplicate: bool,
    ) -> Iterator[tuple[str, Any]]:
        """``members`` of every module (of this one only, without ``recurse``), by dotted
        name, each object once unless ``remove_duplicate`` is false; ``None`` is skipped."""
        seen: set[int] = set()
        modules = (
            self.named_modules(prefix, remove_duplicate=remove_duplicate)
            if recurse
            else iter([(prefix, self)])
        )
        for module_name, module in modules:
            for name, value in members(module):
                if value is None or id(value) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(value))
                yield (f"{module_name}.{name}" if module_name else name), value

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """Every parameter with its dotted name (each shared parameter once): each
        module's own, then its children's, depth first, as PyTorch."""
        yield from self._named_members(
            lambda module: iter(module._parameters.items()), prefix, recurse, remove_duplicate
        )

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter, in registration order."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Any]]:
        """Every buffer (persistent or not; not ``None`` ones) with its dotted name, in the
        order of :meth:`named_parameters`."""
        yield from self._named_members(
            lambda module: iter(module._buffers.items()), prefix, recurse, remove_duplicate
        )

    def buffers(self, recurse: bool = True) -> Iterator[Any]:
        """Every buffer, in the order of :meth:`named_buffers`."""
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    # -- modes and gradients -------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout active) on this module and, through each child's
        own ``train`` (which a subclass may override), on all below it."""
        if not isinstance(mode, (bool, np.bool_)):
            raise ValueError(
                f"{type(self).__name__}.train: training mode is expected to be a bool, got "
                f"{mode!r}"
            )
        object.__setattr__(self, "training", bool(mode))
        for module in self.children():
            module.train(mode)
        return self

    def eval(self) -> Module:
        """Set evaluation mode (dropout off): ``train(False)``."""
        return self.train(False)

    def requires_grad_(self: M, requires_grad: bool = True) -> M:
        """Set whether every parameter requires grad (``False`` freezes them); returns self."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def apply(self: M, fn: Callable[[Module], Any]) -> M:
        """Call ``fn`` on every sub-module, depth first, then on this module; returns self.

        As PyTorch, ``fn`` sees the children (each through its own ``apply``) before their
        parent, e.g. ``model.apply(init_weights)``.
        """
        seen: set[int] = set()
        for module in self.children():
            if id(module) not in seen:  # a child registered under two names: once
                seen.add(id(module))
                module.apply(fn)
        fn(self)
        return self

    @replayed
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient (to ``None``, or to zeros: only those that
        exist, as PyTorch)."""
        for param in self.parameters():
            if param.grad is not None:
                param.grad = None if set_to_none else np.zeros_like(param.data)

    def num_parameters(self) -> int:
        """The total number of trainable scalars."""
        return sum(p.size for p in self.parameters())

    # -- dtypes ----------------------------------------------------------------------------
    def to(self: M, *args: Any, dtype: Any = None, device: Any = None) -> M:
        """Convert the floating-point parameters and buffers (and their gradients) to
        ``dtype``, in place (the same Parameter objects, so an optimizer keeps them);
        returns self.

        ``model.to(np.float32)``, ``model.to("float32")`` or ``model.to(dtype=...)``.
        Integer buffers are left alone, as in PyTorch. sg runs on the CPU: ``"cpu"`` as
        the device is accepted (and changes nothing), any other device is an error.
        """
        for arg in args:
            if _is_device(arg):
                device = arg
            elif dtype is None:
                dtype = arg
            else:
                raise TypeError(f"to(): got two dtypes, {dtype!r} and {arg!r}")
        if device is not None and device != "cpu":
            raise ValueError(
                f"to(): sg computes on the CPU with numpy; device {device!r} is not available"
            )
        if dtype is None:
            return self
        target = _float_dtype(dtype)
        for module in self.modules():
            for param in module._parameters.values():
                _convert_tensor(param, target)
            for name, buffer in module._buffers.items():
                if isinstance(buffer, Tensor):
                    _convert_tensor(buffer, target)
                elif isinstance(buffer, np.ndarray) and buffer.dtype.kind == "f":
                    module._replace_buffer(name, buffer.astype(target))
        return self

    def float(self: M) -> M:
        """``to(np.float32)``: floating-point parameters and buffers to float32."""
        return self.to(np.float32)

    def double(self: M) -> M:
        """``to(np.float64)``: floating-point parameters and buffers to float64."""
        return self.to(np.float64)

    # -- state ---------------------------------------------------------------------------
    def _state_entries(self, prefix: str = "") -> Iterator[tuple[str, Module, str, Any]]:
        """``(key, owner, name, value)`` of every state entry, in PyTorch's order: the
        module's own parameters, its own persistent buffers (each in registration order),
        then each child's entries. A module or tensor registered under two names is listed
        under both, as PyTorch's ``state_dict``."""
        for name, param in self._parameters.items():
            yield prefix + name, self, name, param
        for name, buffer in self._buffers.items():
            if buffer is not None and name not in self._non_persistent_buffers_set:
                yield prefix + name, self, name, buffer
        for name, child in self._modules.items():
            yield from child._state_entries(f"{prefix}{name}.")

    def state_dict(self, *, prefix: str = "") -> dict[str, np.ndarray]:
        """Copies (numpy arrays) of every parameter and persistent buffer, by dotted name.

        The keys are PyTorch's, in its order: for each module, its own parameters, then its
        own persistent buffers, then its children, depth first; ``prefix`` is put before
        every key. (PyTorch's values are tensors sharing the parameters' memory; these are
        independent copies.)
        """
        state: dict[str, np.ndarray] = {}
        for key, _, _, value in self._state_entries(prefix):
            state[key] = np.array(value.data if isinstance(value, Tensor) else value)
        return state

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True
    ) -> IncompatibleKeys:
        """Copy values into the parameters and buffers of the same names.

        Returns ``(missing_keys, unexpected_keys)`` as PyTorch does: the model's keys that
        ``state_dict`` lacks and the keys of ``state_dict`` that the model has no place
        for, in PyTorch's order. With ``strict`` (the default) either is an error; with
        ``strict=False`` the matching keys are loaded and the others reported. A shape
        mismatch and a value that is not a real number (text, objects, dates, or complex
        for a real parameter) are always errors. It is all or nothing: every value is
        checked and converted before the first is copied, so after a
        :class:`CheckpointError` (PyTorch raises ``RuntimeError``) the module is exactly as
        it was.
        """
        state = state_dict
        if not isinstance(state, Mapping):
            raise TypeError(
                f"load_state_dict for {type(self).__name__}: expected a mapping of names to "
                f"arrays (a state_dict()), got {type(state).__name__}"
            )
        own = {key: (owner, name, value) for key, owner, name, value in self._state_entries()}
        missing = [
            key for key, (owner, name, _) in own.items()
            if key not in state and name not in owner._optional_state
        ]  # fmt: skip
        unexpected = _unexpected_keys(self, list(state), "")
        problems = _key_problems(missing, unexpected) if strict else []
        updates: list[tuple[Module, str, Any, np.ndarray]] = []
        for key, value in state.items():
            if isinstance(key, str) and key in own:
                owner, name, target = own[key]
                converted = _converted(key, value, target)
                if isinstance(converted, str):
                    problems.append(converted)
                else:
                    updates.append((owner, name, target, converted))
        if problems:
            raise CheckpointError(
                f"load_state_dict for {type(self).__name__}: " + "; ".join(problems)
            )
        # Nothing below can fail: every array has its target's shape and dtype, and each
        # parameter's array takes writes, so the model is never left half loaded.
        for owner, name, target, array in updates:
            if isinstance(target, Tensor):
                data: Any = target.data  # an array, or a numpy scalar (a 0-d parameter's
                if isinstance(data, np.ndarray):  # after `p.data = p.data * 2`)
                    np.copyto(data, array)  # in place: views of it see the values
                else:
                    target.data = array
                written(target)
            else:
                owner._replace_buffer(name, array)
        return IncompatibleKeys(missing, unexpected)

    def _replace_buffer(self, name: str, value: Any) -> None:
        """A new value for the buffer ``name``, which keeps its place and persistence: an
        array of the same shape and dtype is copied into the buffer's own (as PyTorch's
        copy_), so whatever holds the buffer (a captured step) sees the new values."""
        current = self._buffers.get(name)
        if (
            isinstance(current, np.ndarray) and isinstance(value, np.ndarray)
            and current.shape == value.shape and current.dtype == value.dtype
            and current.flags.writeable
        ):  # fmt: skip
            np.copyto(current, value)
            return
        self._buffers[name] = value
        object.__setattr__(self, name, value)

    # -- display -------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The module's own settings, shown in its ``repr``."""
        return ""

    def __repr__(self) -> str:
        children = [
            f"  ({name}): " + repr(module).replace("\n", "\n  ")
            for name, module in self._modules.items()
        ]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not children:
            return head + ")"
        return head + "\n" + "\n".join(children) + "\n)"


def _is_device(value: Any) -> bool:
    """Whether ``value`` names a device (``"cpu"``, ``"cuda:0"``), not a dtype."""
    if not isinstance(value, str):
        return False
    try:
        np.dtype(value)
    except TypeError:
        return True
    return False


def _float_dtype(dtype: Any) -> np.dtype[Any]:
    try:
        target: np.dtype[Any] = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"to(): {dtype!r} is not a numpy dtype") from None
    if target.kind != "f":
        raise TypeError(f"to(): only floating-point dtypes are accepted, got {target}")
    return target


def _convert_tensor(tensor: Tensor, dtype: np.dtype[Any]) -> None:
    """``tensor``'s floating data (and gradient) as ``dtype``, in place."""
    if tensor.data.dtype.kind != "f" or tensor.data.dtype == dtype:
        return
    tensor.data = tensor.data.astype(dtype)
    if tensor.grad is not None:
        tensor.grad = tensor.grad.astype(dtype)


def _key_problems(missing: list[str], unexpected: list[Any]) -> list[str]:
    problems = []
    if missing:
        problems.append(f"missing keys: {', '.join(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {', '.join(map(str, unexpected))}")
    return problems


def _unexpected_keys(module: Module, keys: list[Any], prefix: str) -> list[Any]:
    """The ``keys`` (all starting with ``prefix``) that have no place in ``module``, in
    PyTorch's order: those of this module first (a key that is not a string at the top),
    in the checkpoint's order, then each child's. A dotted key must name a child; an
    undotted one, a parameter or persistent buffer."""
    local = set(module._parameters)
    local.update(
        name
        for name, buffer in module._buffers.items()
        if buffer is not None and name not in module._non_persistent_buffers_set
    )
    unexpected: list[Any] = []
    for key in keys:
        if not isinstance(key, str):
            unexpected.append(key)
            continue
        head, dot, _ = key[len(prefix) :].partition(".")
        if head not in (module._modules if dot else local):
            unexpected.append(key)
    for name, child in module._modules.items():
        inner = f"{prefix}{name}."
        below = [key for key in keys if isinstance(key, str) and key.startswith(inner)]
        unexpected.extend(_unexpected_keys(child, below, inner))
    return unexpected


def _converted(key: str, value: Any, target: Any) -> np.ndarray | str:
    """``value`` as the array to copy into ``target`` (a parameter or a buffer), or, as a
    string, why it cannot be: a wrong shape, or a dtype that is not a fitting number."""
    try:
        array = np.asarray(value.data if isinstance(value, Tensor) else value)
    except (ValueError, TypeError) as err:  # e.g. a ragged list
        return f"{key} is not an array ({err})"
    current = target.data if isinstance(target, Tensor) else np.asarray(target)
    if array.dtype.kind not in "biufc":
        return f"bad dtype for {key}: checkpoint has {array.dtype}, not a number"
    if array.dtype.kind == "c" and current.dtype.kind != "c":
        model = f"the model's {current.dtype} is real"
        return f"bad dtype for {key}: checkpoint has {array.dtype}, {model}"
    if array.shape != current.shape:
        return (
            f"shape mismatch for {key}: checkpoint has {array.shape}, "
            f"the model has {current.shape}"
        )
    writable = not isinstance(current, np.ndarray) or current.flags.writeable
    if isinstance(target, Tensor) and not writable:  # copied into in place
        return f"{key} is read-only in the model (its array does not take writes)"
    # Copied into the model's own dtype, as PyTorch's copy_ (a float32 checkpoint keeps a
    # float64 model's running statistics float64; an integer count stays an integer).
    return np.array(array, dtype=current.dtype)
