"""Optimizer checkpoints: a restored optimizer continues bit-identically; bad loads fail."""

from __future__ import annotations

import copy
import pickle
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from optim_helpers import (
    assert_identical,
    make_params,
    regression_init,
    regression_loss,
    train,
)

import sg_tensor as st
from sg_optim import SGD, Adam, AdamW, Optimizer, RMSprop
from sg_tensor import Tensor

Factory = Callable[[list[Any]], Optimizer]

FACTORIES: dict[str, Factory] = {
    "SGD-momentum-nesterov": lambda ps: SGD(
        ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01
    ),
    "SGD-momentum-dampening": lambda ps: SGD(ps, lr=0.05, momentum=0.8, dampening=0.3),
    "Adam-amsgrad": lambda ps: Adam(ps, lr=0.05, amsgrad=True, weight_decay=0.01),
    "AdamW": lambda ps: AdamW(ps, lr=0.05, betas=(0.8, 0.99), weight_decay=0.1),
    "RMSprop-centered-momentum": lambda ps: RMSprop(
        ps, lr=0.01, alpha=0.9, momentum=0.9, centered=True, weight_decay=0.01
    ),
}
NAMES = list(FACTORIES)


def _groups(params: list[Tensor]) -> list[dict[str, Any]]:
    """Two groups with different rates, so group hyperparameters are checkpointed too."""
    return [{"params": [params[0]]}, {"params": params[1:], "lr": 0.02}]


def _resume_matches_uninterrupted(
    factory: Factory,
    init: list[np.ndarray],
    loss_fn: Callable[..., Tensor],
    k: int = 4,
    n: int = 5,
) -> None:
    params = make_params(init)
    opt = factory(_groups(params))
    train(opt, params, k, loss_fn)
    checkpoint = copy.deepcopy(opt.state_dict())
    saved = [p.data.copy() for p in params]
    train(opt, params, n, loss_fn)
    uninterrupted = [p.data.copy() for p in params]

    restored = make_params(saved)
    opt2 = factory(_groups(restored))
    opt2.load_state_dict(checkpoint)
    train(opt2, restored, n, loss_fn)
    for i, (got, want) in enumerate(zip(restored, uninterrupted)):
        assert np.array_equal(got.data, want), f"parameter {i}: {got.data} != {want}"
        assert got.dtype == want.dtype


@pytest.mark.parametrize("name", NAMES)
def test_resume_is_bit_identical(name: str) -> None:
    _resume_matches_uninterrupted(FACTORIES[name], regression_init(), regression_loss)


@pytest.mark.parametrize("name", NAMES)
def test_resume_through_pickle_is_bit_identical(name: str) -> None:
    params = make_params(regression_init())
    opt = FACTORIES[name](_groups(params))
    train(opt, params, 3, regression_loss)
    blob = pickle.dumps(opt.state_dict())
    saved = [p.data.copy() for p in params]
    train(opt, params, 4, regression_loss)

    restored = make_params(saved)
    opt2 = FACTORIES[name](_groups(restored))
    opt2.load_state_dict(pickle.loads(blob))
    train(opt2, restored, 4, regression_loss)
    for got, want in zip(restored, params):
        assert np.array_equal(got.data, want.data)


def _scalar_bias_loss(w: Tensor, b: Tensor, c: Tensor) -> Tensor:
    return regression_loss(w, b + c)


@pytest.mark.parametrize("name", NAMES)
def test_resume_is_bit_identical_with_a_0d_parameter(name: str) -> None:
    """A scalar (0-d) parameter, e.g. a shared bias, must resume like any other."""
    init = [*regression_init(), np.array(0.3)]
    _resume_matches_uninterrupted(FACTORIES[name], init, _scalar_bias_loss)


@pytest.mark.parametrize("name", NAMES)
def test_loaded_0d_state_stays_an_array_updated_in_place(name: str) -> None:
    params = make_params([np.array(1.5)])
    opt = FACTORIES[name](params)
    train(opt, params, 2, lambda p: p * p)
    opt2 = FACTORIES[name](params)
    opt2.load_state_dict(opt.state_dict())
    for key, value in opt.state[params[0]].items():
        loaded = opt2.state[params[0]][key]
        assert type(loaded) is type(value), (key, type(loaded), type(value))


