"""Layers: ``Linear``, ``Sequential``, ``MLP``, activations, ``Dropout``, ``LayerNorm``,
``Embedding``.

Layers are compositions of sg-tensor operators, so they need no gradient rules of their
own: every gradient comes from the operator table, where it is verified.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

import sg_tensor as st
from sg_nn import init
from sg_nn.module import Module, Parameter
from sg_tensor import Tensor

__all__ = [
    "GELU", "MLP", "Dropout", "Embedding", "Identity", "LayerNorm", "Linear", "ReLU",
    "Sequential", "Sigmoid", "Tanh",
]  # fmt: skip


class Linear(Module):
    """``y = x @ W.T + b`` with ``W`` of shape ``(out_features, in_features)``, as PyTorch.

    Initialised as PyTorch's ``nn.Linear``: ``W`` by ``kaiming_uniform_(a=sqrt(5))`` and
    ``b`` from U(-1/sqrt(in), 1/sqrt(in)).
    """

    weight: Parameter
    bias: Parameter | None

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        rng: np.random.Generator | None = None,
        dtype: Any = np.float64,
    ) -> None:
        super().__init__()
        if in_features <= 0 or out_features <= 0:
            raise ValueError(
                f"Linear: in_features and out_features must be positive, "
                f"got {in_features} and {out_features}"
            )
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), rng=rng)
        self.bias = None
        if bias:
            self.bias = Parameter(np.empty(out_features, dtype=dtype))
            bound = 1 / math.sqrt(in_features)
            init.uniform_(self.bias, -bound, bound, rng=rng)

    def forward(self, x: Any) -> Tensor:
        """``x @ weight.T + bias`` (no ``+ bias`` without a bias), ``(..., in_features)`` to
        ``(..., out_features)``, as one graph node (:func:`sg_tensor.linear`)."""
        t = st.as_tensor(x)
        if t.shape[-1:] != (self.in_features,):
            raise ValueError(
                f"Linear: expected inputs with last dimension {self.in_features}, "
                f"got shape {t.shape}"
            )
        return st.linear(t, self.weight, self.bias)  # x @ W.T + b as one graph node

    def extra_repr(self) -> str:
        """The sizes and whether there is a bias: ``in_features=2, out_features=8, bias=True``."""
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Sequential(Module):
    """Modules applied one after the other: ``Sequential(Linear(2, 8), ReLU())``."""

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        for i, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(f"Sequential: item {i} is a {type(module).__name__}, not a Module")
            setattr(self, str(i), module)

    def forward(self, x: Any) -> Any:
        """Each module in turn on the previous one's output; ``x`` unchanged if there are none."""
        for module in self._modules.values():
            x = module(x)
        return x

    def __getitem__(self, index: int) -> Module:
        return list(self._modules.values())[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())


class Identity(Module):
    """Returns its input."""

    def forward(self, x: Any) -> Any:
        """``x`` itself, unchanged (not converted to a Tensor)."""
        return x


class ReLU(Module):
    """``max(x, 0)``."""

    def forward(self, x: Any) -> Tensor:
        """``max(x, 0)`` elementwise (derivative 0 at 0)."""
        return st.as_tensor(x).relu()


class Tanh(Module):
    """Hyperbolic tangent."""

    def forward(self, x: Any) -> Tensor:
        """``tanh(x)`` elementwise."""
        return st.as_tensor(x).tanh()


class Sigmoid(Module):
    """Logistic sigmoid."""

    def forward(self, x: Any) -> Tensor:
        """``1 / (1 + e**-x)`` elementwise."""
        return st.as_tensor(x).sigmoid()


class GELU(Module):
    """Gaussian error linear unit (``approximate="tanh"`` for the tanh form)."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, x: Any) -> Tensor:
        """``x * Phi(x)`` elementwise, ``Phi`` the standard normal cdf; with ``approximate="tanh"``
        ``0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3)))``."""
        return st.as_tensor(x).gelu(self.approximate)

    def extra_repr(self) -> str:
        """The form used: ``approximate='none'`` or ``approximate='tanh'``."""
        return f"approximate={self.approximate!r}"


ACTIVATIONS: dict[str, Callable[[], Module]] = {
    "relu": ReLU,
    "tanh": Tanh,
    "sigmoid": Sigmoid,
    "gelu": GELU,
    "identity": Identity,
}


class MLP(Sequential):
    """A multilayer perceptron: ``MLP([2, 16, 16, 1])`` is Linear-act-Linear-act-Linear.

    ``activation`` is a name (``"relu"``, ``"tanh"``, ``"sigmoid"``, ``"gelu"``) or a
    Module class, used after every layer but the last.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str | Callable[[], Module] = "relu",
        rng: np.random.Generator | None = None,
        dtype: Any = np.float64,
    ) -> None:
        if len(sizes) < 2:
            raise ValueError(f"MLP: sizes needs at least an input and an output size, got {sizes}")
        if isinstance(activation, str):
            if activation not in ACTIVATIONS:
                raise ValueError(
                    f"MLP: unknown activation {activation!r}; choose from {sorted(ACTIVATIONS)}"
                )
            make_activation = ACTIVATIONS[activation]
        else:
            make_activation = activation
        layers: list[Module] = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(Linear(n_in, n_out, rng=rng, dtype=dtype))
            if i < len(sizes) - 2:
                layers.append(make_activation())
        super().__init__(*layers)
        self.sizes = list(sizes)


