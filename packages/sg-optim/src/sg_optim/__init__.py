"""sg-optim: optimizers and learning-rate schedulers for sg, written from first principles.

>>> import numpy as np
>>> import sg_tensor as st
>>> from sg_optim import SGD
>>> w = st.tensor([1.0, -2.0], requires_grad=True)
>>> opt = SGD([w], lr=0.1)
>>> (w * w).sum().backward()
>>> opt.step()
>>> w.data
array([ 0.8, -1.6])
"""

from importlib.metadata import PackageNotFoundError, version

from sg_optim.adagrad import Adagrad
from sg_optim.adam import Adam, AdamW
from sg_optim.lr_scheduler import (
    ChainedScheduler,
    ConstantLR,
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    CyclicLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    LRScheduler,
    MultiplicativeLR,
    MultiStepLR,
    OneCycleLR,
    PolynomialLR,
    ReduceLROnPlateau,
    SequentialLR,
    StepLR,
)
from sg_optim.optimizer import Optimizer
from sg_optim.rmsprop import RMSprop
from sg_optim.sgd import SGD

try:
    __version__ = version("sg-optim")
except PackageNotFoundError:  # a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "ChainedScheduler",
    "ConstantLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "ExponentialLR",
    "LRScheduler",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "MultiplicativeLR",
    "OneCycleLR",
    "Optimizer",
    "PolynomialLR",
    "RMSprop",
    "ReduceLROnPlateau",
    "SequentialLR",
    "StepLR",
    "__version__",
]
