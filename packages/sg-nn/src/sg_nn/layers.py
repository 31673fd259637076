"""Layers: ``Linear``, ``MLP``, ``Identity``, ``Dropout``, ``LayerNorm``, ``Embedding``,
``Flatten`` and ``Unflatten`` (the activation modules are in :mod:`sg_nn.activations`,
the containers ``Sequential``, ``ModuleList`` and ``ModuleDict`` in
:mod:`sg_nn.containers`; both importable from here too).

Layers are compositions of sg-tensor operators, so they need no gradient rules of their
own: every gradient comes from the operator table, where it is verified.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import sg_tensor as st
from sg_nn import functional as F
from sg_nn import init
from sg_nn.activations import GELU, ReLU, Sigmoid, Tanh
from sg_nn.containers import ModuleDict, ModuleList, Sequential
from sg_nn.module import Module, Parameter
from sg_tensor import Tensor

__all__ = [
    "GELU", "MLP", "Dropout", "Dropout2d", "Embedding", "Flatten", "Identity", "LayerNorm",
    "Linear", "ModuleDict", "ModuleList", "ReLU", "Sequential", "Sigmoid", "Tanh", "Unflatten",
]  # fmt: skip


def _dtype(dtype: Any) -> Any:
    """A layer's parameter dtype: as given, else sg-tensor's default (float64 unless
    ``sg_tensor.set_default_dtype`` said otherwise, as PyTorch's layers follow theirs)."""
    return st.get_default_dtype() if dtype is None else dtype


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
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if in_features <= 0 or out_features <= 0:
            raise ValueError(
                f"Linear: in_features and out_features must be positive, "
                f"got {in_features} and {out_features}"
            )
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(np.empty((out_features, in_features), dtype=_dtype(dtype)))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), rng=rng)
        self.bias = None
        if bias:
            self.bias = Parameter(np.empty(out_features, dtype=_dtype(dtype)))
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


class Identity(Module):
    """Returns its input. As PyTorch's, it takes any arguments and ignores them (so it can
    stand in for a layer: ``Identity(54, bias=False)``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Any) -> Any:
        """``x`` itself, unchanged (not converted to a Tensor)."""
        return x


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
        dtype: Any = None,
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
    ``1 / (1 - p)``; the identity in evaluation mode.

    ``inplace`` is accepted, as PyTorch's, but sg computes out of place: the values and
    gradients are the same, and the input is not modified. The mask is drawn from
    ``rng``, or from the default generator (see :func:`sg_nn.manual_seed`).
    """

    def __init__(
        self, p: float = 0.5, inplace: bool = False, rng: np.random.Generator | None = None
    ) -> None:
        super().__init__()
        if not 0 <= p <= 1:  # p == 1 drops everything (all zeros), as PyTorch's
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p
        self.inplace = inplace
        self.rng = rng

    def forward(self, x: Any) -> Tensor:
        """Training mode: ``x`` times a fresh random mask that keeps each element with probability
        ``1 - p``, scaled by ``1 / (1 - p)``. Evaluation mode (or ``p == 0``): ``x`` unchanged."""
        return F.dropout(x, self.p, self.training, rng=self.rng)

    def extra_repr(self) -> str:
        """The drop probability: ``p=0.5`` (and ``inplace=True`` if it was asked for)."""
        return f"p={self.p}" + (", inplace=True" if self.inplace else "")


class Dropout2d(Module):
    """Zero whole channels of (N, C, H, W) inputs (or (N, C, L), as PyTorch reads a 3-D
    input) with probability ``p`` in training mode, scaling the rest by ``1 / (1 - p)``;
    the identity in evaluation mode."""

    def __init__(
        self, p: float = 0.5, inplace: bool = False, rng: np.random.Generator | None = None
    ) -> None:
        super().__init__()
        if not 0 <= p <= 1:  # p == 1 drops everything (all zeros), as PyTorch's
            raise ValueError(f"Dropout2d: p must be in [0, 1], got {p}")
        self.p, self.inplace, self.rng = p, inplace, rng

    def forward(self, x: Any) -> Tensor:
        """``x`` times a random per-channel mask (training), or ``x`` unchanged."""
        return F.dropout2d(x, self.p, self.training, rng=self.rng)

    def extra_repr(self) -> str:
        """The drop probability: ``p=0.5``."""
        return f"p={self.p}"


