"""Why each surviving source mutant survives: equivalent, or a documented limit.

Filled in from the full run (``nox -s mutants_source``); see
:mod:`sg_verify.mutants.source`.
"""

from __future__ import annotations

EQUIVALENT = "equivalent"
"""The mutation does not change what the code computes on any input sg accepts."""
LIMIT = "limit"
"""A real change that today's checks miss: the reason says which check would see it."""

CLASSIFIED: dict[str, tuple[str, str]] = {}
"""Mutant id -> (category, reason)."""
