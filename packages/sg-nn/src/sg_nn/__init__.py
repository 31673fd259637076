"""sg-nn: modules, layers, losses, initialisers, small datasets and checkpoints for sg.

>>> import numpy as np
>>> import sg_nn as nn
>>> model = nn.MLP([2, 16, 16, 1], rng=np.random.default_rng(0))
>>> model(np.zeros((5, 2))).shape
(5, 1)
"""

from importlib.metadata import PackageNotFoundError, version

from sg_nn import data, init
from sg_nn.checkpoint import CheckpointError, CheckpointTooLargeError, load, save
from sg_nn.init import manual_seed
from sg_nn.layers import (
    GELU,
    MLP,
    Dropout,
    Embedding,
    Identity,
    LayerNorm,
    Linear,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
)
from sg_nn.losses import (
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HingeLoss,
    MSELoss,
    NLLLoss,
    binary_cross_entropy_with_logits,
    cross_entropy,
    hinge_loss,
    mse_loss,
    nll_loss,
)
from sg_nn.module import Module, Parameter

try:
    __version__ = version("sg-nn")
except PackageNotFoundError:  # a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "GELU", "MLP", "BCEWithLogitsLoss", "CheckpointError", "CheckpointTooLargeError",
    "CrossEntropyLoss", "Dropout", "Embedding",
    "HingeLoss", "Identity", "LayerNorm", "Linear", "MSELoss", "Module", "NLLLoss",
    "Parameter", "ReLU", "Sequential", "Sigmoid", "Tanh", "__version__",
    "binary_cross_entropy_with_logits", "cross_entropy", "data", "hinge_loss", "init", "load",
    "manual_seed", "mse_loss", "nll_loss", "save",
]  # fmt: skip