@pytest.mark.parametrize("name", NAMES)
def test_load_restores_group_hyperparameters(name: str) -> None:
    params = make_params(regression_init())
    opt = FACTORIES[name](_groups(params))
    opt.param_groups[1]["lr"] = 0.007
    other = make_params(regression_init())
    opt2 = FACTORIES[name]([{"params": [other[0]], "lr": 0.9}, {"params": other[1:]}])
    opt2.load_state_dict(copy.deepcopy(opt.state_dict()))
    for g1, g2 in zip(opt.param_groups, opt2.param_groups):
        assert set(g1) == set(g2)
        for key in g1:
            if key != "params":
                assert g2[key] == g1[key], key
                assert type(g2[key]) is type(g1[key]), key
    assert opt2.param_groups[1]["params"][0] is other[1]  # still this optimizer's tensors


@pytest.mark.parametrize("name", NAMES)
def test_load_replaces_the_existing_state(name: str) -> None:
    """Loading a fresh optimizer's checkpoint into a trained one resets its state."""
    fresh_sd = copy.deepcopy(FACTORIES[name](_groups(make_params(regression_init()))).state_dict())
    params = make_params(regression_init())
    opt = FACTORIES[name](_groups(params))
    train(opt, params, 3, regression_loss)
    opt.load_state_dict(fresh_sd)
    assert all(not s for s in opt.state.values())
    # from here it behaves like a new optimizer started at the current point
    twin = make_params([p.data for p in params])
    opt_twin = FACTORIES[name](_groups(twin))
    train(opt, params, 3, regression_loss)
    train(opt_twin, twin, 3, regression_loss)
    for p, q in zip(params, twin):
        assert np.array_equal(p.data, q.data)


def test_state_dict_layout() -> None:
    a, b, c = make_params([np.ones(2), np.ones((2, 2)), np.ones(3)])
    opt = Adam([{"params": [a, b]}, {"params": [c], "lr": 0.5}], lr=0.1)
    for p in (a, c):  # b has no gradient: no state
        p.grad = np.ones_like(p.data)
    opt.step()
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert [g["lr"] for g in sd["param_groups"]] == [0.1, 0.5]
    assert set(sd["state"]) == {"0", "2"}
    assert sd["state"]["0"]["step"] == 1
    np.testing.assert_array_equal(sd["state"]["2"]["exp_avg"], opt.state[c]["exp_avg"])


def test_state_dict_does_not_alias_the_optimizer() -> None:
    params = make_params(regression_init())
    opt = Adam(params, lr=0.05, amsgrad=True)
    twin_params = make_params(regression_init())
    twin = Adam(twin_params, lr=0.05, amsgrad=True)
    train(opt, params, 3, regression_loss)
    train(twin, twin_params, 3, regression_loss)

    sd = opt.state_dict()
    for entry in sd["state"].values():
        for key, value in entry.items():
            if isinstance(value, np.ndarray):
                value[...] = np.nan
            else:
                entry[key] = 10**6
    for group in sd["param_groups"]:
        group["lr"] = 123.0
        group["betas"] = (0.0, 0.0)
        group["params"].clear()
    sd["param_groups"].clear()
    sd["state"].clear()

    assert opt.param_groups[0]["lr"] == 0.05
    assert len(opt.param_groups[0]["params"]) == 2
    assert opt.state[params[0]]["step"] == 3
    train(opt, params, 3, regression_loss)
    train(twin, twin_params, 3, regression_loss)
    for p, q in zip(params, twin_params):
        assert np.array_equal(p.data, q.data)


