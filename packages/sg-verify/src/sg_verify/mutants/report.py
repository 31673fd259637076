"""The kill matrix: each oracle's verdict on each mutant, kill rates, misses, a table."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sg_verify.mutants.mutant import KINDS, Mutant


@dataclass
class Verdict:
    """What one oracle did with one mutant.

    ``checks`` counts the checks run under the mutant at inputs where the oracle passes
    the unmutated code, ``kills`` those that failed or raised, ``skipped`` the inputs
    where the unmutated code already fails (not valid witnesses). Once a spec has killed
    the mutant, its remaining samples are not run, so ``kills`` is also the number of
    specs in ``killed_on``. ``witness`` describes the first kill: the spec, where, and
    the size of the error or the reason of the exception.
    """

    oracle: str
    checks: int = 0
    kills: int = 0
    skipped: int = 0
    witness: str = ""
    killed_on: list[str] = field(default_factory=list)
    """The specs (and probes) on which at least one check failed, in run order."""

    @property
    def caught(self) -> bool:
        return self.kills > 0

    def to_dict(self) -> dict[str, Any]:
        """The verdict as JSON-ready data."""
        return {"caught": self.caught, **asdict(self)}


PARTIAL_CHECKS = frozenset({"props", "lifecycle", "float32"})
"""The checks of sg against itself: blind to a wrong value that is consistent with itself
(a mutant they miss is no surprise; a mutant's ``expected_misses`` name the others)."""


@dataclass
class MutantResult:
    """One row of the kill matrix: a mutant and each oracle's verdict."""

    mutant: Mutant
    verdicts: dict[str, Verdict]
    specs: int
    seconds: float

    @property
    def caught_by(self) -> tuple[str, ...]:
        return tuple(o for o, v in self.verdicts.items() if v.caught)

    @property
    def caught(self) -> bool:
        """Whether at least one oracle caught it."""
        return bool(self.caught_by)

    @property
    def caught_without_torch(self) -> bool:
        """Whether an oracle other than PyTorch caught it."""
        return any(o != "torch" for o in self.caught_by)

    def surprises(self) -> list[str]:
        """Verdicts that differ from the mutant's expectation, in words."""
        out = []
        for oracle, verdict in self.verdicts.items():
            if oracle in PARTIAL_CHECKS or oracle in self.mutant.blind:
                continue
            expected_miss = oracle in self.mutant.expected_misses
            if expected_miss and verdict.caught:
                out.append(f"{self.mutant.name}: {oracle} caught it ({verdict.witness})")
            elif not expected_miss and not verdict.caught and verdict.checks:
                out.append(
                    f"{self.mutant.name}: {oracle} missed it ({verdict.checks} valid checks, "
                    f"{verdict.skipped} skipped)"
                )
        return out

    def to_dict(self) -> dict[str, Any]:
        """The mutant and which oracles caught it, as JSON-ready data."""
        return {
            **self.mutant.to_dict(),
            "caught_by": list(self.caught_by),
            "specs": self.specs,
            "seconds": self.seconds,
            "verdicts": {o: v.to_dict() for o, v in self.verdicts.items()},
        }


@dataclass
class MutantReport:
    """The kill matrix of a run, with kill rates and the misses of each oracle."""

    engine: str
    oracles: tuple[str, ...]
    seed: int
    samples: int
    results: list[MutantResult]
    seconds: float
    invalid_witnesses: dict[str, list[str]] = field(default_factory=dict)
    """Per oracle, the specs it already fails on unmutated code (skipped as witnesses)."""

    def kill_rate(self, oracle: str) -> float:
        """The fraction of mutants ``oracle`` caught (``"either"``: any oracle;
        ``"without_torch"``: any oracle but PyTorch, what a user without it gets)."""
        if not self.results:
            return 1.0
        if oracle == "either":
            return sum(r.caught for r in self.results) / len(self.results)
        if oracle == "without_torch":
            return sum(r.caught_without_torch for r in self.results) / len(self.results)
        return sum(r.verdicts[oracle].caught for r in self.results) / len(self.results)

    def kill_rates(self) -> dict[str, float]:
        """The kill rate of each oracle, of ``"either"`` of them and, when PyTorch ran
        beside another oracle, ``"without_torch"``."""
        names = [*self.oracles, "either"]
        if "torch" in self.oracles and len(self.oracles) > 1:
            names.append("without_torch")
        return {o: self.kill_rate(o) for o in names}

    def missed_by(self, oracle: str) -> list[MutantResult]:
        """The mutants ``oracle`` did not catch."""
        return [r for r in self.results if not r.verdicts[oracle].caught]

    def uncaught(self) -> list[MutantResult]:
        """The mutants no oracle caught: each is a gap in the registry or the oracles."""
        return [r for r in self.results if not r.caught]

    def surprises(self) -> list[str]:
        """Every verdict that differs from its mutant's stated expectation."""
        return [s for r in self.results for s in r.surprises()]

    def by_kind(self) -> dict[str, dict[str, int]]:
        """Per kind: the number of mutants and how many each oracle (and either) caught."""
        table: dict[str, dict[str, int]] = {}
        columns = list(self.kill_rates())
        for r in self.results:
            row = table.setdefault(r.mutant.kind, {"mutants": 0, **dict.fromkeys(columns, 0)})
            row["mutants"] += 1
            row["either"] += r.caught
            if "without_torch" in row:
                row["without_torch"] += r.caught_without_torch
            for o in self.oracles:
                row[o] += r.verdicts[o].caught
        return table

    def to_dict(self) -> dict[str, Any]:
        """The whole report as JSON-ready data."""
        return {
            "engine": self.engine,
            "oracles": list(self.oracles),
            "seed": self.seed,
            "samples": self.samples,
            "seconds": self.seconds,
            "mutants": len(self.results),
            "kill_rates": self.kill_rates(),
            "by_kind": self.by_kind(),
            "missed_by": {o: [r.mutant.name for r in self.missed_by(o)] for o in self.oracles},
            "uncaught": [r.mutant.name for r in self.uncaught()],
            "surprises": self.surprises(),
            "invalid_witnesses": self.invalid_witnesses,
            "results": [r.to_dict() for r in self.results],
        }

    def format_table(self, verbose: bool = False) -> str:
        """A readable kill-matrix summary; ``verbose`` adds one row per mutant."""
        oracles = self.oracles
        lines = [
            f"Mutation testing: {len(self.results)} mutants ({self.engine}), oracles "
            f"{', '.join(oracles)}, {self.samples} sample(s) per spec, seed {self.seed}, "
            f"{self.seconds:.1f} s",
            "",
            f"{'kind':<16}{'mutants':>8}" + "".join(f"{o:>14}" for o in self.kill_rates()),
        ]
        if "torch" not in oracles:
            lines.insert(1, "(no PyTorch column: PyTorch was not among the oracles run)")
        kinds = self.by_kind()
        for kind in [k for k in KINDS if k in kinds]:
            row = kinds[kind]
            cells = "".join(f"{row[o]:>7}/{row['mutants']:<6}" for o in self.kill_rates())
            lines.append(f"{kind:<16}{row['mutants']:>8}{cells}")
        rates = "".join(f"{100 * r:>13.1f}%" for r in self.kill_rates().values())
        lines.append(f"{'kill rate':<16}{len(self.results):>8}{rates}")
        for oracle in oracles:
            missed = self.missed_by(oracle)
            lines += ["", f"Missed by {oracle} ({len(missed)}):" if missed else
                      f"Missed by {oracle}: none"]  # fmt: skip
            groups: dict[str, list[MutantResult]] = {}
            for r in missed:
                groups.setdefault(r.mutant.kind, []).append(r)
            for kind, rs in groups.items():
                if len(rs) == kinds[kind]["mutants"] and len(rs) > 12:
                    names = "every mutant of this kind in the run"
                else:
                    names = ", ".join(r.mutant.name for r in rs)
                lines.append(f"  {kind} ({len(rs)}): {names}")
                notes = sorted({r.mutant.note for r in rs if r.mutant.note})
                lines += [f"    why: {n}" for n in notes]
        uncaught = self.uncaught()
        lines += ["", f"Caught by no oracle: {len(uncaught)}"]
        lines += [f"  {r.mutant.name}: {r.mutant.description}" for r in uncaught]
        surprises = self.surprises()
        lines.append(f"Verdicts differing from expectation: {len(surprises)}")
        lines += [f"  {s}" for s in surprises]
        for oracle, specs in self.invalid_witnesses.items():
            if specs:
                lines.append(
                    f"Inputs skipped for {oracle} (the unmutated code fails there): "
                    + ", ".join(specs)
                )
        if verbose:
            lines += ["", f"{'mutant':<52}" + "".join(f"{o:>8}" for o in oracles) + "  witness"]
            for r in self.results:
                marks = "".join(
                    f"{'caught' if r.verdicts[o].caught else 'MISSED':>8}" for o in oracles
                )  # fmt: skip
                first = next((r.verdicts[o].witness for o in r.caught_by), "")
                lines.append(f"{r.mutant.name:<52}{marks}  {first[:90]}")
        return "\n".join(lines)
