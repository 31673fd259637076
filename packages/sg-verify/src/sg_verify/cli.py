"""The ``sg-verify`` command: run the evidence and read it in tables.

Its subcommands::

    sg-verify operators    the operator list: calls, PyTorch counterpart, domain, kinks
    sg-verify ops          every operator through both oracles, first and second order
    sg-verify parity       random expressions, sg against PyTorch
    sg-verify mutants      wrong rules patched in: which oracle catches which
                           (--source: mutation operators applied to the real code)
    sg-verify trajectory   training runs, sg against PyTorch, step by step
    sg-verify moons        the two-moons accuracy over five seeds
    sg-verify report       all of the above into a folder (results.json, REPORT.md, PNGs)
    sg-verify check        your own gradient rule: FILE.py:NAME through every check
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np


# -- argument types: a bad value is refused before anything runs ------------------------
def _count(text: str) -> int:
    """A positive int: a run of zero checks would pass without checking anything."""
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _jobs(text: str) -> int:
    """``auto`` (0: one process per CPU) or a positive int."""
    return 0 if text == "auto" else _count(text)


def _jobs_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--jobs", type=_jobs, default=1, metavar="N",
        help="worker processes sharing the checks out ('auto': one per CPU; default 1)",
    )  # fmt: skip


def _seed(text: str) -> int:
    value = _integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def _choice(names: list[str]) -> Callable[[str], str]:
    """One of ``names`` (argparse's ``choices`` mishandles a list default with ``*``)."""

    def check(text: str) -> str:
        if text not in names:
            raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(names)}")
        return text

    return check


def _writable_folder(text: str) -> Path:
    """A folder that exists and is writable, or can be created (checked, not created)."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} exists and is not a folder")
    _check_writable(path if path.exists() else _existing_parent(path), text)
    return path


def _writable_file(text: str) -> Path:
    """A file that can be written: not a folder, in a folder that exists and is writable."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder, not a file")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"the folder of {text} does not exist")
    _check_writable(path if path.exists() else path.parent, text)
    return path


def _existing_parent(path: Path) -> Path:
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise argparse.ArgumentTypeError(f"{parent} is not a folder")
            return parent
    return Path("/")  # unreachable: the root exists


def _check_writable(path: Path, text: str) -> None:
    if not os.access(path, os.W_OK | (os.X_OK if path.is_dir() else 0)):
        raise argparse.ArgumentTypeError(f"{text}: {path} is not writable")


class _UnwritableError(Exception):
    """An output place that failed the real test: writing a file there."""


def _probe(folder: Path, create: bool = False) -> None:
    """Write and delete a file in ``folder`` (made first with ``create``), so a long run
    never ends in a failure to save it. (Permission bits alone do not tell: root, mounts.)
    """
    try:
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise _UnwritableError(f"cannot write to {folder}: {error.strerror or error}") from None


def _operators(args: argparse.Namespace) -> int:
    from sg_verify import catalog

    print(catalog.markdown() if args.markdown else catalog.text(), end="\n" * (not args.markdown))
    return 0


def _ops(args: argparse.Namespace) -> int:
    from sg_verify.ops import run_ops
    from sg_verify.pytorch import INSTALL, torch_available

    with_torch = torch_available() and not args.no_torch
    report = run_ops(with_torch=with_torch, seed=args.seed, points=args.points, jobs=args.jobs)
    print(report.format_table())
    if not with_torch:
        why = "--no-torch" if args.no_torch else f"PyTorch is not installed ({INSTALL})"
        print(f"The PyTorch columns did not run: {why}. Every other check did.")
    failures = [f for row in report.rows for f in row.failures]
    if failures:
        print(f"\n{len(failures)} failing checks:")
        print("\n".join(f"  {row.engine}:{f}" for row in report.rows for f in row.failures))
    return 0 if report.passed else 1


