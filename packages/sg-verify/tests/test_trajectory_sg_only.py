"""The parts of sg_verify.trajectory that need no PyTorch: problem, sg runs, the report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sg_verify
from sg_verify import trajectory as tj


def test_import_does_not_import_torch() -> None:
    src = str(Path(sg_verify.__file__).resolve().parent.parent)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import sg_verify.trajectory; "
        "assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code, src], check=True)


def test_missing_torch_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    with pytest.raises(ImportError, match=r"pip install 'sg-verify\[torch\]'"):
        tj.run_trajectory("adam", steps=2)


@pytest.mark.parametrize("loss", tj.LOSSES)
def test_problem_shapes_and_batches(loss: str) -> None:
    p = tj.make_problem(loss, steps=50, seed=1, n_samples=100, batch_size=16)
    assert p.X.shape == (100, 2)
    assert p.X.dtype == np.float64
    assert p.batches.shape == (50, 16)
    assert p.batches.min() >= 0
    assert p.batches.max() < 100
    assert p.sizes[0] == 2
    assert p.sizes[-1] == (3 if loss == "cross_entropy" else 1)
    if loss == "cross_entropy":
        assert p.y.dtype.kind == "i"
        assert set(np.unique(p.y)) == {0, 1, 2}
    else:
        assert p.y.dtype == np.float64
    # each epoch (6 full batches of 16) visits distinct rows
    epoch = p.batches[:6].ravel()
    assert len(np.unique(epoch)) == len(epoch)


def test_problem_is_seeded() -> None:
    a, b, c = (tj.make_problem(seed=s) for s in (0, 0, 1))
    assert np.array_equal(a.X, b.X)
    assert np.array_equal(a.batches, b.batches)
    assert not np.array_equal(a.batches, c.batches)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"loss": "hinge"}, "loss must be one of"),
        ({"steps": 0}, "steps must be positive"),
        ({"batch_size": 1000}, "batch_size must be in"),
    ],
)
def test_problem_rejects_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        tj.make_problem(**kwargs)  # type: ignore[arg-type]


def test_sg_run_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown optimizer"):
        tj.run_sg_trajectory("lbfgs", steps=2)
    with pytest.raises(ValueError, match="activation must be one of"):
        tj.run_sg_trajectory("adam", steps=2, activation="swish")


@pytest.mark.parametrize("optimizer", sorted(tj.OPTIMIZERS))
def test_sg_trajectory_is_deterministic_and_learns(optimizer: str) -> None:
    losses, state = tj.run_sg_trajectory(optimizer, steps=200)
    again, state_again = tj.run_sg_trajectory(optimizer, steps=200)
    assert np.array_equal(losses, again)  # bit for bit
    assert all(np.array_equal(state[k], state_again[k]) for k in state)
    assert np.all(np.isfinite(losses))
    assert np.mean(losses[-20:]) < 0.5 * np.mean(losses[:20])


def test_hyperparameters_override_the_defaults() -> None:
    base, _ = tj.run_sg_trajectory("sgd", steps=5)
    frozen, state = tj.run_sg_trajectory("sgd", steps=5, hyperparameters={"lr": 0.0})
    assert not np.array_equal(base, frozen)
    _, initial = tj.run_sg_trajectory("sgd", steps=1, hyperparameters={"lr": 0.0})
    assert all(np.array_equal(state[k], initial[k]) for k in state)


def _fake_result(loss_diff: list[float]) -> tj.TrajectoryResult:
    n = len(loss_diff)
    sg = np.linspace(1.0, 0.1, n)
    return tj.TrajectoryResult(
        optimizer="adam",
        optimizer_class="Adam",
        hyperparameters={"lr": 1e-2, "betas": (0.9, 0.999)},
        loss="cross_entropy",
        sizes=[2, 4, 3],
        activation="relu",
        steps=n,
        seed=0,
        batch_size=8,
        sg_loss=sg,
        torch_loss=sg + np.asarray(loss_diff),
        loss_diff=np.asarray(loss_diff),
        grad_diff=np.zeros(n),
        param_diff=np.asarray(loss_diff) * 2,
        param_rel_diff=np.asarray(loss_diff),
        param_max_diff={"0.weight": 0.0},
        initial_full_loss=1.1,
        final_full_loss_sg=0.1,
        final_full_loss_torch=0.1,
        torch_version="none",
        seconds_sg=0.0,
        seconds_torch=0.0,
    )


def test_result_summary_and_json() -> None:
    r = _fake_result([0.0, 1e-16, 3e-10, 2e-11])
    assert r.max_loss_diff == 3e-10
    assert r.worst_step == 2
    assert not r.passed
    assert r.first_step_above(1e-12) == 2
    assert r.first_step_above(1e-12, "param") == 2
    assert r.first_step_above(1.0) is None
    d = json.loads(json.dumps(r.to_dict()))
    assert d["hyperparameters"]["betas"] == [0.9, 0.999]
    assert d["per_step"]["loss_diff"] == [0.0, 1e-16, 3e-10, 2e-11]
    assert "per_step" not in r.to_dict(per_step=False)
    assert _fake_result([0.0, 1e-16]).passed
    table = tj.format_table({"adam": r})
    assert "adam" in table
    assert "NO" in table
