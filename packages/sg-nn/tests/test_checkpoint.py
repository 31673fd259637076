"""State dicts and checkpoint files: round trips, strictness, safety and atomicity."""

from __future__ import annotations

import errno
import json
import math
import os
import re
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from nn_checkpoint_files import assert_same

import sg_nn as nn
from sg_nn import Module, Parameter
from sg_tensor import Tensor


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def model(seed: int) -> nn.MLP:
    return nn.MLP([2, 16, 16, 1], rng=rng(seed))


def snapshot(m: Module) -> dict[str, np.ndarray]:
    return {name: p.data.copy() for name, p in m.named_parameters()}


def assert_unchanged(m: Module, before: dict[str, np.ndarray]) -> None:
    after = snapshot(m)
    assert after.keys() == before.keys()
    for key in before:
        assert after[key].tobytes() == before[key].tobytes(), key


class WithBuffer(Module):
    def __init__(self, seed: int) -> None:
        super().__init__()
        self.layer = nn.Linear(2, 3, rng=rng(seed))
        self.layer.register_buffer("running", np.full(3, float(seed)))
        self.register_buffer("steps", np.array(seed, dtype=np.int64))


# ---------------------------------------------------------------------------------------
# state_dict / load_state_dict
# ---------------------------------------------------------------------------------------
def test_state_dict_holds_copies_by_dotted_name() -> None:
    m = model(0)
    state = m.state_dict()
    assert list(state) == [name for name, _ in m.named_parameters()]
    for name, p in m.named_parameters():
        assert isinstance(state[name], np.ndarray)
        np.testing.assert_array_equal(state[name], p.data)
        assert not np.shares_memory(state[name], p.data)
    state["0.weight"][...] = 99.0
    assert not np.any(m[0].weight.data == 99.0)


def test_load_state_dict_round_trip_copies_into_existing_arrays() -> None:
    source, target = model(0), model(1)
    arrays = {name: p.data for name, p in target.named_parameters()}
    state = source.state_dict()
    target.load_state_dict(state)
    for name, p in target.named_parameters():
        assert p.data is arrays[name]  # loaded in place: optimizers keep their references
        assert p.data.tobytes() == state[name].tobytes()
        assert not np.shares_memory(p.data, state[name])
    x = rng(5).standard_normal((4, 2))
    np.testing.assert_array_equal(target(x).data, source(x).data)


def test_load_state_dict_converts_dtype_to_the_parameters() -> None:
    m = nn.Linear(2, 2, rng=rng(), dtype=np.float32)
    m.load_state_dict({"weight": np.eye(2), "bias": [1, 2]})
    assert m.weight.dtype == np.float32
    np.testing.assert_array_equal(m.weight.data, np.eye(2))
    assert m.bias is not None
    np.testing.assert_array_equal(m.bias.data, [1.0, 2.0])


def test_buffers_round_trip_through_load_state_dict() -> None:
    source, target = WithBuffer(3), WithBuffer(4)
    state = source.state_dict()
    assert set(state) == {"layer.weight", "layer.bias", "layer.running", "steps"}
    target.load_state_dict(state)
    np.testing.assert_array_equal(target.layer.running, np.full(3, 3.0))
    assert int(target.steps) == 3
    assert target.state_dict().keys() == state.keys()
    for key in state:
        np.testing.assert_array_equal(target.state_dict()[key], state[key])


def test_strict_load_reports_missing_keys_and_changes_nothing() -> None:
    m = model(1)
    before = snapshot(m)
    state = model(0).state_dict()
    del state["2.bias"], state["4.weight"]
    with pytest.raises(
        ValueError, match=re.escape("load_state_dict for MLP: missing keys: 2.bias, 4.weight")
    ):
        m.load_state_dict(state)
    assert_unchanged(m, before)


def test_strict_load_reports_unexpected_keys_and_changes_nothing() -> None:
    m = model(1)
    before = snapshot(m)
    state = model(0).state_dict()
    state["extra.weight"] = np.zeros(3)
    state["head"] = np.zeros(1)
    with pytest.raises(ValueError, match=re.escape("unexpected keys: extra.weight, head")):
        m.load_state_dict(state)
    assert_unchanged(m, before)


