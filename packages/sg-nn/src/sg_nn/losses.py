"""Loss functions, as functions and as modules, with ``reduction='mean'|'sum'|'none'``.

Each loss is a composition of sg-tensor operators written in its numerically stable
form, so its gradient comes from verified rules and stays finite for large logits.
Names, arguments and defaults are PyTorch's (``torch.nn.functional`` and ``torch.nn``):

>>> import numpy as np
>>> import sg_nn as nn
>>> logits = np.array([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
>>> round(nn.cross_entropy(logits, np.array([0, 2])).item(), 4)
0.8606
>>> round(nn.CrossEntropyLoss(ignore_index=2)(logits, np.array([0, 2])).item(), 4)
0.1698

The regression and margin losses are in :mod:`sg_nn.losses_regression`, the
classification losses in :mod:`sg_nn.losses_classification`, the likelihood losses in
:mod:`sg_nn.losses_probabilistic`; all are importable from here.
"""

from __future__ import annotations

from sg_nn._loss import REDUCTIONS as REDUCTIONS
from sg_nn.losses_classification import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    NLLLoss,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    nll_loss,
)
from sg_nn.losses_probabilistic import (
    GaussianNLLLoss,
    KLDivLoss,
    PoissonNLLLoss,
    gaussian_nll_loss,
    kl_div,
    poisson_nll_loss,
)
from sg_nn.losses_regression import (
    HingeLoss,
    HuberLoss,
    L1Loss,
    MarginRankingLoss,
    MSELoss,
    SmoothL1Loss,
    SoftMarginLoss,
    hinge_loss,
    huber_loss,
    l1_loss,
    margin_ranking_loss,
    mse_loss,
    smooth_l1_loss,
    soft_margin_loss,
)

__all__ = [
    "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "GaussianNLLLoss", "HingeLoss",
    "HuberLoss", "KLDivLoss", "L1Loss", "MSELoss", "MarginRankingLoss", "NLLLoss",
    "PoissonNLLLoss", "SmoothL1Loss", "SoftMarginLoss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "cross_entropy", "gaussian_nll_loss", "hinge_loss",
    "huber_loss", "kl_div", "l1_loss", "margin_ranking_loss", "mse_loss", "nll_loss",
    "poisson_nll_loss", "smooth_l1_loss", "soft_margin_loss",
]  # fmt: skip