def _parity(args: argparse.Namespace) -> int:
    from sg_verify.expressions import run_parity
    from sg_verify.tolerances import PARITY, PARITY_REFERENCE

    ok = True
    for engine in ("tensor", "scalar"):
        result = run_parity(engine, args.count, seed=args.seed, reference_only=args.reference_only)
        data = result.to_dict()
        limit = PARITY_REFERENCE if args.reference_only else PARITY
        ok &= data["worst"] <= limit
        print(
            f"{engine}: {data['count']} expressions, worst {data['worst']:.2e}, "
            f"median {data['median']:.2e} (limit {limit:.0e})"
        )
    return 0 if ok else 1


def _mutants(args: argparse.Namespace) -> int:
    if args.source:
        return _source_mutants(args)
    if args.sample is not None or args.no_torch or args.json:
        print(
            "sg-verify mutants: --sample, --no-torch and --json go with --source", file=sys.stderr
        )
        return 2
    from sg_verify.mutants import run_mutants
    from sg_verify.pytorch import INSTALL, torch_available

    report = run_mutants(engine="all", jobs=args.jobs)
    print(report.format_table(verbose=args.verbose))
    if not torch_available():
        print(f"PyTorch is not installed ({INSTALL}): every other oracle ran.")
    return 0 if not report.uncaught() else 1


def _source_mutants(args: argparse.Namespace) -> int:
    """Source mutants: exit 0 when every survivor is classified and no entry is stale (a
    classified mutant that a check killed, or an id that names no mutation point)."""
    import json

    from sg_verify.mutants.source import default_oracles, run_source_mutants

    if args.json:
        _probe(args.json.parent)
    oracles = default_oracles(torch=not args.no_torch)
    report = run_source_mutants(
        sample=args.sample,
        seed=args.seed,
        oracles=oracles,
        parity=args.parity if "torch" in oracles else 0,  # parity runs PyTorch
        jobs=args.jobs,
    )
    print(report.format(verbose=args.verbose))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report.to_dict(), f, indent=1)
    return 0 if report.ok else 1


def _trajectory(args: argparse.Namespace) -> int:
    import json

    from sg_verify.trajectory import ACCEPTANCE_OPTIMIZERS, format_table, run_all

    if args.json:
        _probe(args.json.parent)
    results = run_all(
        args.optimizers or ACCEPTANCE_OPTIMIZERS, steps=args.steps, seed=args.seed, loss=args.loss
    )
    print(format_table(results))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({k: r.to_dict() for k, r in results.items()}, f, indent=1)
    return 0 if all(r.passed for r in results.values()) else 1


def _moons(args: argparse.Namespace) -> int:
    from sg_verify.moons import moons_dict, run_moons

    summary = moons_dict(run_moons())
    for seed, acc in summary["accuracy_by_seed"].items():
        print(f"seed {seed}: test accuracy {acc:.4f}")
    print(f"mean {summary['mean_accuracy']:.4f}")
    return 0 if summary["passed"] else 1


def _report(args: argparse.Namespace) -> int:
    from sg_verify.report import build_report

    out = args.out
    _probe(out, create=True)
    report = build_report(out, parity_count=args.count, quick=args.quick, jobs=args.jobs)
    print((out / "REPORT.md").read_text())
    print(
        f"written to {out}/ (results.json, REPORT.md, {', '.join(report.figures) or 'no figures'})"
    )
    return 0 if report.passed else 1


