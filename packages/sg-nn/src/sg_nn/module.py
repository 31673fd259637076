"""``Module`` and ``Parameter``: the bookkeeping every layer shares.

A module registers the parameters and sub-modules assigned to its attributes, in the
order they are assigned, so ``parameters()`` and ``state_dict()`` are deterministic and
their names (``"layers.0.weight"``) match PyTorch's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import numpy as np

import sg_tensor as st
from sg_nn.checkpoint import CheckpointError
from sg_nn.hooks import ForwardHook, RemovableHandle
from sg_tensor import Tensor

__all__ = ["Module", "Parameter"]

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
    _forward_hooks: dict[int, ForwardHook]

    def __init__(self) -> None:
        self.__dict__.update(
            _parameters={}, _modules={}, _buffers={}, _forward_hooks={}, training=True
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
        elif name in self._buffers:  # running statistics are updated by assignment
            table = self._buffers
        else:
            table = None
        for other in (self._parameters, self._modules, self._buffers):
            if other is not table:
                other.pop(name, None)
        if table is not None:
            table[name] = value  # an existing name keeps its position
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        for table in (self._parameters, self._modules, self._buffers):
            table.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, value: Any) -> None:
        """Keep ``value`` (an array) in the state dict without training it (e.g. running stats)."""
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        object.__setattr__(self, name, value)
        self._buffers[name] = value

    # -- calling ---------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation of the module; subclasses define it."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
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

    # -- traversal -----------------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct sub-modules with their attribute names."""
        yield from self._modules.items()

    def children(self) -> Iterator[Module]:
        """The direct sub-modules."""
        for _, module in self.named_children():
            yield module

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every module below it, depth first, with dotted names."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, m) for n, m in module.named_children()]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        """This module and every module below it."""
        for _, module in self.named_modules():
            yield module

    def named_parameters(
        self, prefix: str = "", recurse: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """Every parameter with its dotted name (each shared parameter once)."""
        seen: set[int] = set()
        modules = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for module_name, module in modules:
            for name, param in module._parameters.items():
                if id(param) in seen:
                    continue
                seen.add(id(param))
                yield (f"{module_name}.{name}" if module_name else name), param

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter, in registration order."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self) -> Iterator[tuple[str, Any]]:
        """Every buffer with its dotted name."""
        for module_name, module in self.named_modules():
            for name, buffer in module._buffers.items():
                yield (f"{module_name}.{name}" if module_name else name), buffer

    # -- modes and gradients -------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout active) on this module and all below it."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
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

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient (to ``None``, or to zeros)."""
        for param in self.parameters():
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
                    module.register_buffer(name, buffer.astype(target))
        return self

    def float(self: M) -> M:
        """``to(np.float32)``: floating-point parameters and buffers to float32."""
        return self.to(np.float32)

    def double(self: M) -> M:
        """``to(np.float64)``: floating-point parameters and buffers to float64."""
        return self.to(np.float64)

    # -- state ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer, by dotted name."""
        state = {name: param.data.copy() for name, param in self.named_parameters()}
        for name, buffer in self.named_buffers():
            state[name] = np.array(buffer.data if isinstance(buffer, Tensor) else buffer)
        return state

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> None:
        """Copy values into the parameters and buffers of the same names.

        With ``strict`` (the default) the keys must match exactly; a shape mismatch and a
        value that is not a real number (text, objects, dates, or complex for a real
        parameter) are always errors. It is all or nothing: every value is checked and
        converted before the first is copied, so after a :class:`CheckpointError` the
        module is exactly as it was.
        """
        if not isinstance(state, Mapping):
            raise TypeError(
                f"load_state_dict for {type(self).__name__}: expected a mapping of names to "
                f"arrays (a state_dict()), got {type(state).__name__}"
            )
        own: dict[str, Any] = dict(self.named_parameters())
        own.update(self.named_buffers())
        problems = _key_problems(own, state) if strict else []
        updates: list[tuple[str, Any, np.ndarray]] = []
        for key, value in state.items():
            if key in own:
                converted = _converted(key, value, own[key])
                if isinstance(converted, str):
                    problems.append(converted)
                else:
                    updates.append((key, own[key], converted))
        if problems:
            raise CheckpointError(
                f"load_state_dict for {type(self).__name__}: " + "; ".join(problems)
            )
        # Nothing below can fail: every array has its target's shape (and a parameter's
        # dtype), so the model is never left half loaded.
        for key, target, array in updates:
            if isinstance(target, Tensor):
                np.copyto(target.data, array)  # in place: optimizers keep their references
            else:
                self._set_buffer(key, array)

    def _set_buffer(self, dotted: str, value: Any) -> None:
        *path, name = dotted.split(".")
        module: Module = self
        for part in path:
            module = module._modules[part]
        module.register_buffer(name, value)

    # -- display -------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The module's own settings, shown in its ``repr``."""
        return ""

    def __repr__(self) -> str:
        children = [
            f"  ({name}): " + repr(module).replace("\n", "\n  ")
            for name, module in self.named_children()
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


def _key_problems(own: dict[str, Any], state: Mapping[str, Any]) -> list[str]:
    missing = [str(k) for k in own if k not in state]
    unexpected = [str(k) for k in state if k not in own]
    problems = []
    if missing:
        problems.append(f"missing keys: {', '.join(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {', '.join(unexpected)}")
    return problems


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
    if isinstance(target, Tensor):
        return np.asarray(array, dtype=current.dtype)
    return np.array(array)  # a buffer takes the checkpoint's dtype, as a copy