def test_strict_load_reports_missing_and_unexpected_together() -> None:
    state = model(0).state_dict()
    state["layers.0.weight"] = state.pop("0.weight")
    with pytest.raises(
        ValueError, match=r"missing keys: 0\.weight; unexpected keys: layers\.0\.weight"
    ):
        model(1).load_state_dict(state)


def test_shape_mismatch_names_key_and_both_shapes_and_changes_nothing() -> None:
    m = model(1)
    before = snapshot(m)
    state = model(0).state_dict()
    state["2.weight"] = np.zeros((16, 15))  # every other key is fine and comes earlier/later
    message = "shape mismatch for 2.weight: checkpoint has (16, 15), the model has (16, 16)"
    with pytest.raises(ValueError, match=re.escape(message)):
        m.load_state_dict(state)
    assert_unchanged(m, before)


@pytest.mark.parametrize("strict", [True, False])
def test_shape_mismatch_is_always_an_error(strict: bool) -> None:
    m = model(1)
    before = snapshot(m)
    state = {"0.weight": np.zeros((2, 16)), "0.bias": np.zeros(16)}
    with pytest.raises(
        ValueError, match=re.escape("0.weight: checkpoint has (2, 16), the model has (16, 2)")
    ):
        m.load_state_dict(state, strict=strict)
    assert_unchanged(m, before)


def test_non_strict_load_tolerates_missing_and_unexpected_keys() -> None:
    m = model(1)
    before = snapshot(m)
    source = model(0).state_dict()
    state = {"0.weight": source["0.weight"], "0.bias": source["0.bias"], "junk": np.zeros(7)}
    m.load_state_dict(state, strict=False)
    after = snapshot(m)
    np.testing.assert_array_equal(after["0.weight"], source["0.weight"])
    np.testing.assert_array_equal(after["0.bias"], source["0.bias"])
    for key in ("2.weight", "2.bias", "4.weight", "4.bias"):
        np.testing.assert_array_equal(after[key], before[key])
    assert not hasattr(m, "junk")


def state_snapshot(m: Module) -> dict[str, tuple[Any, bytes, str]]:
    """Every parameter and buffer: the object itself, its bytes and its dtype."""
    own: dict[str, Any] = dict(m.named_parameters())
    own.update(m.named_buffers())
    return {
        k: (v, np.asarray(getattr(v, "data", v)).tobytes(), str(v.dtype)) for k, v in own.items()
    }


def assert_state_unchanged(m: Module, before: dict[str, tuple[Any, bytes, str]]) -> None:
    after = state_snapshot(m)
    assert after.keys() == before.keys()
    for key, (obj, data, dtype) in before.items():
        assert after[key][0] is obj, key  # not even replaced by an equal array
        assert after[key][1:] == (data, dtype), key


def test_the_issue_example_fails_without_touching_the_bias() -> None:
    m = nn.Linear(2, 2, rng=rng())
    before = state_snapshot(m)
    state = {"bias": np.array([9.0, 9.0]), "weight": np.array([["a", "b"], ["c", "d"]])}
    with pytest.raises(nn.CheckpointError, match=r"bad dtype for weight: checkpoint has <U1"):
        m.load_state_dict(state)
    assert_state_unchanged(m, before)


BAD_VALUES: dict[str, Any] = {
    "numeric strings": lambda shape: np.full(shape, "1.5"),
    "bytes": lambda shape: np.full(shape, b"1"),
    "object None": lambda shape: np.full(shape, None, dtype=object),
    "object floats": lambda shape: np.ones(shape).astype(object),
    "datetime64": lambda shape: np.zeros(shape, dtype="datetime64[s]"),
    "timedelta64": lambda shape: np.zeros(shape, dtype="timedelta64[s]"),
    "structured": lambda shape: np.zeros(shape, dtype=[("x", "f8")]),
    "void": lambda shape: np.zeros(shape, dtype="V8"),
    "complex for a real parameter": lambda shape: np.ones(shape, dtype=complex),
    "wrong shape": lambda shape: np.ones((*shape, 2)),
    "ragged list": lambda shape: [[1.0], [1.0, 2.0]],
    "None": lambda shape: None,
}