def _check(args: argparse.Namespace) -> int:
    from sg_verify.custom.command import check_target

    results = check_target(
        args.target,
        dtype=None if args.dtype is None else np.dtype(args.dtype),
        seed=args.seed,
        mutants=not args.no_mutants,
        torch=args.torch,
    )
    for result in results:
        print(result)
    return 0 if all(result.ok for result in results) else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``sg-verify`` with ``argv`` (the command line by default); the exit code."""
    from sg_verify.custom.command import TargetError
    from sg_verify.pytorch import TorchMissingError
    from sg_verify.trajectory import ACCEPTANCE_OPTIMIZERS, LOSSES, OPTIMIZERS

    parser = argparse.ArgumentParser(prog="sg-verify", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    operators = commands.add_parser("operators", help="the operator list, from the declarations")
    operators.add_argument("--markdown", action="store_true", help="a Markdown table")
    operators.set_defaults(run=_operators)
    ops = commands.add_parser("ops", help="every operator through both oracles")
    ops.add_argument("--no-torch", action="store_true", help="every check but PyTorch's")
    ops.add_argument(
        "--points",
        type=_count,
        default=2,
        help="inputs per spec: samples, each followed by its mirror through the kinks",
    )
    ops.add_argument("--seed", type=_seed, default=0, help="the first sample's seed")
    _jobs_argument(ops)
    ops.set_defaults(run=_ops)
    parity = commands.add_parser("parity", help="random expressions against PyTorch")
    parity.add_argument("--count", type=_count, default=10_000, help="expressions per engine")
    parity.add_argument("--seed", type=_seed, default=0)
    parity.add_argument("--reference-only", action="store_true")
    parity.set_defaults(run=_parity)
    mutants = commands.add_parser("mutants", help="wrong rules: which oracle catches which")
    mutants.add_argument("--verbose", action="store_true", help="one row per mutant")
    _jobs_argument(mutants)
    mutants.add_argument(
        "--source", action="store_true", help="mutation operators applied to the real code"
    )
    mutants.add_argument("--sample", type=_count, help="with --source: a stratified sample")
    mutants.add_argument("--seed", type=_seed, default=0, help="with --source: the sample's")
    mutants.add_argument(
        "--parity", type=_seed, default=100, help="with --source: expressions per survivor"
    )
    mutants.add_argument(
        "--no-torch",
        action="store_true",
        help="with --source: every oracle but PyTorch's (and no parity)",
    )
    mutants.add_argument("--json", type=_writable_file, help="with --source: the full report")
    mutants.set_defaults(run=_mutants)
    trajectory = commands.add_parser("trajectory", help="training runs against PyTorch")
    trajectory.add_argument(
        "optimizers",
        nargs="*",
        type=_choice(sorted(OPTIMIZERS)),
        help=f"default: {' '.join(ACCEPTANCE_OPTIMIZERS)}",
    )
    trajectory.add_argument("--steps", type=_count, default=200)
    trajectory.add_argument("--seed", type=_seed, default=0)
    trajectory.add_argument("--loss", choices=LOSSES, default="cross_entropy")
    trajectory.add_argument(
        "--json", type=_writable_file, help="write the full per-step report to this file"
    )
    trajectory.set_defaults(run=_trajectory)
    commands.add_parser("moons", help="two-moons accuracy over five seeds").set_defaults(
        run=_moons
    )
    report = commands.add_parser("report", help="everything, into a report folder")
    report.add_argument(
        "--out", type=_writable_folder, default="sg-verify-report", help="output folder"
    )
    report.add_argument("--count", type=_count, default=10_000, help="expressions per engine")
    report.add_argument("--quick", action="store_true", help="small runs, for a smoke test")
    _jobs_argument(report)
    report.set_defaults(run=_report)
    check = commands.add_parser(
        "check",
        help="your own gradient rule through every check",
        description="Check NAME (an sg_tensor.Function, a function of Tensors or a "
        "torch.autograd.Function) defined in FILE.py at the inputs of its EXAMPLES entry "
        "(see docs: Verify your own gradient rule). Exit code 1 when a check fails.",
    )
    check.add_argument("target", metavar="FILE.py:NAME", help="the file and the rule's name")
    check.add_argument(
        "--dtype",
        choices=("float64", "float32"),
        help="the precision to check in (default: float32 for float32 examples, else float64)",
    )
    check.add_argument("--seed", type=_seed, default=0, help="the random output gradients'")
    check.add_argument("--no-mutants", action="store_true", help="skip the own-rule mutants")
    check.add_argument(
        "--torch", action="store_true", help="NAME is a plain torch function (check_torch)"
    )
    check.set_defaults(run=_check)
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except (TorchMissingError, _UnwritableError, TargetError) as error:  # one line, no traceback
        print(f"sg-verify {args.command}: {error}", file=sys.stderr)
        return 2
