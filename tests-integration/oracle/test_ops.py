"""Every registered operator passes both oracles (needs PyTorch: ``nox -s parity``)."""

from __future__ import annotations

import numpy as np
import pytest

from sg_verify.oracles import fd_check, torch_check
from sg_verify.registry import all_specs

SEEDS = (0, 1)


@pytest.mark.parametrize("spec", all_specs(), ids=lambda s: f"{s.engine}:{s.name}")
def test_both_oracles_agree_with_sg(spec) -> None:
    for seed in SEEDS:
        arrays = spec.sample(np.random.default_rng(seed))
        fd = fd_check(spec, arrays, seed)
        assert fd.passed, f"finite differences: {fd.worst:.3g} at {fd.where} (seed {seed})"
        t = torch_check(spec, arrays, seed)
        assert t.passed, (
            f"PyTorch: gradient {t.worst:.3g} at {t.where}, forward {t.forward:.3g} (seed {seed})"
        )
