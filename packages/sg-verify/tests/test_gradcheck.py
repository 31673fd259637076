"""``gradcheck`` on user functions: passes on right gradients, explains wrong ones."""

from __future__ import annotations

import numpy as np
import pytest

import sg_tensor as st
from sg_scalar import Value
from sg_tensor import OPS
from sg_verify import GradcheckError, gradcheck


def test_passes_on_a_composite_function() -> None:
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    assert gradcheck(lambda x, w: (x @ w).tanh().logsumexp(axis=1), x, w)


def test_large_inputs_use_random_projections() -> None:
    rng = np.random.default_rng(2)
    assert gradcheck(lambda x: (x * x).sin().sum(axis=0), rng.standard_normal((20, 10)))


def test_scalar_engine_values() -> None:
    assert gradcheck(lambda a, b: (a * b).tanh() + a.exp(), Value(0.3), Value(-1.2))


def test_a_wrong_rule_fails_with_input_index_and_size(monkeypatch: pytest.MonkeyPatch) -> None:
    op = OPS["sin"]
    monkeypatch.setattr(op, "vjp", lambda g, out, x: (g * np.cos(x) * 1.001,))
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x: x.sin(), np.linspace(-1, 1, 5))
    message = str(info.value)
    assert "input 0" in message
    assert "element" in message
    assert "difference" in message


def test_returns_false_without_raising(monkeypatch: pytest.MonkeyPatch) -> None:
    op = OPS["exp"]
    monkeypatch.setattr(op, "vjp", lambda g, out, x: (-g * out,))
    assert gradcheck(lambda x: x.exp(), np.zeros(3), raise_exception=False) is False


def test_accepts_tensors_as_inputs() -> None:
    assert gradcheck(lambda x: st.softmax(x, axis=0), st.tensor([0.1, 0.5, -0.3]))
