"""Invalid hyperparameters raise ValueError naming the offending parameter."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import sg_tensor as st
from sg_optim import (
    SGD,
    Adagrad,
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


# -- PyTorch's wording, wrong types, and where the bad value is --------------------------
# (optimizer, keyword arguments, the text of torch.optim's message for them)
TORCH_MESSAGES: list[tuple[str, dict[str, Any], str]] = [
    *[(name, {"lr": -5}, "Invalid learning rate: -5") for name in OPTIMIZERS],
    *[(name, {"weight_decay": -1}, "Invalid weight_decay value: -1") for name in OPTIMIZERS],
    ("SGD", {"momentum": -1}, "Invalid momentum value: -1"),
    ("SGD", {"nesterov": True}, "Nesterov momentum requires a momentum and zero dampening"),
    ("Adam", {"eps": -1}, "Invalid epsilon value: -1"),
    ("AdamW", {"betas": (1.0, 0.9)}, "Invalid beta parameter at index 0: 1.0"),
    ("Adam", {"betas": (0.9, -0.5)}, "Invalid beta parameter at index 1: -0.5"),
    ("RMSprop", {"alpha": -1}, "Invalid alpha value: -1"),
    ("RMSprop", {"eps": -1e-8}, "Invalid epsilon value: -1e-08"),
    ("RMSprop", {"momentum": -1}, "Invalid momentum value: -1"),
]


@pytest.mark.parametrize("case", TORCH_MESSAGES, ids=_case_id)
def test_messages_use_torch_optims_wording(case: tuple[str, dict[str, Any], str]) -> None:
    name, kwargs, text = case
    with pytest.raises(ValueError, match=re.escape(text)):
        OPTIMIZERS[name]([_w()], **kwargs)


WRONG_TYPES: list[tuple[str, dict[str, Any], str]] = [
    *[(name, {"lr": "x"}, "lr") for name in OPTIMIZERS],
    *[(name, {"lr": None}, "lr") for name in OPTIMIZERS],
    *[(name, {"lr": True}, "lr") for name in OPTIMIZERS],
    *[(name, {"weight_decay": [0.1]}, "weight_decay") for name in OPTIMIZERS],
    ("SGD", {"momentum": "0.9"}, "momentum"),
    ("SGD", {"dampening": None}, "dampening"),
    ("SGD", {"momentum": 0.9, "nesterov": "yes"}, "nesterov"),
    ("RMSprop", {"alpha": None}, "alpha"),
    ("RMSprop", {"eps": "1e-8"}, "eps"),
    ("RMSprop", {"centered": "no"}, "centered"),
]
for _name in ("Adam", "AdamW"):
    WRONG_TYPES += [
        (_name, {"betas": 0.9}, "betas"),
        (_name, {"betas": "ab"}, "betas"),
        (_name, {"betas": (0.9, "0.999")}, "betas[1]"),
        (_name, {"betas": (None, 0.999)}, "betas[0]"),
        (_name, {"eps": None}, "eps"),
        (_name, {"amsgrad": "False"}, "amsgrad"),
    ]


@pytest.mark.parametrize("case", WRONG_TYPES, ids=_case_id)
def test_hyperparameters_of_the_wrong_type_raise_type_error(
    case: tuple[str, dict[str, Any], str],
) -> None:
    name, kwargs, param = case
    with pytest.raises(TypeError, match=rf"^{name} \(param group 0, {re.escape(param)}\): "):
        OPTIMIZERS[name]([_w()], **kwargs)
    opt = OPTIMIZERS[name]([_w()])
    with pytest.raises(TypeError, match=rf"^{name} \(param group 1, {re.escape(param)}\): "):
        opt.add_param_group({"params": [_w()], **kwargs})
    assert len(opt.param_groups) == 1


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_the_message_names_the_group(name: str) -> None:
    groups = [{"params": [_w()]}, {"params": [_w()]}, {"params": [_w()], "lr": -3}]
    with pytest.raises(ValueError, match=re.escape(f"{name} (param group 2, lr)")):
        OPTIMIZERS[name](groups)


def test_numpy_numbers_and_bools_are_accepted() -> None:
    Adam([_w()], lr=np.float32(0.1), betas=(np.float64(0.9), 0.99), amsgrad=np.bool_(True))
    SGD([_w()], lr=np.int64(1), momentum=np.float64(0.5), nesterov=np.bool_(True))


BAD_PARAMS: list[tuple[Any, str]] = [
    (None, "NoneType"),
    (3.0, "float"),
    (st.tensor([1.0, 2.0], requires_grad=True), "Tensor"),  # iterable, over its rows
    ({st.tensor([1.0], requires_grad=True)}, "set"),
]


@pytest.mark.parametrize(("params", "text"), BAD_PARAMS, ids=[t for _, t in BAD_PARAMS])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_params_must_be_an_ordered_collection(name: str, params: Any, text: str) -> None:
    with pytest.raises(TypeError, match=rf"^{name}: params .*{text}"):
        OPTIMIZERS[name](params)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_add_param_group_rejects_bad_structures_and_keeps_the_groups(name: str) -> None:
    opt = OPTIMIZERS[name]([_w()])
    with pytest.raises(TypeError, match=rf"{name} \(param group 1, params\).*list"):
        opt.add_param_group([_w()])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=rf"{name} \(param group 1, params\).*'params'"):
        opt.add_param_group({"lr": 0.1})
    with pytest.raises(TypeError, match=r"set"):
        opt.add_param_group({"params": {_w()}})
    with pytest.raises(TypeError, match=r"float"):
        opt.add_param_group({"params": 1.0})
    with pytest.raises(TypeError, match=rf"{name} \(param group 1, parameter 1\).*str"):
        opt.add_param_group({"params": [_w(), "w"]})
    with pytest.raises(TypeError, match=rf"{name} \(param group 1, params\).*dict"):
        OPTIMIZERS[name]([{"params": [_w()]}, _w()])  # a Tensor among the groups
    assert len(opt.param_groups) == 1


# -- scheduler arguments: types too -----------------------------------------------------
SCHEDULER_WRONG: list[tuple[Callable[[Optimizer], Any], type[Exception], str]] = [
    (lambda o: StepLR(o, step_size="2"), TypeError, "step_size"),  # type: ignore[arg-type]
    (lambda o: StepLR(o, step_size=2.5), TypeError, "step_size"),  # type: ignore[arg-type]
    (lambda o: StepLR(o, step_size=True), TypeError, "step_size"),
    (lambda o: StepLR(o, step_size=2, gamma="0.1"), TypeError, "gamma"),  # type: ignore[arg-type]
    (lambda o: StepLR(o, step_size=2, gamma=math.nan), ValueError, "gamma"),
    (lambda o: CosineAnnealingLR(o, T_max=None), TypeError, "T_max"),  # type: ignore[arg-type]
    (lambda o: CosineAnnealingLR(o, T_max=10.0), TypeError, "T_max"),  # type: ignore[arg-type]
    (lambda o: CosineAnnealingLR(o, T_max=10, eta_min=-0.01), ValueError, "eta_min"),
    (lambda o: CosineAnnealingLR(o, T_max=10, eta_min=math.nan), ValueError, "eta_min"),
    (lambda o: CosineAnnealingLR(o, T_max=10, eta_min="0"), TypeError, "eta_min"),  # type: ignore[arg-type]
    (lambda o: LinearLR(o, start_factor="0.5"), TypeError, "start_factor"),  # type: ignore[arg-type]
    (lambda o: LinearLR(o, start_factor=math.nan), ValueError, "start_factor"),
    (lambda o: LinearLR(o, end_factor=None), TypeError, "end_factor"),  # type: ignore[arg-type]
    (lambda o: LinearLR(o, end_factor=math.nan), ValueError, "end_factor"),
    (lambda o: LinearLR(o, total_iters=2.0), TypeError, "total_iters"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(
    ("make", "error", "param"),
    SCHEDULER_WRONG,
    ids=[f"{p}-{i}" for i, (_, _, p) in enumerate(SCHEDULER_WRONG)],
)
def test_scheduler_arguments_of_the_wrong_type_or_nan_raise(
    make: Callable[[Optimizer], Any], error: type[Exception], param: str
) -> None:
    opt = SGD([_w()], lr=0.1)
    with pytest.raises(error, match=rf"^\w+ \({param}\): "):
        make(opt)
    assert opt.param_groups[0]["lr"] == 0.1
    assert "initial_lr" not in opt.param_groups[0]


def test_scheduler_messages_use_torchs_wording() -> None:
    opt = SGD([_w()], lr=0.1)
    with pytest.raises(ValueError, match="Starting multiplicative factor expected to be greater"):
        LinearLR(opt, start_factor=2.0)
    with pytest.raises(ValueError, match="Ending multiplicative factor expected to be between"):
        LinearLR(opt, end_factor=2.0)


def _spoil(state: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    return {**state, key: value}


SCHEDULER_BAD_STATES: list[tuple[Callable[[dict[str, Any]], Any], type[Exception], str]] = [
    (lambda s: None, TypeError, "NoneType"),
    (lambda s: list(s.items()), TypeError, "list"),
    (lambda s: {k: v for k, v in s.items() if k != "gamma"}, ValueError, "keys"),
    (lambda s: _spoil(s, "optimizer", None), ValueError, "keys"),
    (lambda s: _spoil(s, "step_size", 0), ValueError, "step_size"),
    (lambda s: _spoil(s, "gamma", "0.5"), TypeError, "gamma"),
    (lambda s: _spoil(s, "last_epoch", -1), ValueError, "last_epoch"),
    (lambda s: _spoil(s, "last_epoch", 2.0), TypeError, "last_epoch"),
    (lambda s: _spoil(s, "base_lrs", [0.1]), ValueError, "base_lrs"),
    (lambda s: _spoil(s, "base_lrs", [0.1, -0.2]), ValueError, "base_lrs[1]"),
]


@pytest.mark.parametrize(
    ("spoil", "error", "text"),
    SCHEDULER_BAD_STATES,
    ids=[f"{t}-{i}" for i, (_, _, t) in enumerate(SCHEDULER_BAD_STATES)],
)
def test_a_bad_scheduler_state_raises_and_changes_nothing(
    spoil: Callable[[dict[str, Any]], Any], error: type[Exception], text: str
) -> None:
    opt = SGD([{"params": [_w()]}, {"params": [_w()], "lr": 0.2}], lr=0.1)
    scheduler = StepLR(opt, step_size=2, gamma=0.5)
    for _ in range(3):
        scheduler.step()
    before = scheduler.state_dict()
    rates = scheduler.get_last_lr()
    donor = StepLR(SGD([{"params": [_w()]}, {"params": [_w()]}], lr=0.3), step_size=5)
    with pytest.raises(error, match=re.escape(text)) as caught:
        scheduler.load_state_dict(spoil(donor.state_dict()))
    assert str(caught.value).startswith("StepLR.load_state_dict (")
    assert scheduler.state_dict() == before
    assert scheduler.get_last_lr() == rates
    scheduler.load_state_dict(donor.state_dict())  # a good one still loads
    assert scheduler.state_dict() == donor.state_dict()
    assert scheduler.get_last_lr() == [0.3, 0.3]


# -- hyperparameters edited by hand after construction: checked again at the next step --
EDITS: list[tuple[str, Any]] = [
    ("lr", "x"), ("lr", np.ones(3)), ("lr", None), ("lr", "missing"), ("weight_decay", "0"),
]  # fmt: skip


@pytest.mark.parametrize("make", [
    lambda ps: SGD(ps, lr=0.1, momentum=0.9), lambda ps: Adam(ps, lr=0.1),
    lambda ps: AdamW(ps, lr=0.1), lambda ps: RMSprop(ps, lr=0.1), lambda ps: Adagrad(ps, lr=0.1),
])  # fmt: skip
@pytest.mark.parametrize(("key", "value"), EDITS)
def test_a_hyperparameter_edited_by_hand_fails_the_step_before_anything_changes(
    make: Callable[[Any], Any], key: str, value: Any
) -> None:
    first, second = (st.tensor([1.0, 2.0], requires_grad=True) for _ in range(2))
    opt = make([{"params": [first]}, {"params": [second]}])
    for p in (first, second):
        p.grad = np.array([0.5, -1.0])
    opt.step()
    before = [p.data.copy() for p in (first, second)]
    state = {k: np.copy(v) for k, v in opt.state[first].items()}
    if isinstance(value, str) and value == "missing":
        del opt.param_groups[1][key]
    else:
        opt.param_groups[1][key] = value
    with pytest.raises((TypeError, ValueError, KeyError), match="param group 1"):
        opt.step()
    for p, b in zip((first, second), before):
        np.testing.assert_array_equal(p.data, b)
    for k, v in opt.state[first].items():
        np.testing.assert_array_equal(v, state[k])


def test_a_scheduler_changing_lr_is_used() -> None:
    p = st.tensor([1.0], requires_grad=True)
    opt = SGD([p], lr=0.5)
    p.grad = np.array([1.0])
    opt.step()
    opt.param_groups[0]["lr"] = np.float32(0.25)  # as a scheduler writes it
    opt.step()
    np.testing.assert_array_equal(p.data, [1.0 - 0.5 - 0.25])


def test_values_in_range_are_not_checked_again_at_a_step_as_pytorch() -> None:
    """A cyclic scheduler may take momentum to 0 with Nesterov on, and a rate edited to
    a negative number ascends: PyTorch checks ranges only in the constructor."""
    p = st.tensor([1.0], requires_grad=True)
    opt = SGD([p], lr=0.5, momentum=0.9, nesterov=True)
    p.grad = np.array([1.0])
    opt.param_groups[0]["momentum"] = 0.0
    opt.step()
    opt.param_groups[0]["lr"] = -1.0
    opt.step()
    np.testing.assert_array_equal(p.data, [1.0 - 0.5 + 1.0])


def test_a_read_only_or_integer_parameter_fails_the_step_before_anything_changes() -> None:
    good = st.tensor([1.0, 2.0], requires_grad=True)
    frozen = st.tensor([1.0, 2.0], requires_grad=True)
    frozen.data.setflags(write=False)
    opt = SGD([good, frozen], lr=0.1)
    for p in (good, frozen):
        p.grad = np.ones(2)
    with pytest.raises(TypeError, match=r"parameter 1\): the parameter is read-only"):
        opt.step()
    np.testing.assert_array_equal(good.data, [1.0, 2.0])