def test_load_state_dict_copies_the_checkpoint() -> None:
    params = make_params(regression_init())
    opt = RMSprop(params, lr=0.01, momentum=0.9, centered=True)
    train(opt, params, 3, regression_loss)
    checkpoint = opt.state_dict()
    pristine = copy.deepcopy(checkpoint)

    a, b = make_params([p.data for p in params]), make_params([p.data for p in params])
    opt_a, opt_b = (RMSprop(x, lr=0.01, momentum=0.9, centered=True) for x in (a, b))
    opt_a.load_state_dict(checkpoint)
    opt_b.load_state_dict(pristine)
    for entry in checkpoint["state"].values():
        for value in entry.values():
            if isinstance(value, np.ndarray):
                value[...] = np.nan
    train(opt_a, a, 3, regression_loss)
    train(opt_b, b, 3, regression_loss)
    for p, q in zip(a, b):
        assert np.all(np.isfinite(p.data))
        assert np.array_equal(p.data, q.data)


def test_loading_into_float32_parameters_casts_the_state() -> None:
    params = make_params(regression_init())
    opt = Adam(params, lr=0.05)
    train(opt, params, 2, regression_loss)
    params32 = make_params(regression_init(), dtype=np.float32)
    opt32 = Adam(params32, lr=0.05)
    opt32.load_state_dict(opt.state_dict())
    for p in params32:
        for key in ("exp_avg", "exp_avg_sq"):
            assert opt32.state[p][key].dtype == np.float32


# -- errors -----------------------------------------------------------------------------
def _trained_adam(groups: Any) -> Adam:
    opt = Adam(groups, lr=0.1)
    for group in opt.param_groups:
        for p in group["params"]:
            p.grad = np.ones_like(p.data)
    opt.step()
    return opt


def test_load_rejects_a_different_number_of_groups() -> None:
    a, b = make_params([np.ones(2), np.ones(3)])
    sd = _trained_adam([{"params": [a]}, {"params": [b]}]).state_dict()
    c, d = make_params([np.ones(2), np.ones(3)])
    opt = Adam([c, d], lr=0.1)
    with pytest.raises(ValueError, match="group"):
        opt.load_state_dict(sd)
    assert opt.state == {}


def test_load_rejects_a_different_number_of_parameters() -> None:
    a, b = make_params([np.ones(2), np.ones(3)])
    sd = _trained_adam([a, b]).state_dict()
    (c,) = make_params([np.ones(2)])
    opt = Adam([c], lr=0.1)
    with pytest.raises(ValueError, match="parameters"):
        opt.load_state_dict(sd)
    assert opt.state == {}


def test_load_rejects_state_of_the_wrong_shape() -> None:
    a, b = make_params([np.ones(2), np.ones(3)])
    sd = _trained_adam([a, b]).state_dict()
    c, d = make_params([np.ones(2), np.ones(4)])  # same count, different shape
    opt = Adam([c, d], lr=0.1)
    with pytest.raises(ValueError, match="shape"):
        opt.load_state_dict(sd)
    assert opt.state == {}
    assert opt.param_groups[0]["lr"] == 0.1


def test_a_fresh_optimizer_round_trips_an_empty_state() -> None:
    (w,) = make_params([np.ones(2)])
    opt = SGD([w], lr=0.1, momentum=0.9)
    sd = opt.state_dict()
    assert sd["state"] == {}
    opt2 = SGD([st.tensor(np.ones(2), requires_grad=True)], lr=0.5, momentum=0.1)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == 0.1
    assert opt2.param_groups[0]["momentum"] == 0.9


# -- step counts and 0-d parameters round-trip exactly ----------------------------------
COUNTED = [n for n in NAMES if not n.startswith("SGD")]  # the optimizers that count steps
COUNTS: dict[str, Callable[[int], Any]] = {
    "int": int,
    "numpy-int64": np.int64,
    "0d-int64-array": lambda n: np.array(n, dtype=np.int64),
    "0d-int32-array": lambda n: np.array(n, dtype=np.int32),
}


def _scalar_and_vector(dtype: Any = np.float64) -> list[Tensor]:
    return make_params([np.array(1.5), np.array([0.5, -1.0])], dtype=dtype)


