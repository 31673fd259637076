"""Task runner for the sg monorepo: ``nox -l`` lists the sessions, ``nox`` runs CI's set.

Every package is tested alone: a fresh virtualenv holds the package, its declared
dependencies (sibling packages from their local folders, everything else from the
package index) and the test tools, nothing more. So a package that imports a sibling
it does not declare fails here, as it would for a user.
"""

from __future__ import annotations

import re
from pathlib import Path

import nox

try:
    import tomllib
except ImportError:  # Python 3.10: nox itself depends on tomli there
    import tomli as tomllib

ROOT = Path(__file__).parent
PACKAGES_DIR = ROOT / "packages"
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
ORACLE_PYTHON = "3.11"  # the local CPU build of torch==2.13.0 exists for 3.11
TORCH = "torch==2.13.0"
TEST_TOOLS = ["pytest>=7", "hypothesis>=6"]

nox.options.default_venv_backend = "virtualenv"
nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["lint", "typecheck", "tests", "gates", "parity"]


def _metadata(package: str) -> dict:  # type: ignore[type-arg]
    with open(PACKAGES_DIR / package / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]  # type: ignore[no-any-return]


PACKAGES = sorted(p.name for p in PACKAGES_DIR.iterdir() if (p / "pyproject.toml").exists())


def _requirement_name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower()


def sibling_closure(package: str) -> list[str]:
    """The package and every sibling it needs, directly or through another sibling."""
    needed, todo = [], [package]
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        needed.append(name)
        for requirement in _metadata(name).get("dependencies", []):
            dep = _requirement_name(requirement)
            if dep in PACKAGES:
                todo.append(dep)
    return needed


def install_package(session: nox.Session, package: str, *extras: str) -> None:
    """Install ``package`` and its siblings from their folders (not from an index)."""
    paths = [str(PACKAGES_DIR / name) for name in sibling_closure(package)]
    if extras:
        paths[0] += "[" + ",".join(extras) + "]"
    session.install(*paths)


@nox.session(python=ORACLE_PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole repository."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=ORACLE_PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the sources of every package."""
    session.install("mypy>=1.10", *TEST_TOOLS)
    for package in PACKAGES:
        install_package(session, package)
    session.run("mypy")


@nox.session(python=PYTHONS)
@nox.parametrize("package", PACKAGES)
def tests(session: nox.Session, package: str) -> None:
    """One package's tests, in a virtualenv holding only it and its declared dependencies."""
    install_package(session, package)
    session.install(*TEST_TOOLS)
    session.run("python", "-m", "pip", "list", "--format=freeze", silent=False)
    session.run(
        "pytest",
        str(PACKAGES_DIR / package / "tests"),
        "-p",
        "no:cacheprovider",
        *session.posargs,
    )


@nox.session(python=ORACLE_PYTHON)
def parity(session: nox.Session) -> None:
    """The main job: the oracle suite against PyTorch float64, then the results report."""
    session.install(TORCH)  # first, so that the torch extra finds it and adds nothing
    install_package(session, "sg-verify", "torch", "plots")
    session.install(*TEST_TOOLS)
    session.run("pytest", "tests-integration/oracle", "-p", "no:cacheprovider", "-q")
    session.run("sg-verify", "report", "--out", "results", *session.posargs)


@nox.session(python=ORACLE_PYTHON)
def gates(session: nox.Session) -> None:
    """Training gates: two moons (5 seeds) and digits with sg's own Adam; resume exactness."""
    install_package(session, "sg-nn")
    install_package(session, "sg-optim")
    session.install(*TEST_TOOLS, "scikit-learn")
    session.run(
        "pytest", "tests-integration/gates", "-p", "no:cacheprovider", "-s", *session.posargs
    )


@nox.session(python=ORACLE_PYTHON)
def bench(session: nox.Session) -> None:
    """Speed against references measured in the same run (not part of the default set)."""
    install_package(session, "sg-tensor")
    session.install("micrograd==0.1.0", TORCH)
    session.run("python", "benchmarks/bench_scalar.py", *session.posargs)
    session.run("python", "benchmarks/bench_tensor.py", *session.posargs)
