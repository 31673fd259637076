"""Invalid hyperparameters raise ValueError naming the offending parameter."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import pytest

import sg_tensor as st
from sg_optim import (
    SGD,
    Adam,
    AdamW,
    CosineAnnealingLR,
    LinearLR,
    Optimizer,
    RMSprop,
    StepLR,
)

OPTIMIZERS: dict[str, type[Optimizer]] = {
    "SGD": SGD,
    "Adam": Adam,
    "AdamW": AdamW,
    "RMSprop": RMSprop,
}


def _w() -> st.Tensor:
    return st.tensor([1.0, 2.0], requires_grad=True)


# (optimizer, keyword arguments, the name the message must contain)
INVALID: list[tuple[str, dict[str, Any], str]] = [
    *[(name, {"lr": -0.1}, "lr") for name in OPTIMIZERS],
    *[(name, {"lr": math.nan}, "lr") for name in OPTIMIZERS],
    *[(name, {"weight_decay": -1e-4}, "weight_decay") for name in OPTIMIZERS],
    ("SGD", {"momentum": -0.5}, "momentum"),
    ("SGD", {"dampening": -0.1}, "dampening"),
    ("SGD", {"nesterov": True}, "nesterov"),
    ("SGD", {"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "nesterov"),
    ("RMSprop", {"alpha": -0.5}, "alpha"),
    ("RMSprop", {"eps": -1e-8}, "eps"),
    ("RMSprop", {"momentum": -0.9}, "momentum"),
]
for _name in ("Adam", "AdamW"):
    INVALID += [
        (_name, {"eps": -1e-8}, "eps"),
        (_name, {"betas": (1.0, 0.999)}, "betas[0]"),
        (_name, {"betas": (-0.1, 0.999)}, "betas[0]"),
        (_name, {"betas": (1.5, 0.999)}, "betas[0]"),
        (_name, {"betas": (math.nan, 0.999)}, "betas[0]"),
        (_name, {"betas": (0.9, 1.0)}, "betas[1]"),
        (_name, {"betas": (0.9, -0.1)}, "betas[1]"),
        (_name, {"betas": (0.9, 2.0)}, "betas[1]"),
        (_name, {"betas": (0.9, 0.99, 0.9)}, "betas"),
    ]


def _case_id(case: tuple[str, dict[str, Any], str]) -> str:
    name, kwargs, _ = case
    return name + "-" + ",".join(f"{k}={v}" for k, v in kwargs.items())


@pytest.mark.parametrize("case", INVALID, ids=_case_id)
def test_invalid_hyperparameters_raise_naming_the_parameter(
    case: tuple[str, dict[str, Any], str],
) -> None:
    name, kwargs, param = case
    with pytest.raises(ValueError, match=re.escape(param)):
        OPTIMIZERS[name]([_w()], **kwargs)


@pytest.mark.parametrize("case", INVALID, ids=_case_id)
def test_invalid_group_hyperparameters_raise_too(case: tuple[str, dict[str, Any], str]) -> None:
    """The same value given for one group only (the defaults are valid)."""
    name, kwargs, param = case
    with pytest.raises(ValueError, match=re.escape(param)):
        OPTIMIZERS[name]([{"params": [_w()]}, {"params": [_w()], **kwargs}])


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_the_message_names_the_optimizer_and_the_value(name: str) -> None:
    with pytest.raises(ValueError, match=rf"{name}.*lr.*-0\.25"):
        OPTIMIZERS[name]([_w()], lr=-0.25)


VALID: list[tuple[str, dict[str, Any]]] = [
    ("SGD", {"lr": 0.0, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 1.0}),
    ("Adam", {"lr": 0.0, "betas": (0.0, 0.0), "eps": 0.0, "weight_decay": 0.0}),
    ("Adam", {"betas": [0.5, 0.9]}),
    ("Adam", {"betas": (0.999999, 0.999999)}),
    ("AdamW", {"lr": 0.0, "betas": (0.0, 0.0), "eps": 0.0, "weight_decay": 0.0}),
    ("RMSprop", {"lr": 0.0, "alpha": 0.0, "eps": 0.0, "weight_decay": 0.0, "momentum": 0.0}),
    ("RMSprop", {"alpha": 1.0, "momentum": 0.9, "centered": True}),
]


@pytest.mark.parametrize(("name", "kwargs"), VALID, ids=lambda x: str(x))
def test_boundary_values_are_accepted(name: str, kwargs: dict[str, Any]) -> None:
    opt = OPTIMIZERS[name]([_w()], **kwargs)
    for k, v in kwargs.items():
        got = opt.param_groups[0][k]
        if k == "betas":
            assert tuple(got) == tuple(v)
        else:
            assert got == v


# -- schedulers -------------------------------------------------------------------------
SCHEDULER_INVALID: list[tuple[Callable[[Optimizer], Any], str]] = [
    (lambda o: StepLR(o, step_size=0), "step_size"),
    (lambda o: StepLR(o, step_size=-3), "step_size"),
    (lambda o: StepLR(o, step_size=2, gamma=-0.5), "gamma"),
    (lambda o: CosineAnnealingLR(o, T_max=0), "T_max"),
    (lambda o: CosineAnnealingLR(o, T_max=-10), "T_max"),
    (lambda o: LinearLR(o, start_factor=0.0), "start_factor"),
    (lambda o: LinearLR(o, start_factor=-0.5), "start_factor"),
    (lambda o: LinearLR(o, start_factor=1.5), "start_factor"),
    (lambda o: LinearLR(o, end_factor=-0.1), "end_factor"),
    (lambda o: LinearLR(o, end_factor=1.1), "end_factor"),
    (lambda o: LinearLR(o, total_iters=0), "total_iters"),
    (lambda o: LinearLR(o, total_iters=-2), "total_iters"),
]


@pytest.mark.parametrize(
    ("make", "param"),
    SCHEDULER_INVALID,
    ids=[f"{p}-{i}" for i, (_, p) in enumerate(SCHEDULER_INVALID)],
)
def test_invalid_scheduler_arguments_raise_naming_the_parameter(
    make: Callable[[Optimizer], Any], param: str
) -> None:
    opt = SGD([_w()], lr=0.1)
    with pytest.raises(ValueError, match=re.escape(param)):
        make(opt)
    assert opt.param_groups[0]["lr"] == 0.1  # a rejected scheduler leaves the rate alone


def test_scheduler_boundary_values_are_accepted() -> None:
    opt = SGD([_w()], lr=0.1)
    LinearLR(opt, start_factor=1.0, end_factor=0.0, total_iters=1)
    StepLR(opt, step_size=1, gamma=0.0)
    CosineAnnealingLR(opt, T_max=1, eta_min=0.0)


def test_a_scheduler_needs_an_optimizer() -> None:
    with pytest.raises(TypeError, match="Optimizer"):
        StepLR("not an optimizer", step_size=1)  # type: ignore[arg-type]
