"""Source mutation testing, a deterministic sample, end to end: every oracle, the
survivor checks and parity.

The sample (:data:`SAMPLE` mutants, stratified by mutated function) is drawn from every
mutation point of the gradient rules, the broadcasting helpers and the backward driver;
the full run is ``nox -s mutants_source`` (``sg-verify mutants --source``). Every
survivor must be classified in ``sg_verify/mutants/source_equivalents.py``, as an
equivalent mutant or as a documented limit of today's checks, and no classification may
be stale. Run with ``-s`` to see the report.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch", reason="the oracle suite needs PyTorch (torch==2.13.0)")

from sg_verify.mutants import patchable_state
from sg_verify.mutants.source import (
    SURVIVOR_CHECKS,
    SourceReport,
    default_oracles,
    run_source_mutants,
    source_state,
)

SAMPLE = 30
"""The main job's sample, about 40 s on one core (a mutant of the driver runs every spec
of both engines, ~6 s, and one that breaks every pass up to a minute: the sample holds
five); the full run (about 1,500 mutants, 40 minutes) is nox -s mutants_source."""
KILL_RATE_FLOOR = 0.95
"""The sample's kill rate of non-equivalent mutants may not fall below this (the full
run's, 98% or more, is checked by nox -s mutants_source)."""
_cache: dict[str, SourceReport] = {}


def report() -> SourceReport:
    if "sample" not in _cache:
        before, before_source = patchable_state(), source_state()
        _cache["sample"] = run_source_mutants(sample=SAMPLE, seed=0)
        assert patchable_state() == before  # functions compare by identity
        assert all(v is before_source[k] for k, v in source_state().items())
        print("\n" + _cache["sample"].format())
    return _cache["sample"]


def test_a_sample_runs_end_to_end_and_reports_its_kill_rate() -> None:
    r = report()
    assert len(r.results) == SAMPLE
    assert "torch" in r.runner_oracles
    assert r.runner_oracles == default_oracles()
    assert r.matrix.oracles == (*default_oracles(), *SURVIVOR_CHECKS, "parity")
    rates = r.kill_rates()
    print(
        f"\nnon-equivalent kill rate over {len(r.non_equivalent())} of {len(r.results)} "
        "sampled source mutants: " + ", ".join(f"{o} {100 * x:.1f}%" for o, x in rates.items())
    )
    assert rates["either"] >= KILL_RATE_FLOOR
    json.dumps(r.to_dict())


def test_every_survivor_of_the_sample_is_classified() -> None:
    r = report()
    unclassified = [f"{x.mutant.name}: {x.mutant.description}" for x in r.unclassified()]
    assert unclassified == [], (
        "survivors with no entry in source_equivalents.py (equivalent, or a limit):\n"
        + "\n".join(unclassified)
    )
    stale = [x.mutant.name for x in r.misclassified()] + r.unknown()
    assert stale == [], f"stale entries in source_equivalents.py: {stale}"
    assert r.ok
