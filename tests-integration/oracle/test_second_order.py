"""Second derivatives: every registered operator, and the functional helpers, against
finite differences and PyTorch (needs PyTorch: ``nox -s parity``)."""

from __future__ import annotations

import numpy as np
import pytest

from sg_verify.functional import FUNCTIONAL_CASES, run_functional
from sg_verify.registry import all_specs
from sg_verify.second_order import TORCH2_TOL, fd_check2, torch_check2

SEEDS = (0, 1)


@pytest.mark.parametrize("spec", all_specs(), ids=lambda s: f"{s.engine}:{s.name}")
def test_second_order_agrees_with_both_oracles(spec) -> None:
    for seed in SEEDS:
        arrays = spec.sample(np.random.default_rng(seed))
        fd = fd_check2(spec, arrays, seed)
        assert fd.passed, f"finite differences: {fd.worst:.3g} at {fd.where} (seed {seed})"
        t = torch_check2(spec, arrays, seed)
        assert t.passed, f"PyTorch: {t.worst:.3g} at {t.where} (seed {seed})"
        assert t.worst <= TORCH2_TOL


@pytest.mark.parametrize("seed", SEEDS)
def test_hvp_jacobian_hessian_vjp_jvp_match_torch_autograd_functional(seed: int) -> None:
    results = run_functional(seed)
    scalar_cases = sum(case.scalar for case in FUNCTIONAL_CASES)
    assert any(len(case.shapes) > 1 for case in FUNCTIONAL_CASES)  # tuples of inputs too
    single = sum(len(case.shapes) == 1 for case in FUNCTIONAL_CASES)  # vjp: one input
    assert len(results) == 2 * len(FUNCTIONAL_CASES) + 2 * scalar_cases + single
    assert {r.helper for r in results} == {"hvp", "jacobian", "hessian", "vjp", "jvp"}
    bad = [f"{r.case} {r.helper}: {r.worst:.3g}" for r in results if not r.passed]
    assert not bad, bad
