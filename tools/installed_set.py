"""Account for every distribution installed in a fresh virtualenv.

Usage::

    python tools/installed_set.py VENV_PYTHON REQUIREMENT --expect NAME [NAME ...]

Run it with a Python of the same version as VENV_PYTHON (it evaluates environment markers
for itself) that has ``packaging``. It reads the metadata of everything installed in the
virtualenv of VENV_PYTHON (which was created empty and received only ``pip install
REQUIREMENT``) and fails unless

- the sg packages installed are exactly the sg names in ``--expect``;
- every other name in ``--expect`` is installed (``numpy``, ``hypothesis``, ``torch``);
- everything else installed was pulled by one of those third-party distributions, not by an
  sg package, and nothing installed is left unexplained by the dependency graph from
  REQUIREMENT (so a stray or undeclared dependency shows up here);
- the sg packages came from the index (no ``direct_url.json``: not a path or URL install).

It prints one line per distribution: its version and what pulled it.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import subprocess
import sys
from collections import deque

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def installed(python: str) -> dict[str, importlib.metadata.Distribution]:
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        canonicalize_name(d.metadata["Name"]): d
        for d in importlib.metadata.distributions(path=[purelib])
    }


def wanted(requirement: Requirement, extras: set[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in extras or {""})


def pulled_by(
    root: Requirement, dists: dict[str, importlib.metadata.Distribution]
) -> dict[str, set[str]]:
    """For every distribution reachable from ``root``: the distributions that require it."""
    parents: dict[str, set[str]] = {canonicalize_name(root.name): {"(requested)"}}
    todo = deque([(canonicalize_name(root.name), set(root.extras))])
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, extras = todo.popleft()
        if (name, frozenset(extras)) in seen or name not in dists:
            continue
        seen.add((name, frozenset(extras)))
        for text in dists[name].requires or []:
            requirement = Requirement(text)
            if not wanted(requirement, extras):
                continue
            child = canonicalize_name(requirement.name)
            parents.setdefault(child, set()).add(name)
            todo.append((child, set(requirement.extras)))
    return parents


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("python")
    parser.add_argument("requirement")
    parser.add_argument("--expect", nargs="+", required=True)
    args = parser.parse_args()
    root = Requirement(args.requirement)
    expected = {canonicalize_name(n) for n in args.expect}
    dists = installed(args.python)
    names = set(dists)
    parents = pulled_by(root, dists)

    for name in sorted(names):
        via = ", ".join(sorted(parents.get(name, {"NOTHING"})))
        print(f"  {name}=={dists[name].version}  <- {via}")

    problems = []
    sg_installed = {n for n in names if n.startswith("sg-")}
    sg_expected = {n for n in expected if n.startswith("sg-")}
    if sg_installed != sg_expected:
        problems.append(
            f"installing {root} pulled the sg packages {sorted(sg_installed)}, "
            f"expected exactly {sorted(sg_expected)}"
        )
    if missing := sorted(expected - names):
        problems.append(f"installing {root} did not install {missing}")
    if unexplained := sorted(names - set(parents)):
        problems.append(f"installed but required by nothing reachable from {root}: {unexplained}")
    if not_installed := sorted(set(parents) - names):
        problems.append(f"required but not installed: {not_installed}")
    for name in sorted(sg_installed):
        if dists[name].read_text("direct_url.json") is not None:
            problems.append(f"{name} was installed from a path or URL, not from the index")
    for name in sorted(names - expected):
        if by_sg := sorted(p for p in parents.get(name, ()) if p.startswith("sg-")):
            problems.append(
                f"{name} is a direct dependency of {by_sg}, but the layers do not expect it"
            )
    if problems:
        for problem in problems:
            print(f"ERROR: {problem}", file=sys.stderr)
        return 1
    extra = sorted(names - expected)
    print(
        f"ok: {root} pulled exactly {sorted(expected)}"
        + (f", plus what those pull themselves: {extra}" if extra else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