@pytest.mark.parametrize("bad", sorted(BAD_VALUES))
@pytest.mark.parametrize("position", range(4))
def test_a_bad_value_at_any_position_changes_nothing(bad: str, position: int) -> None:
    """The failure is injected at each key in turn; the keys before it are valid new
    values, so a load that applied them one by one would be caught."""
    m = WithBuffer(1)
    before = state_snapshot(m)
    state = WithBuffer(2).state_dict()
    key = list(state)[position]
    state[key] = BAD_VALUES[bad](np.shape(state[key]))
    with pytest.raises(nn.CheckpointError, match=re.escape(key)):
        m.load_state_dict(state)
    assert_state_unchanged(m, before)


def test_every_problem_is_reported_at_once() -> None:
    state = WithBuffer(2).state_dict()
    state["layer.weight"] = np.zeros((3, 3))
    state["steps"] = np.array("7")
    del state["layer.bias"]
    with pytest.raises(nn.CheckpointError) as caught:
        WithBuffer(1).load_state_dict(state)
    message = str(caught.value)
    assert message.startswith("load_state_dict for WithBuffer: missing keys: layer.bias; ")
    assert "shape mismatch for layer.weight: checkpoint has (3, 3)" in message
    assert "bad dtype for steps: checkpoint has <U1, not a number" in message