def _scalar_and_vector_loss(s: Tensor, v: Tensor) -> Tensor:
    return s * s * s + (v * v).sum()


@pytest.mark.parametrize("count", list(COUNTS))
@pytest.mark.parametrize("name", COUNTED)
def test_a_step_count_keeps_its_type_through_load(name: str, count: str) -> None:
    """A 0-d step of a 0-d parameter used to come back as ``array(1.)`` (and of a 1-d one
    as an ``int``): counts are not moment buffers and keep their type and dtype."""
    params = _scalar_and_vector()
    opt = FACTORIES[name](params)
    train(opt, params, 2, _scalar_and_vector_loss)
    checkpoint = opt.state_dict()
    for entry in checkpoint["state"].values():
        entry["step"] = COUNTS[count](entry["step"])
    opt2 = FACTORIES[name](_scalar_and_vector())
    opt2.load_state_dict(checkpoint)
    assert_identical(opt2.state_dict(), checkpoint)


@pytest.mark.parametrize("count", list(COUNTS))
@pytest.mark.parametrize("name", COUNTED)
def test_resuming_from_a_numpy_step_count_is_bit_identical(name: str, count: str) -> None:
    params = _scalar_and_vector()
    opt = FACTORIES[name](params)
    train(opt, params, 2, _scalar_and_vector_loss)
    checkpoint = copy.deepcopy(opt.state_dict())
    for entry in checkpoint["state"].values():
        entry["step"] = COUNTS[count](entry["step"])
    restored = make_params([p.data for p in params])
    opt2 = FACTORIES[name](restored)
    opt2.load_state_dict(checkpoint)
    train(opt, params, 3, _scalar_and_vector_loss)
    train(opt2, restored, 3, _scalar_and_vector_loss)
    for p, q in zip(restored, params):
        assert np.array_equal(p.data, q.data)
    assert all(int(opt2.state[p]["step"]) == 5 for p in restored)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", NAMES)
def test_state_of_0d_parameters_round_trips_exactly(name: str, dtype: Any) -> None:
    params = _scalar_and_vector(dtype)
    opt = FACTORIES[name](params)
    train(opt, params, 3, _scalar_and_vector_loss)
    checkpoint = opt.state_dict()
    assert checkpoint["state"]["0"]  # the 0-d parameter has state
    opt2 = FACTORIES[name](_scalar_and_vector(dtype))
    opt2.load_state_dict(pickle.loads(pickle.dumps(checkpoint)))
    assert_identical(opt2.state_dict(), checkpoint)
    for value in opt2.state[opt2.param_groups[0]["params"][0]].values():
        if isinstance(value, np.ndarray):
            assert value.shape == ()
            assert value.dtype == dtype


# -- a load checks the whole checkpoint first, and a bad one changes nothing -------------
Corruption = Callable[[dict[str, Any]], Any]


def _last_entry(sd: dict[str, Any]) -> dict[str, Any]:
    """The state of the checkpoint's last parameter: loaded after every other one."""
    entry: dict[str, Any] = sd["state"][max(sd["state"], key=int)]
    return entry


def _set_buffer(sd: dict[str, Any], make: Callable[[np.ndarray], Any]) -> dict[str, Any]:
    entry = _last_entry(sd)
    key = next(k for k in entry if k != "step")
    entry[key] = make(entry[key])
    return sd


def _set_step(sd: dict[str, Any], value: Any) -> dict[str, Any]:
    _last_entry(sd)["step"] = value
    return sd


def _set(container: Any, key: Any, value: Any, sd: dict[str, Any]) -> dict[str, Any]:
    container[key] = value
    return sd


def _delete(container: Any, key: Any, sd: dict[str, Any]) -> dict[str, Any]:
    del container[key]
    return sd


