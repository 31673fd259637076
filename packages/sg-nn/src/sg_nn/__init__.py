"""sg-nn: modules, layers, losses, initialisers, small datasets and checkpoints for sg.

>>> import numpy as np
>>> import sg_nn as nn
>>> model = nn.MLP([2, 16, 16, 1], rng=np.random.default_rng(0))
>>> model(np.zeros((5, 2))).shape
(5, 1)

``sg_nn`` is to sg what ``torch.nn`` is to PyTorch, and ``sg_nn.functional`` what
``torch.nn.functional`` is: the same names, arguments and defaults.
"""

from importlib.metadata import PackageNotFoundError, version

from sg_nn import data, functional, init, utils
from sg_nn.activations import (
    CELU,
    ELU,
    GELU,
    GLU,
    SELU,
    Hardshrink,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Mish,
    PReLU,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softmin,
    Softplus,
    Softshrink,
    Softsign,
    Tanh,
    Tanhshrink,
    Threshold,
)
from sg_nn.checkpoint import CheckpointError, CheckpointTooLargeError, load, save
from sg_nn.containers import ModuleDict, ModuleList, Sequential
from sg_nn.hooks import RemovableHandle
from sg_nn.init import manual_seed
from sg_nn.layers import (
    MLP,
    Dropout,
    Embedding,
    Flatten,
    Identity,
    LayerNorm,
    Linear,
    Unflatten,
)
from sg_nn.losses import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    GaussianNLLLoss,
    HingeLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MarginRankingLoss,
    MSELoss,
    NLLLoss,
    PoissonNLLLoss,
    SmoothL1Loss,
    SoftMarginLoss,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    gaussian_nll_loss,
    hinge_loss,
    huber_loss,
    kl_div,
    l1_loss,
    margin_ranking_loss,
    mse_loss,
    nll_loss,
    poisson_nll_loss,
    smooth_l1_loss,
    soft_margin_loss,
)
from sg_nn.module import Module, Parameter

try:
    __version__ = version("sg-nn")
except PackageNotFoundError:  # a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "CELU", "ELU", "GELU", "GLU", "MLP", "SELU", "BCELoss", "BCEWithLogitsLoss",
    "CheckpointError", "CheckpointTooLargeError", "CrossEntropyLoss", "Dropout", "Embedding",
    "Flatten", "GaussianNLLLoss", "Hardshrink", "Hardsigmoid", "Hardswish", "Hardtanh",
    "HingeLoss", "HuberLoss", "Identity", "KLDivLoss", "L1Loss", "LayerNorm", "LeakyReLU",
    "Linear", "LogSigmoid", "LogSoftmax", "MSELoss", "MarginRankingLoss", "Mish", "Module",
    "ModuleDict", "ModuleList", "NLLLoss", "PReLU", "Parameter", "PoissonNLLLoss", "ReLU",
    "ReLU6", "RemovableHandle", "Sequential", "SiLU", "Sigmoid", "SmoothL1Loss",
    "SoftMarginLoss", "Softmax", "Softmin", "Softplus", "Softshrink", "Softsign", "Tanh",
    "Tanhshrink", "Threshold", "Unflatten", "__version__", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "cross_entropy", "data", "functional",
    "gaussian_nll_loss", "hinge_loss", "huber_loss", "init", "kl_div", "l1_loss", "load",
    "manual_seed", "margin_ranking_loss", "mse_loss", "nll_loss", "poisson_nll_loss", "save",
    "smooth_l1_loss", "soft_margin_loss", "utils",
]  # fmt: skip