def test_numbers_of_any_real_kind_are_accepted() -> None:
    m = WithBuffer(1)
    m.load_state_dict(
        {
            "layer.weight": np.ones((3, 2), dtype=np.int8),
            "layer.bias": np.array([True, False, True]),
            "layer.running": [1, 2, 3],
            "steps": np.uint16(9),
        }
    )
    np.testing.assert_array_equal(m.layer.weight.data, np.ones((3, 2)))
    assert m.layer.weight.dtype == np.float64
    assert m.layer.bias is not None
    np.testing.assert_array_equal(m.layer.bias.data, [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(m.layer.running, [1, 2, 3])
    assert int(m.steps) == 9


def test_a_complex_buffer_takes_complex_values() -> None:
    m = Module()
    m.register_buffer("phase", np.zeros(2, dtype=complex))
    m.load_state_dict({"phase": np.array([1j, 2 + 1j])})
    np.testing.assert_array_equal(m.phase, [1j, 2 + 1j])


def test_a_tensor_value_is_read_through_its_data() -> None:
    m = nn.Linear(2, 1, rng=rng())
    m.load_state_dict({"weight": Tensor(np.full((1, 2), 3.0)), "bias": Parameter([0.5])})
    np.testing.assert_array_equal(m.weight.data, [[3.0, 3.0]])
    assert m.bias is not None
    np.testing.assert_array_equal(m.bias.data, [0.5])


def test_non_strict_load_also_refuses_non_numbers() -> None:
    m = model(1)
    before = state_snapshot(m)
    state = {"0.bias": np.zeros(16), "0.weight": np.full((16, 2), "x"), "junk": np.array("y")}
    with pytest.raises(nn.CheckpointError, match=r"bad dtype for 0\.weight") as caught:
        m.load_state_dict(state, strict=False)
    assert "junk" not in str(caught.value)  # ignored keys are not checked
    assert_state_unchanged(m, before)


@pytest.mark.parametrize("state", [None, [("weight", np.zeros((1, 2)))], "weight", 3])
def test_load_state_dict_wants_a_mapping(state: Any) -> None:
    m = nn.Linear(2, 1, rng=rng())
    before = state_snapshot(m)
    message = (
        "load_state_dict for Linear: expected a mapping of names to arrays "
        f"(a state_dict()), got {type(state).__name__}"
    )
    with pytest.raises(TypeError, match=re.escape(message)):
        m.load_state_dict(state)
    assert_state_unchanged(m, before)


# ---------------------------------------------------------------------------------------
# save / load
# ---------------------------------------------------------------------------------------
NESTED: dict[str, Any] = {
    "model": {
        "0.weight": np.arange(6.0).reshape(2, 3),
        "0.bias": np.array([np.inf, -np.inf, np.nan], dtype=np.float32),
    },
    "optimizer": {"state": {"0": {"step": 3, "exp_avg": np.zeros((2, 3))}}, "lr": 1e-3},
    "arrays": [
        np.array(7, dtype=np.int64),  # 0-d
        np.array([True, False]),
        np.array([1 + 2j]),
        np.zeros((0, 3), dtype=np.uint8),
        np.arange(4, dtype=np.int16),
    ],
    "numbers": [0, -1, 2**70, 1.5, -0.0, math.inf, -math.inf, math.nan, 1e-310],
    "flags": [True, False],
    "text": ["", "héllo wörld ✓", 'with "quotes" and \n newline'],
    "nothing": None,
    "empty": {"dict": {}, "list": []},
    "lists": [[1, [2.5, "x", None]], [{"k": np.ones(2)}]],
    "tricky keys": {"__array__": 1, "__dict__": "x", "a.b": 2, "": 3},
}


@pytest.mark.parametrize("as_path", [True, False])
def test_nested_structures_round_trip_exactly(tmp_path: Path, as_path: bool) -> None:
    path = tmp_path / "ckpt.npz"
    nn.save(NESTED, path if as_path else str(path))
    assert_same(nn.load(path if as_path else str(path)), NESTED)
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]


@pytest.mark.parametrize("obj", [None, 3, 2.5, "text", True, [], {}, np.arange(3)])
def test_top_level_leaves_round_trip(tmp_path: Path, obj: Any) -> None:
    nn.save(obj, tmp_path / "x.ckpt")
    assert_same(nn.load(tmp_path / "x.ckpt"), obj)


def test_tuples_come_back_as_lists_and_tensors_as_arrays(tmp_path: Path) -> None:
    p = Parameter(np.arange(3.0))
    nn.save({"pair": (1, 2), "param": p, "tensor": Tensor(np.eye(2))}, tmp_path / "c.npz")
    loaded = nn.load(tmp_path / "c.npz")
    assert loaded["pair"] == [1, 2]
    assert isinstance(loaded["param"], np.ndarray)
    np.testing.assert_array_equal(loaded["param"], np.arange(3.0))
    np.testing.assert_array_equal(loaded["tensor"], np.eye(2))


def test_model_checkpoint_round_trip(tmp_path: Path) -> None:
    source, target = WithBuffer(1), WithBuffer(2)
    nn.save({"model": source.state_dict(), "epoch": 4}, tmp_path / "model.npz")
    ckpt = nn.load(tmp_path / "model.npz")
    assert ckpt["epoch"] == 4
    target.load_state_dict(ckpt["model"])
    for key, value in source.state_dict().items():
        assert target.state_dict()[key].tobytes() == value.tobytes()


def test_save_overwrites_an_existing_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "c.npz"
    nn.save({"v": 1}, path)
    nn.save({"v": 2}, path)
    assert nn.load(path) == {"v": 2}
    assert os.listdir(tmp_path) == ["c.npz"]


def test_save_to_a_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    nn.save([1, 2], "relative.npz")
    assert nn.load("relative.npz") == [1, 2]
    assert os.listdir(tmp_path) == ["relative.npz"]


# ---------------------------------------------------------------------------------------
# unsupported values
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("obj", "location", "what"),
    [
        ({"model": {"x": object()}}, "checkpoint.model.x", "a object"),
        ({"layers": [1, {3}]}, "checkpoint.layers[1]", "a set"),
        ({"a": [[np.ones(1), b"bytes"]]}, "checkpoint.a[0][1]", "a bytes"),
        ({"s": np.array(["a", "b"])}, "checkpoint.s", "dtype <U1"),
        ({"o": np.array([1, None], dtype=object)}, "checkpoint.o", "dtype object"),
        ({"f": print}, "checkpoint.f", "builtin_function_or_method"),
    ],
)
def test_unsupported_values_raise_type_error_naming_the_location(
    tmp_path: Path, obj: Any, location: str, what: str
) -> None:
    path = tmp_path / "c.npz"
    nn.save({"old": np.arange(3)}, path)
    with pytest.raises(TypeError, match=re.escape(what) + r".*at " + re.escape(location)):
        nn.save(obj, path)
    np.testing.assert_array_equal(nn.load(path)["old"], np.arange(3))
    assert os.listdir(tmp_path) == ["c.npz"]