# name -> (how to spoil a checkpoint, the error, text the message has)
CORRUPTIONS: dict[str, tuple[Corruption, type[Exception], str]] = {
    "None": (lambda sd: None, TypeError, "NoneType"),
    "a-list": (lambda sd: [sd["state"], sd["param_groups"]], TypeError, "list"),
    "no-state": (lambda sd: _delete(sd, "state", sd), ValueError, "'state'"),
    "no-param_groups": (lambda sd: _delete(sd, "param_groups", sd), ValueError, "param_groups"),
    "groups-a-dict": (lambda sd: _set(sd, "param_groups", {}, sd), TypeError, "param_groups"),
    "state-a-list": (lambda sd: _set(sd, "state", [], sd), TypeError, "state"),
    "group-without-params": (
        lambda sd: _delete(sd["param_groups"][1], "params", sd),
        TypeError,
        "'params'",
    ),
    "one-group-less": (lambda sd: _delete(sd["param_groups"], 1, sd), ValueError, "groups"),
    "one-parameter-less": (
        lambda sd: _delete(sd["param_groups"][1]["params"], 0, sd),
        ValueError,
        "param group 1",
    ),
    "index-a-str": (
        lambda sd: _set(sd["param_groups"][1]["params"], 1, "2", sd),
        TypeError,
        "param group 1",
    ),
    "index-twice": (
        lambda sd: _set(sd["param_groups"][1]["params"], 1, 1, sd),
        ValueError,
        "twice",
    ),
    "no-lr": (lambda sd: _delete(sd["param_groups"][1], "lr", sd), ValueError, "'lr'"),
    "negative-lr": (
        lambda sd: _set(sd["param_groups"][1], "lr", -0.5, sd),
        ValueError,
        "param group 1, lr): Invalid learning rate: -0.5",
    ),
    "lr-a-str": (lambda sd: _set(sd["param_groups"][1], "lr", "x", sd), TypeError, "lr"),
    "state-of-no-parameter": (lambda sd: _set(sd["state"], "7", {}, sd), ValueError, "'7'"),
    "state-key-not-an-index": (lambda sd: _set(sd["state"], "w", {}, sd), ValueError, "'w'"),
    "state-entry-None": (
        lambda sd: _set(sd["state"], max(sd["state"], key=int), None, sd),
        TypeError,
        "param group 1, parameter 1",
    ),
    "unknown-state-key": (
        lambda sd: _set(_last_entry(sd), "velocity", np.zeros(2), sd),
        ValueError,
        "velocity",
    ),
    "buffer-wrong-shape": (
        lambda sd: _set_buffer(sd, lambda b: np.zeros((*b.shape, 2))),
        ValueError,
        "but the parameter has shape",
    ),
    "buffer-a-list": (lambda sd: _set_buffer(sd, lambda b: [b.tolist()]), TypeError, "list"),
    "buffer-complex": (
        lambda sd: _set_buffer(sd, lambda b: b.astype(complex)),
        TypeError,
        "complex128",
    ),
    "buffer-integer": (lambda sd: _set_buffer(sd, lambda b: b.astype(int)), TypeError, "int64"),
    "buffer-object": (
        lambda sd: _set_buffer(sd, lambda b: b.astype(object)),
        TypeError,
        "object",
    ),
    "buffer-a-Tensor": (lambda sd: _set_buffer(sd, st.tensor), TypeError, "Tensor"),
}
# (an SGD entry without its buffer is empty: a parameter not stepped yet, which is valid)
STEP_CORRUPTIONS: dict[str, tuple[Corruption, type[Exception], str]] = {
    "missing-state-key": (
        lambda sd: _delete(_last_entry(sd), next(k for k in _last_entry(sd) if k != "step"), sd),
        ValueError,
        "missing",
    ),
    "step-a-float": (lambda sd: _set_step(sd, 2.0), TypeError, "'step'"),
    "step-a-0d-float-array": (lambda sd: _set_step(sd, np.array(2.0)), TypeError, "float64"),
    "step-a-bool": (lambda sd: _set_step(sd, True), TypeError, "bool"),
    "step-negative": (lambda sd: _set_step(sd, -1), ValueError, "-1"),
    "step-None": (lambda sd: _set_step(sd, None), TypeError, "NoneType"),
}
CASES = [(n, c) for n in NAMES for c in CORRUPTIONS] + [
    (n, c) for n in COUNTED for c in STEP_CORRUPTIONS
]


