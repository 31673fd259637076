"""What :func:`sg_verify.check` returns: one row per check, one per own-rule mutant."""

from __future__ import annotations

from dataclasses import dataclass, field

from sg_verify.oracles import GradcheckError

__all__ = ["CheckResult", "CheckRow", "MutantRow"]

PASS, FAIL, NOT_APPLICABLE = "pass", "FAIL", "n/a"
COARSE = 1e-6
"""A passed difference check that could not see an error of this size (scale-aware)
somewhere is reported as coarse there: it resolves about 1e-9 where outputs are of one
size, far less beside a much larger output (see the guide's 'What the checks cannot
see')."""


@dataclass(frozen=True)
class CheckRow:
    """One check of the rule: ``status`` is ``"pass"``, ``"FAIL"`` or ``"n/a"`` (the check
    does not apply, ``detail`` says why); ``worst`` the largest scale-aware difference
    (``|got - reference| / max(1, |reference|)``) and ``where`` its input and element."""

    check: str
    status: str
    worst: float = 0.0
    where: str = "-"
    detail: str = ""
    # finite differences: the largest scale-aware error they could not tell from none
    resolution: float = 0.0
    resolution_where: str = "-"

    @property
    def passed(self) -> bool:
        return self.status != FAIL


@dataclass(frozen=True)
class MutantRow:
    """One deliberate error in the rule: ``caught`` by the check named in ``caught_by``,
    missed (``False``), or ``None`` when it changes nothing at these inputs (a zero
    gradient flipped: no check can see it, so it is not counted)."""

    mutant: str
    caught: bool | None
    caught_by: str = ""


@dataclass
class CheckResult:
    """The verdict on one function's gradient rule (``bool(result)`` is ``result.ok``).

    ``rows`` are the checks of the rule itself; ``mutants`` are the same checks run on
    deliberately wrong variants of it, which say how strong those checks were on *this*
    function at *these* inputs.
    """

    name: str
    inputs: str
    dtype: str
    rows: list[CheckRow] = field(default_factory=list)
    mutants: list[MutantRow] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every check that applies passed."""
        return all(row.passed for row in self.rows)

    def __bool__(self) -> bool:
        return self.ok

    @property
    def failures(self) -> list[CheckRow]:
        return [row for row in self.rows if not row.passed]

    @property
    def worst(self) -> dict[str, float]:
        """The largest difference each applicable check found, by check."""
        return {row.check: row.worst for row in self.rows if row.status != NOT_APPLICABLE}

    @property
    def caught(self) -> int:
        return sum(1 for m in self.mutants if m.caught)

    @property
    def counted(self) -> int:
        """Mutants that change the gradient at these inputs (the others cannot be caught)."""
        return sum(1 for m in self.mutants if m.caught is not None)

    @property
    def mutant_summary(self) -> str:
        if not self.mutants:
            if not self.ok:
                return "not run: the rule itself failed a check"
            return "not run (mutants=False)"
        missed = [m.mutant for m in self.mutants if m.caught is False]
        equivalent = len(self.mutants) - self.counted
        text = (
            f"the same checks caught {self.caught}/{self.counted} deliberate errors in this rule"
        )
        if equivalent:
            text += f" ({equivalent} more change nothing at these inputs)"
        if missed:
            text += f"; missed: {', '.join(missed)}"
        return text

    @property
    def coarse(self) -> list[CheckRow]:
        """Passed rows whose differences could not see an error of :data:`COARSE`
        somewhere: a pass there is weak evidence."""
        return [r for r in self.rows if r.status == PASS and r.resolution > COARSE]

    @property
    def summary(self) -> str:
        """One line: the verdict and the strength of the checks behind it."""
        strength = self.mutant_summary if self.mutants else "own-rule mutants not run"
        if self.ok and self.coarse:
            row = max(self.coarse, key=lambda r: r.resolution)
            return (
                f"{self.name}: your rule passed, but coarsely: {row.check} could not see an "
                f"error of {row.resolution:.0e} at {row.resolution_where} (beside a much "
                f"larger output, or where the function changes fast); {strength}"
            )
        if self.ok:
            return f"{self.name}: your rule passed; {strength}"
        names = ", ".join(row.check for row in self.failures)
        return f"{self.name}: your rule FAILED ({names})"

    def raise_for_failure(self) -> None:
        """Raise :class:`~sg_verify.GradcheckError` with the whole table if a check failed."""
        if not self.ok:
            raise GradcheckError(str(self))

    def __str__(self) -> str:
        width = max([len(r.check) for r in self.rows] + [len("check")])
        lines = [
            f"sg-verify check: {self.name} at inputs {self.inputs} ({self.dtype})",
            f"  {'check':<{width}}  result  worst error  where",
        ]
        for r in self.rows:
            worst = "-" if r.status == NOT_APPLICABLE else f"{r.worst:.1e}"
            where = r.detail if r.status == NOT_APPLICABLE else r.where
            lines.append(f"  {r.check:<{width}}  {r.status:<6}  {worst:<11}  {where}")
        lines.append(f"own-rule mutants: {self.mutant_summary}")
        if self.mutants:
            width = max(len(m.mutant) for m in self.mutants)
            for m in self.mutants:
                if m.caught is None:
                    verdict = "changes nothing at these inputs"
                elif m.caught:
                    verdict = f"caught by {m.caught_by}"
                else:
                    verdict = "MISSED by every check"
                lines.append(f"  {m.mutant:<{width}}  {verdict}")
        lines.append(("PASS " if self.ok else "FAIL ") + self.summary)
        return "\n".join(lines)