def test_dictionary_keys_must_be_strings(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"keys must be strings, got 1 at checkpoint\.model"):
        nn.save({"model": {1: np.zeros(1)}}, tmp_path / "c.npz")
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------------------------
# atomicity
# ---------------------------------------------------------------------------------------
def _failing_savez(exc: BaseException) -> Any:
    def savez(file: Any, *args: Any, **kwargs: Any) -> None:
        file.write(b"PK\x03\x04 half a zip archive")
        file.flush()
        raise exc

    return savez


@pytest.mark.parametrize("exc", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failed_save_keeps_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exc: BaseException
) -> None:
    path = tmp_path / "model.npz"
    good = {"model": model(0).state_dict(), "step": 10}
    nn.save(good, path)
    monkeypatch.setattr(np, "savez", _failing_savez(exc))
    with pytest.raises(type(exc)):
        nn.save({"model": model(1).state_dict(), "step": 11}, path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["model.npz"]  # no temporary file left behind
    assert_same(nn.load(path), good)


def test_a_failed_first_save_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(np, "savez", _failing_savez(OSError("boom")))
    with pytest.raises(OSError, match="boom"):
        nn.save({"x": np.ones(2)}, tmp_path / "new.npz")
    assert os.listdir(tmp_path) == []


def test_a_failed_replace_keeps_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "model.npz"
    nn.save({"step": 1}, path)
    before = path.read_bytes()

    def failing_replace(src: Any, dst: Any) -> None:
        raise PermissionError(13, "Permission denied", str(dst))

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(PermissionError):
        nn.save({"step": 2}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]


# ---------------------------------------------------------------------------------------
# the file's mode comes from the umask, which save never touches
# ---------------------------------------------------------------------------------------
@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    """Set the process umask for one test (the test's own doing, not save's), and put
    the original back afterwards even if the test left ``os.umask`` patched."""
    set_umask = os.umask
    original = set_umask(0o022)
    yield lambda mask: set_umask(mask) and None
    set_umask(original)


@pytest.mark.skipif(os.name != "posix", reason="file modes and the umask are POSIX")
@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002, 0o000], ids=oct)
def test_save_gives_the_mode_of_a_new_file_without_calling_umask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, umask: Callable[[int], None], mask: int
) -> None:
    umask(mask)
    reference = tmp_path / "reference"
    reference.write_bytes(b"")  # what open(path, "w") gives under this umask

    def forbidden(mask: int) -> int:
        raise AssertionError("save called os.umask, which changes it for every thread")

    monkeypatch.setattr(os, "umask", forbidden)
    for name in ("new.npz", "new.npz"):  # created, then replaced
        nn.save({"w": np.ones(2)}, tmp_path / name)
        mode = stat.S_IMODE((tmp_path / name).stat().st_mode)
        assert mode == stat.S_IMODE(reference.stat().st_mode) == 0o666 & ~mask
    monkeypatch.undo()


# ---------------------------------------------------------------------------------------
# symbolic links are followed: the target is replaced atomically, the link stays
# ---------------------------------------------------------------------------------------
needs_symlinks = pytest.mark.skipif(os.name != "posix", reason="symbolic links")