class LayerNorm(Module):
    """Normalise over the last dimensions to zero mean and unit variance, then scale and
    shift: ``(x - mean) / sqrt(var + eps) * weight + bias`` (biased variance, as PyTorch).

    ``elementwise_affine=False``: neither ``weight`` nor ``bias``; ``bias=False``: a
    ``weight`` (ones) but no ``bias``, as PyTorch's.
    """

    weight: Parameter | None
    bias: Parameter | None

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        shape = F._normalized_shape("LayerNorm", normalized_shape)
        self.normalized_shape, self.eps = shape, eps
        self.weight = None
        self.bias = None
        if elementwise_affine:
            self.weight = Parameter(np.ones(shape, dtype=_dtype(dtype)))
            if bias:
                self.bias = Parameter(np.zeros(shape, dtype=_dtype(dtype)))

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
        return F.layer_norm(t, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        """The normalized shape and ``eps``: ``(8,), eps=1e-05``."""
        return f"{self.normalized_shape}, eps={self.eps}"


class Embedding(Module):
    """A lookup table: row ``i`` of ``weight`` is the vector of token ``i``.

    ``weight`` starts as N(0, 1) samples, as PyTorch's ``nn.Embedding``; repeated indices
    in a batch add up their gradients. The row ``padding_idx`` (if given; a negative one
    counts from the end) starts as zeros and never receives a gradient, so it stays as it
    is: the vector of a padding token. :meth:`from_pretrained` makes one from a given
    table.
    """

    weight: Parameter

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        *,  # PyTorch's next positional parameter is max_norm, which sg does not have
        rng: np.random.Generator | None = None,
        dtype: Any = None,
        _weight: Any = None,
        _freeze: bool = False,
    ) -> None:
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        if padding_idx is not None:
            padding_idx = F._padding_index("Embedding", padding_idx, num_embeddings)
        self.padding_idx = padding_idx
        if _weight is not None:  # a given table (as PyTorch's _weight): nothing is drawn
            table = np.array(_weight.data if isinstance(_weight, Tensor) else _weight)
            if table.shape != (num_embeddings, embedding_dim):
                raise ValueError(
                    f"Embedding: the weight's shape {table.shape} does not match "
                    f"num_embeddings and embedding_dim ({num_embeddings}, {embedding_dim})"
                )
            self.weight = Parameter(table, requires_grad=not _freeze)
            return
        self.weight = Parameter(np.empty((num_embeddings, embedding_dim), dtype=_dtype(dtype)))
        init.normal_(self.weight, rng=rng)
        if padding_idx is not None:
            self.weight.data[padding_idx] = 0.0

    @classmethod
    def from_pretrained(
        cls, embeddings: Any, freeze: bool = True, padding_idx: int | None = None
    ) -> Embedding:
        """An Embedding whose table is (a copy of) the 2-D ``embeddings``, as PyTorch's.

        ``freeze=True`` (the default): the table is not trained (its ``requires_grad`` is
        false). The ``padding_idx`` row keeps its given values (it is not zeroed) and gets
        no gradient. The table keeps its floating dtype (integers become sg-tensor's
        default). Unlike PyTorch, whose weight shares memory with ``embeddings``, the
        table is a copy: changing ``embeddings`` later does not change the layer.

        >>> import numpy as np
        >>> layer = Embedding.from_pretrained(np.array([[1.0, 2.0], [3.0, 4.0]]))
        >>> layer(np.array([1, 1])), layer.weight.requires_grad
        (Tensor([[3., 4.],
                [3., 4.]]), False)
        """
        table = np.asarray(embeddings.data if isinstance(embeddings, Tensor) else embeddings)
        if table.ndim != 2:
            raise ValueError(
                f"Embedding.from_pretrained: embeddings must be 2-dimensional, got shape "
                f"{table.shape}"
            )
        rows, cols = table.shape
        return cls(rows, cols, padding_idx=padding_idx, _weight=table, _freeze=freeze)

    def forward(self, indices: Any) -> Tensor:
        """The rows ``weight[indices]``, of shape ``indices.shape + (embedding_dim,)``, for integer
        indices in ``[0, num_embeddings)``; repeated indices add up their gradients, and the
        padding row gets none."""
        return F._lookup("Embedding", indices, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        """The table's size, ``num_embeddings, embedding_dim`` (``10, 3``), and the
        ``padding_idx`` if there is one."""
        padding = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{padding}"


class Flatten(Module):
    """Merge the dimensions ``start_dim`` to ``end_dim`` into one: ``(N, C, H, W)`` to
    ``(N, C * H * W)`` with the defaults, which keep the batch dimension."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Any) -> Tensor:
        """``x`` reshaped, its dimensions ``start_dim..end_dim`` (inclusive) merged."""
        return st.as_tensor(x).flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        """The merged range: ``start_dim=1, end_dim=-1``."""
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size``: ``Unflatten(1, (2, 5))`` takes
    ``(N, 10)`` to ``(N, 2, 5)``. One size may be -1, inferred from the others."""

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        sizes = tuple(unflattened_size)
        if not all(isinstance(n, (int, np.integer)) for n in sizes):
            raise TypeError(
                f"Unflatten: unflattened_size must be a tuple or list of ints, got {sizes!r}"
            )
        if sum(n == -1 for n in sizes) > 1 or any(n < -1 for n in sizes):
            raise ValueError(
                f"Unflatten: unflattened_size takes sizes >= 0 and at most one -1, got {sizes}"
            )
        self.dim, self.unflattened_size = dim, tuple(int(n) for n in sizes)

    def forward(self, x: Any) -> Tensor:
        """``x`` reshaped, dimension ``dim`` replaced by ``unflattened_size``."""
        t = st.as_tensor(x)
        if not -t.ndim <= self.dim < t.ndim:
            raise IndexError(
                f"Unflatten: dim {self.dim} is out of range for an input of shape {t.shape}"
            )
        d = self.dim % t.ndim
        sizes = self.unflattened_size
        known = math.prod(n for n in sizes if n != -1)
        fits = t.shape[d] % known == 0 if -1 in sizes and known else t.shape[d] == known
        if not fits:
            raise ValueError(
                f"Unflatten: dimension {self.dim} of the input {t.shape} has size "
                f"{t.shape[d]}, which cannot be unflattened into {sizes}"
            )
        return t.reshape(t.shape[:d] + sizes + t.shape[d + 1 :])

    def extra_repr(self) -> str:
        """The dimension and its new sizes: ``dim=1, unflattened_size=(2, 5)``."""
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
