"""``sg_verify.check`` on users' rules: its result, its rows, its mutants, its command."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import sg_tensor as st
import sg_verify
from sg_verify.cli import main
from sg_verify.custom.result import FAIL, NOT_APPLICABLE, PASS

RNG = np.random.default_rng(7)
X = RNG.uniform(-2.0, 2.0, (3, 4))
Y = RNG.uniform(0.5, 2.0, (3, 4))


class Softplus(st.Function):
    @staticmethod
    def forward(ctx: Any, x: st.Tensor, beta: float = 1.0) -> st.Tensor:
        ctx.save_for_backward(x)
        ctx.beta = beta
        return (x * beta).exp().log1p() / beta

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> tuple[Any, ...]:
        (x,) = ctx.saved_tensors
        return g * (x * ctx.beta).sigmoid(), None


class ForgotBeta(Softplus):
    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> tuple[Any, ...]:
        (x,) = ctx.saved_tensors
        return g * x.sigmoid(), None


class Divide(st.Function):
    @staticmethod
    def forward(ctx: Any, a: st.Tensor, b: st.Tensor) -> st.Tensor:
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> tuple[Any, ...]:
        a, b = ctx.saved_tensors
        return g / b, -g * a / (b * b)


class RawSquare(st.Function):
    """A first-order-only rule: it computes on raw arrays."""

    @staticmethod
    def forward(ctx: Any, x: st.Tensor) -> st.Tensor:
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> np.ndarray:
        (x,) = ctx.saved_tensors
        return np.asarray(2.0 * x.data * g.data)


def _statuses(result: sg_verify.CheckResult) -> dict[str, str]:
    return {row.check: row.status for row in result.rows}


def test_a_right_rule_passes_every_check_and_catches_every_mutant() -> None:
    result = sg_verify.check(Softplus, X, params={"beta": 2.0})
    assert result.ok
    assert bool(result)
    assert set(_statuses(result).values()) == {PASS}
    assert {"gradient vs finite differences", "properties"} <= set(_statuses(result))
    assert "second order vs finite differences" in _statuses(result)
    assert result.counted == 4
    assert result.caught == 4
    text = str(result)
    assert "caught 4/4 deliberate errors" in text
    assert text.splitlines()[-1].startswith("PASS Softplus: your rule passed")
    assert all(np.isfinite(v) for v in result.worst.values())


def test_a_wrong_rule_fails_the_difference_check_and_names_the_element() -> None:
    result = sg_verify.check(ForgotBeta, X, params={"beta": 2.0})
    assert not result.ok
    (failure,) = result.failures
    assert failure.check == "gradient vs finite differences"
    assert failure.where.startswith("input 0 element")
    assert "not run: the rule itself failed" in str(result)
    with pytest.raises(sg_verify.GradcheckError, match="ForgotBeta: your rule FAILED"):
        sg_verify.check(ForgotBeta, X, params={"beta": 2.0}, raise_on_failure=True)


def test_two_inputs_of_one_shape_get_a_swap_mutant_and_all_nine_are_caught() -> None:
    result = sg_verify.check(Divide, X, Y)
    assert result.ok
    names = [m.mutant for m in result.mutants]
    assert "gradients of inputs 0 and 1 swapped" in names
    assert (result.caught, result.counted) == (9, 9)


def test_inputs_of_different_shapes_get_no_swap() -> None:
    result = sg_verify.check(Divide, X, Y[0])
    assert result.ok
    assert not any("swapped" in m.mutant for m in result.mutants)
    assert result.counted == 8


def test_a_mutant_that_changes_nothing_at_these_inputs_is_not_counted() -> None:
    # d/db (a * 0 * b) is zero: flipping, scaling or zeroing it changes nothing
    result = sg_verify.check(lambda a, b: a.exp() + 0.0 * b, X, Y)
    assert result.ok
    unchanged = [m.mutant for m in result.mutants if m.caught is None]
    assert "gradient of input 1 sign-flipped" in unchanged
    assert result.caught == result.counted


def test_a_first_order_only_rule_is_not_failed_for_its_second_order() -> None:
    result = sg_verify.check(RawSquare, X)
    assert result.ok
    row = next(r for r in result.rows if r.check.startswith("second order"))
    assert row.status == NOT_APPLICABLE
    assert "first order only" in row.detail
    assert result.caught == result.counted == 4


def test_a_rule_that_raises_fails_with_the_error() -> None:
    class Raises(Softplus):
        @staticmethod
        def backward(ctx: Any, g: st.Tensor) -> Any:
            raise ZeroDivisionError("oops")

    result = sg_verify.check(Raises, X)
    assert not result.ok
    assert "raised ZeroDivisionError: oops" in result.failures[0].where


def test_a_wrong_gradient_shape_fails_with_the_function_named() -> None:
    class WrongShape(Softplus):
        @staticmethod
        def backward(ctx: Any, g: st.Tensor) -> Any:
            return np.ones(5), None

    result = sg_verify.check(WrongShape, X)
    assert not result.ok
    assert "WrongShape.backward returned a gradient of shape (5,)" in result.failures[0].where


def test_several_outputs_each_checked() -> None:
    class SinCos(st.Function):
        @staticmethod
        def forward(ctx: Any, x: st.Tensor) -> tuple[st.Tensor, st.Tensor]:
            ctx.save_for_backward(x)
            return x.sin(), x.cos()

        @staticmethod
        def backward(ctx: Any, gs: st.Tensor, gc: st.Tensor) -> st.Tensor:
            (x,) = ctx.saved_tensors
            return gs * x.cos() - gc * x.sin()

    class CosWrong(SinCos):
        @staticmethod
        def backward(ctx: Any, gs: st.Tensor, gc: st.Tensor) -> st.Tensor:
            (x,) = ctx.saved_tensors
            return gs * x.cos() + gc * x.sin()  # the second output's sign

    assert sg_verify.check(SinCos, X).ok
    assert not sg_verify.check(CosWrong, X).ok


def test_float32_right_rule_passes_and_a_float32_only_error_fails() -> None:
    class OnlyInFloat32(Softplus):
        @staticmethod
        def backward(ctx: Any, g: st.Tensor) -> tuple[Any, ...]:
            (x,) = ctx.saved_tensors
            slip = 1.001 if x.dtype == np.float32 else 1.0
            return g * x.sigmoid() * slip, None

    right = sg_verify.check(Softplus, X, dtype=np.float32)
    assert right.ok
    assert _statuses(right)["float32 vs float64"] == PASS
    assert right.caught == right.counted
    wrong = sg_verify.check(OnlyInFloat32, X, dtype=np.float32)
    assert _statuses(wrong)["float32 vs float64"] == FAIL
    assert _statuses(wrong)["gradient vs finite differences"] == PASS
    assert "float32" not in _statuses(sg_verify.check(OnlyInFloat32, X))  # float64 only


def test_kink_probes_accept_a_convention_and_refuse_a_wrong_one() -> None:
    class Relu(st.Function):
        @staticmethod
        def forward(ctx: Any, x: st.Tensor) -> st.Tensor:
            ctx.save_for_backward(x)
            return x.relu()

        @staticmethod
        def backward(ctx: Any, g: st.Tensor) -> st.Tensor:
            (x,) = ctx.saved_tensors
            return g * (x > 0)

    class TwoAtZero(Relu):
        @staticmethod
        def backward(ctx: Any, g: st.Tensor) -> st.Tensor:
            (x,) = ctx.saved_tensors
            return g * ((x > 0) + 2.0 * (x == 0))

    kink = [(np.array([0.0, 0.0, 1.0]),)]
    away = np.array([-1.0, 0.5, 2.0])
    assert _statuses(sg_verify.check(Relu, away, probes=kink))["kink probes"] == PASS
    wrong = sg_verify.check(TwoAtZero, away, probes=kink)
    assert _statuses(wrong)["kink probes"] == FAIL
    assert sg_verify.check(TwoAtZero, away).ok  # away from the kink it is right


def test_bad_arguments_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="at least one input"):
        sg_verify.check(Softplus)
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        sg_verify.check(Softplus, X, dtype=np.int64)
    with pytest.raises(TypeError, match="not callable"):
        sg_verify.check(3, X)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"probes": [np.array([0.0, 1.0])]}, TypeError, r"probe 0 must be a tuple with a value"),
        ({"probes": [(1.0, 2.0)]}, ValueError, r"probe 0 has 2 input\(s\); .* checked with 1"),
        ({"seed": "x"}, TypeError, r"seed must be an int, got 'x'"),
        ({"params": [1, 2]}, TypeError, r"params must be a dict .*, got list"),
    ],
)
def test_a_mistake_in_the_options_is_a_usage_error_not_a_failed_rule(
    options: dict[str, Any], error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        sg_verify.check(lambda x: x * x, np.array([0.5, 1.0]), **options)


def test_nothing_to_check_is_refused_not_passed() -> None:
    # An empty input has no element to check: a pass would be vacuous.
    with pytest.raises(ValueError, match=r"input 0 is empty \(shape \(0, 3\)\)"):
        sg_verify.check(lambda x: x * x, np.zeros((0, 3)))
    # A forward that is not finite at the inputs: no gradient to check there.
    with pytest.raises(ValueError, match=r"forward gives nan .* element \(0,\).*domain"):
        sg_verify.check(lambda x: x.sqrt(), np.array([-1.0, 0.5]))


def output_saving(
    name: str, forward: Callable[[Any], Any], rule: Callable[[Any, Any], Any]
) -> type[st.Function]:
    """A Function that saves its output ``y`` (as PyTorch's exp and sqrt do); its
    backward is ``rule(g, y)``."""

    def save(ctx: Any, x: st.Tensor) -> st.Tensor:
        y = forward(x)
        ctx.save_for_backward(y)
        return y

    def backward(ctx: Any, g: st.Tensor) -> Any:
        (y,) = ctx.saved_tensors
        return rule(g, y)

    methods = {"forward": staticmethod(save), "backward": staticmethod(backward)}
    return type(name, (st.Function,), methods)


# exp's rule, 10% wrong wherever exp(x) <= 100
ExpWrongOnSmall = output_saving(
    "ExpWrongOnSmall", lambda x: x.exp(), lambda g, y: g * st.where(y > 100.0, y, 1.1 * y)
)
SqrtRule = output_saving("SqrtRule", lambda x: x.sqrt(), lambda g, y: g * 0.5 / y)


def test_points_whose_outputs_are_of_one_size_see_an_error_a_large_output_would_hide() -> None:
    # The documented limit (docs/custom-rules.md): the differences of the summed outputs
    # carry the round-off of the largest, so exp(30) ~ 1e13 beside them would hide this
    # error in the small outputs; checked at points of one size, it fails.
    result = sg_verify.check(ExpWrongOnSmall, np.array([0.5, -1.0, 1.5]), mutants=False)
    assert not result.ok
    assert _statuses(result)["gradient vs finite differences"] == FAIL
    # Beside exp(30) it passes, and the result says how little that pass shows.
    blurred = sg_verify.check(ExpWrongOnSmall, np.array([30.0, 0.5, -1.0, 1.5]), mutants=False)
    assert blurred.ok
    assert [row.check for row in blurred.coarse] == ["gradient vs finite differences"]
    assert blurred.coarse[0].resolution > 0.1
    assert "passed, but coarsely: gradient vs finite differences could not see" in str(blurred)
    # where the outputs are of one size, no pass is called coarse
    fine = sg_verify.check(lambda x: (x * x).sin(), np.array([0.5, 1.0]), mutants=False)
    assert fine.ok
    assert not fine.coarse
    assert fine.rows[0].resolution < 1e-8


def test_a_right_rule_near_the_edge_of_its_domain_passes() -> None:
    # The differences' largest step (2**-6) would leave sqrt's domain at 0.01: smaller
    # steps are taken where a larger one gives nan.
    result = sg_verify.check(SqrtRule, np.array([0.01, 0.5, 2.0]))
    assert result.ok, str(result)
    assert result.caught == result.counted


# ---------------------------------------------------------------------------------------
# sg-verify check FILE.py:NAME
# ---------------------------------------------------------------------------------------
RULES = textwrap.dedent(
    """
    import numpy as np
    import sg_tensor as st

    class Cube(st.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x * x * g

    class CubeWrong(Cube):
        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x * g

    def scaled(x, factor=1.0):
        return (x * factor).tanh()

    X = np.linspace(-1.5, 1.5, 5)
    EXAMPLES = {
        "Cube": [(X,), (X + 0.25,)],
        "CubeWrong": (X,),
        "scaled": {"inputs": (X,), "params": {"factor": 2.0}},
    }
    """
)


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    path = tmp_path / "rules.py"
    path.write_text(RULES)
    return path


def test_command_checks_every_example_and_exits_zero_on_a_right_rule(
    rules: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", f"{rules}:Cube"]) == 0
    out = capsys.readouterr().out
    assert "Cube (example 0)" in out
    assert "Cube (example 1)" in out
    assert out.count("own-rule mutants: the same checks caught 4/4") == 2
    assert main(["check", f"{rules}:scaled", "--dtype", "float32"]) == 0
    assert "float32 vs float64" in capsys.readouterr().out


def test_command_exits_one_on_a_wrong_rule(
    rules: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", f"{rules}:CubeWrong", "--no-mutants"]) == 1
    out = capsys.readouterr().out
    assert "FAIL CubeWrong: your rule FAILED (gradient vs finite differences)" in out


def test_command_reads_sample_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "other.py"
    path.write_text(
        "import numpy as np\n"
        "def f(x):\n    return x.exp()\n"
        "def sample_inputs():\n    return {'f': (np.ones(3),)}\n"
    )
    assert main(["check", f"{path}:f"]) == 0
    assert "PASS f: your rule passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("nowhere.py:f", "no such file"),
        ("{rules}:Missing", "defines no 'Missing'"),
        ("{rules}", "expected FILE.py:NAME"),
        ("{rules}:X", "no examples for 'X'"),
    ],
)
def test_command_refuses_what_it_cannot_check(
    rules: Path, capsys: pytest.CaptureFixture[str], target: str, message: str
) -> None:
    assert main(["check", target.format(rules=rules)]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("'notinputs'", "input 0 is not real numbers (str)"),
        ("{'inputs': (X,), 'bogus': 1}", "unknown option(s) ['bogus']; check takes"),
        ("[(X,), (np.zeros(0),)]", "(example 1): check: input 0 is empty"),
    ],
)
def test_command_calls_a_mistake_in_the_examples_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], entry: str, message: str
) -> None:
    path = tmp_path / "examples.py"
    path.write_text(
        "import numpy as np\nX = np.ones(3)\n"
        f"def f(x):\n    return x.exp()\nEXAMPLES = {{'f': {entry}}}\n"
    )
    assert main(["check", f"{path}:f"]) == 2
    assert message in capsys.readouterr().err


def test_command_takes_an_examples_own_options_and_the_command_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # dtype, seed, mutants and name may be an example's own; a flag given on the
    # command line wins over them.
    path = tmp_path / "options.py"
    path.write_text(
        "import numpy as np\n"
        "def f(x):\n    return x.exp()\n"
        "EXAMPLES = {'f': {'inputs': (np.array([0.5, 1.0]),), 'dtype': 'float32', "
        "'seed': 3, 'mutants': False, 'name': 'my exp'}}\n"
    )
    assert main(["check", f"{path}:f"]) == 0
    out = capsys.readouterr().out
    assert "my exp at inputs (2,) (float32)" in out
    assert "own-rule mutants: not run (mutants=False)" in out
    assert main(["check", f"{path}:f", "--dtype", "float64"]) == 0
    assert "my exp at inputs (2,) (float64)" in capsys.readouterr().out


def test_command_reports_a_file_that_fails_to_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.py"
    path.write_text("raise RuntimeError('boom')\n")
    assert main(["check", f"{path}:f"]) == 2
    assert "importing it raised RuntimeError: boom" in capsys.readouterr().err


def test_a_backward_that_detaches_its_input_fails_second_order() -> None:
    class Detached(Softplus):
        @staticmethod
        def backward(ctx: Any, g: st.Tensor) -> tuple[Any, ...]:
            (x,) = ctx.saved_tensors
            return g * x.detach().sigmoid(), None  # right values, no second derivative

    result = sg_verify.check(Detached, X)
    assert _statuses(result)["gradient vs finite differences"] == PASS
    assert _statuses(result)["second order vs finite differences"] == FAIL


def test_a_function_of_no_tensor_or_an_unused_input_is_handled() -> None:
    with pytest.raises(TypeError, match="returned a float as output 0"):
        sg_verify.check(lambda a: 3.0, X)
    result = sg_verify.check(lambda a, b: a.exp(), X, Y)  # b does not matter
    assert result.ok
    assert all(m.caught is None for m in result.mutants if "of input 1 " in m.mutant)
    assert result.caught == result.counted == 5  # input 0's four and the swap


def test_inputs_as_one_tuple_and_the_precision_from_float32_inputs() -> None:
    as_tuple = sg_verify.check(Divide, (X, Y))
    assert as_tuple.inputs == "(3, 4) (3, 4)"
    assert as_tuple.ok
    single = sg_verify.check(Softplus, X.astype(np.float32))
    assert single.dtype == "float32"
    assert "float32 vs float64" in _statuses(single)
    assert sg_verify.check(Softplus, X).dtype == "float64"


# ---------------------------------------------------------------------------------------
# Outputs that cancel, outputs not differentiated, and what is refused up front
# ---------------------------------------------------------------------------------------
def confident_logits(seed: int) -> np.ndarray:
    """Logits where the right class wins by ~10: the loss is a difference of terms ~12."""
    x = np.random.default_rng(seed).normal(size=(2, 4)) * 3.0
    x[0, 0] += 12.0
    x[1, 1] += 11.0
    return x


def cross_entropy(t: st.Tensor) -> st.Tensor:
    return -(st.log_softmax(t, axis=-1) * st.Tensor(np.eye(4)[[0, 1]])).sum() / 2


class ScaledByOnePlus1e7(st.Function):
    """Cross-entropy whose rule is off by a relative 1e-7."""

    @staticmethod
    def forward(ctx: Any, x: st.Tensor) -> st.Tensor:
        ctx.save_for_backward(x)
        return cross_entropy(x)

    @staticmethod
    def backward(ctx: Any, g: st.Tensor) -> st.Tensor:
        (x,) = ctx.saved_tensors
        with st.enable_grad():
            xs = x.detach().requires_grad_()
            (found,) = st.grad(cross_entropy(xs), [xs])
        return g * found.detach() * (1 + 1e-7)


def test_a_right_rule_whose_output_is_a_small_difference_of_large_terms_passes() -> None:
    # The finite differences carry the round-off of the intermediates (~12), not of the
    # output (~1e-5): their error is measured, not assumed to follow the output.
    reviewer = np.array([[12.0, 1.0, -3.0, -9.0], [0.5, 11.0, -1.0, 2.0]])
    result = sg_verify.check(cross_entropy, reviewer)
    assert result.ok, str(result)
    assert result.caught == result.counted == 4  # 1 + 1e-7 included
    assert not sg_verify.check(ScaledByOnePlus1e7, reviewer, mutants=False).ok
    for seed in range(8):
        logits = confident_logits(seed)
        result = sg_verify.check(cross_entropy, logits, seed=seed)
        assert result.ok, str(result)
        missed = [m.mutant for m in result.mutants if m.caught is False]
        # Where a 1e-7 error is below the round-off of the differences, it is reported
        # as missed; every coarser mutant is caught at every batch.
        assert set(missed) <= {"gradient x (1 + 1e-7)"}, str(result)


def test_a_torch_rule_whose_output_cancels_passes() -> None:
    torch = pytest.importorskip("torch")
    target = torch.tensor([0, 1])
    for seed in range(4):
        result = sg_verify.check_torch(
            lambda t: torch.nn.functional.cross_entropy(t, target),
            confident_logits(seed),
            seed=seed,
            mutants=False,
        )
        assert result.ok, str(result)


class WithStatistic(st.Function):
    """sin, and a statistic marked non-differentiable (its rule gets no gradient)."""

    @staticmethod
    def forward(ctx: Any, x: st.Tensor) -> tuple[st.Tensor, st.Tensor]:
        ctx.save_for_backward(x)
        statistic = x * 2.0
        ctx.mark_non_differentiable(statistic)
        return x.sin(), statistic

    @staticmethod
    def backward(ctx: Any, g: st.Tensor, g_statistic: st.Tensor) -> st.Tensor:
        (x,) = ctx.saved_tensors
        return g * x.cos()


def test_outputs_marked_non_differentiable_or_detached_are_not_differentiated() -> None:
    x = np.array([0.3, -1.2, 2.0])
    for fn in (WithStatistic, lambda t: (t.sin(), t.detach() * 2.0)):
        result = sg_verify.check(fn, x)
        assert result.ok, str(result)
        assert result.caught == result.counted == 4


def test_torch_outputs_marked_non_differentiable_or_detached_are_not_differentiated() -> None:
    torch = pytest.importorskip("torch")

    class TorchWithStatistic(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            ctx.save_for_backward(x)
            statistic = x * 2.0
            ctx.mark_non_differentiable(statistic)
            return x.sin(), statistic

        @staticmethod
        def backward(ctx: Any, g: Any, g_statistic: Any) -> Any:
            (x,) = ctx.saved_tensors
            return g * x.cos()

    x = np.array([0.3, -1.2, 2.0])
    for fn in (TorchWithStatistic, lambda t: (t.sin(), t.detach() * 2.0)):
        result = sg_verify.check_torch(fn, x)
        assert result.ok, str(result)
        assert result.caught == result.counted == 4


def test_second_order_against_pytorch_is_held_to_torch_tol() -> None:
    torch = pytest.importorskip("torch")
    x = np.array([-2.0, -0.5, 0.3, 1.7])

    def nearly(t: Any, beta: float = 1.0) -> Any:  # PyTorch's softplus, off by 1e-11
        return torch.nn.functional.softplus(t, beta) * (1 + 1e-11)

    loose = sg_verify.check(
        Softplus, x, params={"beta": 2.0}, torch_fn=nearly, torch_tol=1e-9, mutants=False
    )
    assert _statuses(loose)["second order vs PyTorch"] == PASS, str(loose)
    tight = sg_verify.check(
        Softplus, x, params={"beta": 2.0}, torch_fn=nearly, torch_tol=1e-13, mutants=False
    )
    assert _statuses(tight)["gradient vs PyTorch float64"] == FAIL
    assert _statuses(tight)["second order vs PyTorch"] == FAIL


def test_a_torch_op_without_a_second_derivative_is_first_order_only() -> None:
    torch = pytest.importorskip("torch")
    result = sg_verify.check_torch(
        lambda t: torch.pdist(t.reshape(3, 1)), np.array([0.3, -1.2, 2.0])
    )
    row = {r.check: r for r in result.rows}["second order vs finite differences"]
    assert row.status == NOT_APPLICABLE
    assert "first order only" in row.detail
    assert "_pdist_backward" in row.detail
    assert result.ok, str(result)
    assert result.caught == result.counted == 4


def test_second_order_names_a_rule_that_raised_rather_than_first_order_only() -> None:
    class Raises(st.Function):
        @staticmethod
        def forward(ctx: Any, x: st.Tensor) -> st.Tensor:
            return x.sin()

        @staticmethod
        @st.once_differentiable
        def backward(ctx: Any, g: st.Tensor) -> st.Tensor:
            raise RuntimeError("boom")

    result = sg_verify.check(Raises, np.array([0.3, 1.2]))
    row = {r.check: r for r in result.rows}["second order vs finite differences"]
    assert row.status == NOT_APPLICABLE
    assert row.detail == "not checked: the rule raised in gradient vs finite differences"


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"seed": -1}, ValueError, r"check: seed must be 0 or more, got -1"),
        ({"torch_tol": float("nan")}, ValueError, r"torch_tol must be a finite positive .* nan"),
        ({"torch_tol": 0.0}, ValueError, r"torch_tol must be a finite positive .* 0.0"),
        ({"torch_tol": "1e-9"}, ValueError, r"torch_tol must be a finite positive .* '1e-9'"),
        ({"dtype": "int8"}, ValueError, r"dtype must be float32 or float64, got int8"),
        ({"probes": [(np.array([np.nan, 1.0]),)]}, ValueError, r"gives nan at probe 0 .*probes"),
        ({"probes": [(np.array([0.0, 1.0]),)]}, ValueError, r"gives -inf at probe 0 \(output 0"),
    ],
)
def test_more_mistakes_in_the_options_are_usage_errors(
    options: dict[str, Any], error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        sg_verify.check(lambda x: x.log(), np.array([0.5, 1.0]), **options)


def test_a_torch_dtype_chooses_the_precision() -> None:
    torch = pytest.importorskip("torch")
    assert sg_verify.check(Softplus, X, dtype=torch.float32, mutants=False).dtype == "float32"
    result = sg_verify.check_torch(torch.sin, X, dtype=torch.float64, mutants=False)
    assert result.dtype == "float64"
    with pytest.raises(ValueError, match="dtype must be float32 or float64, got int64"):
        sg_verify.check(Softplus, X, dtype=torch.int64)


@pytest.mark.parametrize(
    ("fn", "inputs", "error", "message"),
    [
        ("log", [-1.0, 1.0], ValueError, r"check_torch: log's forward gives nan at the inputs"),
        ("number", [0.5, 1.0], TypeError, r"returned a float as output 0; it must return a"),
        ("integer", [0.5, 1.0], TypeError, r"has no floating-point output to differentiate"),
        ("seed", [0.5, 1.0], ValueError, r"check_torch: seed must be 0 or more, got -1"),
        ("probe", [0.5, 1.0], ValueError, r"check_torch: log's forward gives -inf at probe 0"),
    ],
)
def test_check_torch_refuses_up_front_what_check_refuses(
    fn: str, inputs: list[float], error: type, message: str
) -> None:
    torch = pytest.importorskip("torch")
    functions: dict[str, Any] = {
        "log": torch.log,
        "number": lambda x: 3.0,
        "integer": lambda x: (x > 0).long(),
        "seed": torch.log,
        "probe": torch.log,
    }
    options: dict[str, Any] = {
        "seed": {"seed": -1},
        "probe": {"probes": [(np.array([0.0, 1.0]),)]},
    }.get(fn, {})
    with pytest.raises(error, match=message):
        sg_verify.check_torch(functions[fn], np.array(inputs), **options)


COMMAND_MISTAKES = textwrap.dedent(
    """
    import numpy as np
    import torch

    X = np.array([0.3, -1.2, 2.0])
    FORTY_TWO = 42

    def f(x):
        return x.sin()

    def log(x):
        return x.log()

    def as_array(x):
        return np.asarray(x.data)

    def torch_sin(x):
        return torch.sin(x)

    EXAMPLES = {
        "FORTY_TWO": (X,),
        "f": {"inputs": (X,), "probes": [X]},
        "log": (X,),
        "as_array": (X,),
        "torch_sin": (X,),
    }
    """
)


@pytest.mark.parametrize(
    ("source", "target", "message"),
    [
        (COMMAND_MISTAKES, "FORTY_TWO", "FORTY_TWO is a int, not a Function class or a function"),
        (COMMAND_MISTAKES, "f", "EXAMPLES['f']: check: probe 0 must be a tuple with a value"),
        (COMMAND_MISTAKES, "log", "EXAMPLES['log']: check: log's forward gives nan at the"),
        (COMMAND_MISTAKES, "as_array", "check: as_array returned a ndarray as output 0"),
        (COMMAND_MISTAKES, "torch_sin", "TypeError: sin(): argument 'input' (position 1) must"),
        (COMMAND_MISTAKES, "torch_sin", "; for a plain torch function, pass --torch"),
        (
            "import numpy as np\ndef f(x):\n    return x.sin()\n"
            "EXAMPLES = {'f': {'inputs': (np.ones(2),), 'params': [1.0], 'seed': 0}}\n",
            "f",
            "EXAMPLES['f']: check: params must be a dict of keyword arguments, got list",
        ),
        (
            "import numpy as np\ndef f(x):\n    return x.sin()\n"
            "EXAMPLES = {'f': {'inputs': (np.ones(2),), 'seed': -1}}\n",
            "f",
            "EXAMPLES['f']: check: seed must be 0 or more, got -1",
        ),
        (
            "def f(x):\n    return x.sin()\ndef sample_inputs():\n    raise KeyError('data')\n",
            "f",
            "sample_inputs() raised KeyError: 'data'",
        ),
        ("import sys\nsys.exit(3)\n", "f", "importing it raised SystemExit: 3"),
    ],
)
def test_command_reports_each_usage_error_on_one_line_with_exit_two(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str, target: str, message: str
) -> None:
    pytest.importorskip("torch")
    path = tmp_path / "mistakes.py"
    path.write_text(source)
    assert main(["check", f"{path}:{target}", "--no-mutants"]) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.err.count("\n") == 1  # one line, no traceback
    assert "Traceback" not in captured.err
    assert captured.out == ""


def test_command_checks_a_plain_torch_function_given_torch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch")
    path = tmp_path / "mistakes.py"
    path.write_text(COMMAND_MISTAKES)
    assert main(["check", f"{path}:torch_sin", "--torch", "--no-mutants"]) == 0
    assert "PASS torch_sin: your rule passed" in capsys.readouterr().out