@needs_symlinks
def test_save_through_a_symlink_replaces_the_target_and_keeps_the_link(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    target = tmp_path / "runs" / "step-100.npz"
    nn.save({"step": 100}, target)
    link = tmp_path / "latest.npz"
    link.symlink_to(Path("runs") / "step-100.npz")  # relative, as people write them
    nn.save({"step": 101}, link)
    assert link.is_symlink()
    assert os.readlink(link) == os.path.join("runs", "step-100.npz")
    assert nn.load(target) == {"step": 101}
    assert nn.load(link) == {"step": 101}
    assert sorted(os.listdir(tmp_path)) == ["latest.npz", "runs"]
    assert os.listdir(tmp_path / "runs") == ["step-100.npz"]  # the temporary file went there


@needs_symlinks
def test_save_through_a_chain_of_symlinks_and_a_dangling_one(tmp_path: Path) -> None:
    target = tmp_path / "real.npz"
    (tmp_path / "middle.npz").symlink_to(target)  # dangling until the save
    (tmp_path / "outer.npz").symlink_to(tmp_path / "middle.npz")
    nn.save([1, 2], tmp_path / "outer.npz")
    assert not target.is_symlink()
    assert nn.load(target) == [1, 2]
    assert (tmp_path / "outer.npz").is_symlink()
    assert (tmp_path / "middle.npz").is_symlink()


@needs_symlinks
def test_a_loop_of_symlinks_is_an_error_and_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "a.npz").symlink_to(tmp_path / "b.npz")
    (tmp_path / "b.npz").symlink_to(tmp_path / "a.npz")
    with pytest.raises(OSError, match="loop of symbolic links") as caught:
        nn.save({"x": 1}, tmp_path / "a.npz")
    assert caught.value.errno == errno.ELOOP
    assert (tmp_path / "a.npz").is_symlink()
    assert (tmp_path / "b.npz").is_symlink()
    assert sorted(os.listdir(tmp_path)) == ["a.npz", "b.npz"]