class Dropout(Module):
    """Zero each element with probability ``p`` in training mode, scaling the rest by
    ``1 / (1 - p)``; the identity in evaluation mode."""

    def __init__(self, p: float = 0.5, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p
        self.rng = rng

    def forward(self, x: Any) -> Tensor:
        """Training mode: ``x`` times a fresh random mask that keeps each element with probability
        ``1 - p``, scaled by ``1 / (1 - p)``. Evaluation mode (or ``p == 0``): ``x`` unchanged."""
        t = st.as_tensor(x)
        if not self.training or self.p == 0:
            return t
        rng = self.rng if self.rng is not None else init.default_generator()
        keep = rng.random(t.shape) >= self.p
        return t * (keep / (1 - self.p)).astype(t.dtype)

    def extra_repr(self) -> str:
        """The drop probability: ``p=0.5``."""
        return f"p={self.p}"


class LayerNorm(Module):
    """Normalise over the last dimensions to zero mean and unit variance, then scale and
    shift: ``(x - mean) / sqrt(var + eps) * weight + bias`` (biased variance, as PyTorch)."""

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        dtype: Any = np.float64,
    ) -> None:
        super().__init__()
        shape = (
            (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        )
        self.normalized_shape, self.eps = shape, eps
        self.weight = None
        self.bias = None
        if elementwise_affine:
            self.weight = Parameter(np.ones(shape, dtype=dtype))
            self.bias = Parameter(np.zeros(shape, dtype=dtype))

    def forward(self, x: Any) -> Tensor:
        """``(x - mean) / sqrt(var + eps)`` over the trailing ``normalized_shape`` dimensions
        (biased variance), then ``* weight + bias`` if affine; ``x`` must end in that shape."""
        t = st.as_tensor(x)
        n = len(self.normalized_shape)
        if t.shape[-n:] != self.normalized_shape:
            raise ValueError(
                f"LayerNorm: expected inputs ending in shape {self.normalized_shape}, "
                f"got {t.shape}"
            )
        axes = tuple(range(t.ndim - n, t.ndim))
        mean = t.mean(axis=axes, keepdims=True)
        var = t.var(axis=axes, keepdims=True, correction=0)  # the biased variance, as PyTorch
        out = (t - mean) / (var + self.eps).sqrt()
        if self.weight is not None and self.bias is not None:
            out = out * self.weight + self.bias
        return out

    def extra_repr(self) -> str:
        """The normalized shape and ``eps``: ``(8,), eps=1e-05``."""
        return f"{self.normalized_shape}, eps={self.eps}"


class Embedding(Module):
    """A lookup table: row ``i`` of ``weight`` is the vector of token ``i``.

    ``weight`` starts as N(0, 1) samples, as PyTorch's ``nn.Embedding``; repeated indices
    in a batch add up their gradients.
    """

    weight: Parameter

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        rng: np.random.Generator | None = None,
        dtype: Any = np.float64,
    ) -> None:
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = Parameter(np.empty((num_embeddings, embedding_dim), dtype=dtype))
        init.normal_(self.weight, rng=rng)

    def forward(self, indices: Any) -> Tensor:
        """The rows ``weight[indices]``, of shape ``indices.shape + (embedding_dim,)``, for integer
        indices in ``[0, num_embeddings)``; repeated indices add up their gradients."""
        idx = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
        if idx.dtype.kind not in "iu":
            raise TypeError(f"Embedding: indices must be integers, got dtype {idx.dtype}")
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_embeddings):
            raise IndexError(
                f"Embedding: indices must be in [0, {self.num_embeddings}), "
                f"got values from {idx.min()} to {idx.max()}"
            )
        return self.weight[idx]

    def extra_repr(self) -> str:
        """The table's size: ``num_embeddings, embedding_dim`` (``10, 3``)."""
        return f"{self.num_embeddings}, {self.embedding_dim}"