def _three_params() -> list[Tensor]:
    """Three parameters (the last one 0-d) in the two groups of ``_groups``."""
    return make_params([*regression_init(), np.array(0.3)])


@pytest.mark.parametrize(("name", "corruption"), CASES, ids=[f"{n}-{c}" for n, c in CASES])
def test_a_bad_checkpoint_raises_and_changes_nothing(name: str, corruption: str) -> None:
    spoil, error, text = {**CORRUPTIONS, **STEP_CORRUPTIONS}[corruption]
    params = _three_params()
    opt = FACTORIES[name](_groups(params))
    train(opt, params, 3, _scalar_bias_loss)
    opt.param_groups[1]["lr"] = 0.003  # differs from the checkpoint's
    before = copy.deepcopy(opt.state_dict())
    # a checkpoint that would change every value if it were loaded
    donor_params = make_params([p.data * 2 for p in params])
    donor = FACTORIES[name](_groups(donor_params))
    train(donor, donor_params, 2, _scalar_bias_loss)
    checkpoint = spoil(copy.deepcopy(donor.state_dict()))

    with pytest.raises(error, match=re.escape(text)) as caught:
        opt.load_state_dict(checkpoint)
    assert f"{type(opt).__name__}.load_state_dict" in str(caught.value)
    assert_identical(opt.state_dict(), before)
    # and the optimizer trains on exactly as before
    twin_params = make_params([p.data for p in params])
    twin = FACTORIES[name](_groups(twin_params))
    twin.load_state_dict(before)
    train(opt, params, 2, _scalar_bias_loss)
    train(twin, twin_params, 2, _scalar_bias_loss)
    for p, q in zip(params, twin_params):
        assert np.array_equal(p.data, q.data)


def test_the_state_message_names_the_group_the_parameter_and_both_shapes() -> None:
    a, b = make_params([np.ones(2), np.ones(3)])
    sd = _trained_adam([{"params": [a]}, {"params": [b]}]).state_dict()
    sd["state"]["1"]["exp_avg"] = np.zeros((3, 1))
    c, d = make_params([np.ones(2), np.ones(3)])
    opt = Adam([{"params": [c]}, {"params": [d]}], lr=0.1)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Adam.load_state_dict (param group 1, parameter 0, state 'exp_avg'): the state has "
            "shape (3, 1) but the parameter has shape (3,)"
        ),
    ):
        opt.load_state_dict(sd)


def test_a_state_entry_need_not_hold_what_the_group_does_not_use() -> None:
    """Adam without amsgrad stores no ``max_exp_avg_sq``; with it, the key is required."""
    (a,) = make_params([np.ones(2)])
    sd = _trained_adam([a]).state_dict()
    assert "max_exp_avg_sq" not in sd["state"]["0"]
    (b,) = make_params([np.ones(2)])
    Adam([b], lr=0.1, amsgrad=True).load_state_dict(copy.deepcopy(sd))  # amsgrad=False loaded
    sd["param_groups"][0]["amsgrad"] = True
    with pytest.raises(ValueError, match="max_exp_avg_sq"):
        Adam([b], lr=0.1).load_state_dict(sd)


def test_integer_state_keys_and_json_betas_are_accepted() -> None:
    """PyTorch numbers its state with ints, and JSON turns tuples into lists."""
    (a,) = make_params([np.ones(2)])
    opt = _trained_adam([a])
    sd = copy.deepcopy(opt.state_dict())
    sd["state"] = {int(k): v for k, v in sd["state"].items()}
    sd["param_groups"][0]["betas"] = [0.8, 0.9]
    (b,) = make_params([np.ones(2)])
    opt2 = Adam([b], lr=0.1)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["betas"] == (0.8, 0.9)
    assert_identical(opt2.state[b], opt.state[a])