@needs_symlinks
def test_a_failed_save_through_a_symlink_keeps_target_and_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target, link = tmp_path / "real.npz", tmp_path / "link.npz"
    nn.save({"v": 1}, target)
    link.symlink_to(target)
    monkeypatch.setattr(np, "savez", _failing_savez(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        nn.save({"v": 2}, link)
    monkeypatch.undo()
    assert link.is_symlink()
    assert nn.load(link) == {"v": 1}
    assert sorted(os.listdir(tmp_path)) == ["link.npz", "real.npz"]


# ---------------------------------------------------------------------------------------
# nesting: what save writes, load reads
# ---------------------------------------------------------------------------------------
def nested(depth: int, leaf: Any) -> Any:
    obj = leaf
    for i in range(depth):
        obj = [obj] if i % 2 else {"k": obj}
    return obj


def test_the_deepest_allowed_nesting_round_trips(tmp_path: Path) -> None:
    obj = nested(nn.checkpoint.MAX_DEPTH, np.arange(2))
    nn.save(obj, tmp_path / "deep.npz")
    assert_same(nn.load(tmp_path / "deep.npz"), obj)


@pytest.mark.parametrize("depth", [nn.checkpoint.MAX_DEPTH + 1, 5000])
def test_save_refuses_deeper_nesting_before_writing(tmp_path: Path, depth: int) -> None:
    with pytest.raises(ValueError, match=r"nests more than 100 dicts and lists at checkpoint"):
        nn.save(nested(depth, 1), tmp_path / "deep.npz")
    assert os.listdir(tmp_path) == []


def test_save_refuses_a_list_that_contains_itself(tmp_path: Path) -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    with pytest.raises(ValueError, match="contains itself"):
        nn.save({"loop": loop}, tmp_path / "loop.npz")
    assert os.listdir(tmp_path) == []


def test_fortran_ordered_and_big_endian_arrays_round_trip(tmp_path: Path) -> None:
    obj = {
        "fortran": np.asfortranarray(np.arange(12.0).reshape(3, 4)),
        "fortran3d": np.asfortranarray(np.arange(24, dtype=np.int32).reshape(2, 3, 4)),
        "big": np.arange(5, dtype=">i4"),
        "bigc": np.array([1 + 2j, np.nan], dtype=">c16"),
    }
    nn.save(obj, tmp_path / "c.npz")
    loaded = nn.load(tmp_path / "c.npz")
    assert_same(loaded, obj)
    assert loaded["fortran"].flags.f_contiguous
    assert loaded["fortran"].flags.writeable


# ---------------------------------------------------------------------------------------
# loading is safe
# ---------------------------------------------------------------------------------------
class _Exploit:
    """Unpickling this object creates a directory: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.mkdir, (str(self.marker),))


def _header(structure: Any) -> np.ndarray:
    return np.array(json.dumps({"format": "sg-checkpoint-1", "structure": structure}))


def test_object_arrays_are_not_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.npz"
    evil = np.empty(1, dtype=object)
    evil[0] = _Exploit(marker)
    np.savez(path, __sg_structure__=_header({"__array__": "a0"}), a0=evil, allow_pickle=True)
    with pytest.raises(
        nn.CheckpointError, match=r"evil\.npz: key 'a0': dtype \|O is not supported"
    ):
        nn.load(path)
    assert not marker.exists()


def test_a_pickled_structure_member_is_not_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.npz"
    evil = np.empty((), dtype=object)
    evil[()] = _Exploit(marker)
    np.savez(path, __sg_structure__=evil, allow_pickle=True)
    with pytest.raises(nn.CheckpointError, match=r"key '__sg_structure__': dtype \|O"):
        nn.load(path)
    assert not marker.exists()


def test_a_plain_npz_is_not_an_sg_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "plain.npz"
    np.savez(path, weight=np.ones(3))
    with pytest.raises(ValueError, match=r"plain\.npz is not an sg checkpoint"):
        nn.load(path)


def test_an_unknown_format_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "future.npz"
    header = np.array(json.dumps({"format": "sg-checkpoint-99", "structure": None}))
    np.savez(path, __sg_structure__=header)
    with pytest.raises(ValueError, match="unknown format 'sg-checkpoint-99'"):
        nn.load(path)


def test_a_npy_file_is_not_an_sg_checkpoint(tmp_path: Path) -> None:
    """``np.load`` returns an array (not an archive) for a ``.npy`` file; ``load`` should
    say that the file is not a checkpoint instead of failing inside a ``with``."""
    path = tmp_path / "weights.npy"
    np.save(path, np.arange(3.0))
    with pytest.raises(ValueError, match="not an sg checkpoint"):
        nn.load(path)


def test_a_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        nn.load(tmp_path / "absent.npz")


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_save_over_a_file_keeps_its_mode(tmp_path: Path) -> None:
    """A private checkpoint stays private when saved again (the new file replaces it)."""
    path = tmp_path / "private.sgz"
    nn.save({"a": np.ones(2)}, path)
    os.chmod(path, 0o600)
    nn.save({"a": np.zeros(2)}, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    np.testing.assert_array_equal(nn.load(path)["a"], np.zeros(2))


@pytest.mark.parametrize("name", ["kept.sgz/", "newdir/", "kept.sgz/."])
def test_save_refuses_a_path_ending_with_a_separator(tmp_path: Path, name: str) -> None:
    nn.save({"a": np.ones(2)}, tmp_path / "kept.sgz")
    with pytest.raises(IsADirectoryError, match="names a directory"):
        nn.save({"a": np.zeros(2)}, f"{tmp_path}/{name}")
    assert sorted(os.listdir(tmp_path)) == ["kept.sgz"]
    np.testing.assert_array_equal(nn.load(tmp_path / "kept.sgz")["a"], np.ones(2))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_load_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    """A pipe would block and a device (/dev/zero) never ends: refused before reading."""
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    with pytest.raises(nn.CheckpointError, match="is not a regular file"):
        nn.load(pipe)
    with pytest.raises(OSError, match="not a regular file"):
        nn.save({"a": 1}, pipe)  # would replace the pipe by a file
    with pytest.raises(IsADirectoryError):
        nn.load(tmp_path)
