"""Task runner for the sg monorepo: ``nox -l`` lists the sessions, ``nox`` runs CI's set.

Every package is tested alone: a fresh virtualenv holds the package, its declared
dependencies (sibling packages from their local folders, everything else from the
package index) and the test tools, nothing more. So a package that imports a sibling
it does not declare fails here, as it would for a user.

Releases (RELEASING.md): ``ranges`` checks metadata, sibling ranges and sg imports;
``build`` makes and checks every wheel and sdist in dist/; ``publish_local`` uploads them
to a local package index and installs each package from it alone into an empty virtualenv.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
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
# Packages whose tests run on every core (sg-verify's: 3 minutes on one, once per Python);
# the others' take seconds (and sg-tensor's and sg-nn's collect their parametrized cases in
# an order pytest-xdist's workers do not agree on).
PARALLEL_TESTS = {"sg-verify"}
PARALLEL_TOOLS = ["pytest-xdist>=3"]


def _test_tools(package: str) -> list[str]:
    """What a package's tests need besides the package: pytest, and xdist where they run
    on every core."""
    return [*TEST_TOOLS, *(PARALLEL_TOOLS if package in PARALLEL_TESTS else [])]


def _parallel_flags(package: str) -> tuple[str, ...]:
    return ("-n", "auto") if package in PARALLEL_TESTS else ()


nox.options.default_venv_backend = "virtualenv"
nox.options.error_on_missing_interpreters = True
nox.options.sessions = [
    "lint",
    "typecheck",
    "tests",
    "gates",
    "parity",
    "docs",
    "ranges",
    "publish_local",
]


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
    """ruff check and ruff format --check over the whole repository; no import circles."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("python", "tools/check_imports.py", "packages")


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
    session.install(*_test_tools(package))
    session.run("python", "-m", "pip", "list", "--format=freeze", silent=False)
    session.run(
        "pytest",
        str(PACKAGES_DIR / package / "tests"),
        *("-p", "no:cacheprovider"),
        *_parallel_flags(package),
        *session.posargs,
    )


@nox.session(python=ORACLE_PYTHON)
def fuzz(session: nox.Session) -> None:
    """sg-nn's checkpoint fuzz tests, 5,000 examples a property (not part of the default set)."""
    install_package(session, "sg-nn")
    session.install(*TEST_TOOLS)
    session.run(
        "pytest",
        str(PACKAGES_DIR / "sg-nn" / "tests" / "test_checkpoint_fuzz.py"),
        *("-p", "no:cacheprovider", "-q"),
        *session.posargs,
        env={"SG_FUZZ_EXAMPLES": os.environ.get("SG_FUZZ_EXAMPLES", "5000")},  # yours wins
    )


@nox.session(python=ORACLE_PYTHON)
def parity(session: nox.Session) -> None:
    """The main job: the oracle suite against PyTorch float64, then the results report."""
    session.install(TORCH)  # first, so that the torch extra finds it and adds nothing
    install_package(session, "sg-verify", "torch", "plots")
    session.install(*TEST_TOOLS, *PARALLEL_TOOLS)
    # One worker per core, a test file per worker (each file shares one costly run, the
    # mutant matrix or the source-mutant sample, between its tests).
    session.run(
        "pytest", "tests-integration/oracle", "-p", "no:cacheprovider", "-q",
        "-n", "auto", "--dist", "loadfile",
    )  # fmt: skip
    # The report's operator checks and mutant matrix run in a process per core too.
    session.run("sg-verify", "report", "--out", "results", "--jobs", "auto", *session.posargs)


@nox.session(python=ORACLE_PYTHON)
def mutants_source(session: nox.Session) -> None:
    """Every source mutant of the rules, the broadcasting helpers and the backward driver,
    through every oracle, the survivor checks and parity (about 40 minutes on one core;
    not part of the default set: the parity session's oracle tests run a sample). Fails if
    a survivor is unclassified or a classification is stale; the report goes to
    results/source_mutants.json unless --json is given."""
    session.install(TORCH)  # first, so that the torch extra finds it and adds nothing
    install_package(session, "sg-verify", "torch")
    args = list(session.posargs)
    if "--json" not in args:
        (ROOT / "results").mkdir(exist_ok=True)
        args += ["--json", "results/source_mutants.json"]
    session.run("sg-verify", "mutants", "--source", *args)


@nox.session(python=ORACLE_PYTHON)
def gates(session: nox.Session) -> None:
    """Training gates: two moons (5 seeds), digits with an MLP and with a CNN (3 seeds),
    sg's own optimizers; resume exactness."""
    install_package(session, "sg-verify")  # its train_moons; it brings sg-nn and sg-optim
    session.install(*TEST_TOOLS, "scikit-learn")
    session.run(
        "pytest", "tests-integration/gates", "-p", "no:cacheprovider", "-s", *session.posargs
    )


@nox.session(python=ORACLE_PYTHON)
def bench(session: nox.Session) -> None:
    """Speed against references measured in the same run (not part of the default set):
    the scalar engine, an MLP step and a CNN step."""
    _install_bench(session)
    session.run("python", "benchmarks/bench_scalar.py", *session.posargs)
    session.run("python", "benchmarks/bench_tensor.py", *session.posargs)
    session.run("python", "benchmarks/bench_cnn.py", *session.posargs)


def _install_bench(session: nox.Session) -> None:
    install_package(session, "sg-nn")  # with sg-tensor; the user path needs sg-optim too
    install_package(session, "sg-optim")
    session.install("micrograd==0.1.0", TORCH)


# ---------------------------------------------------------------------------------------
# Documentation: mkdocs.yml and docs/ (see docs/index.md)
# ---------------------------------------------------------------------------------------
DOCS = ROOT / "docs"
DOCS_REPORT = DOCS / "results"  # the generated report, beside its page results/index.md
BENCH_SNAPSHOT = DOCS / "performance"


@nox.session(python=ORACLE_PYTHON)
def docs(session: nox.Session) -> None:
    """The site in site/: the verification report, the executed notebook, the API reference."""
    session.install(TORCH)  # first, so that the torch extra finds it and adds nothing
    install_package(session, "sg-verify", "torch", "plots")
    session.install("-r", str(DOCS / "requirements.txt"), *TEST_TOOLS)
    # The Results page shows the report of this build, never a pasted copy.
    for stale in DOCS_REPORT.iterdir():
        if stale.name != "index.md":
            stale.unlink()
    parity_report = ROOT / "results"
    if os.environ.get("CI") and (parity_report / "REPORT.md").exists():
        # On CI (a fresh clone) results/ can only be what the parity session wrote minutes
        # ago from this same code: the same report, so it is shown, not computed twice.
        for item in parity_report.iterdir():
            shutil.copy2(item, DOCS_REPORT / item.name)
        session.log("verification report: the parity session's, copied from results/")
    else:
        # Exit code 1 is a report with failed checks, which the page shows (nox -s parity
        # is the gate); a crash writes no REPORT.md.
        output = session.run(
            "sg-verify",
            "report",
            "--out",
            str(DOCS_REPORT),
            "--jobs",
            "auto",
            silent=True,
            success_codes=[0, 1],
        )
        if not (DOCS_REPORT / "REPORT.md").exists():
            session.error(f"sg-verify report wrote no REPORT.md:\n{output}")
        session.log(f"verification report written to {DOCS_REPORT.relative_to(ROOT)}/")
    # The operator list, made from the declarations (never written by hand).
    with open(DOCS / "operators" / "list.md", "w", encoding="utf-8") as out:
        session.run("sg-verify", "operators", "--markdown", stdout=out)
    # The examples of the pages run as doctests; the notebook runs during the build.
    session.run("pytest", "-p", "no:cacheprovider", "-q", "--doctest-glob=*.md", str(DOCS))
    session.run("mkdocs", "build", "--strict", *session.posargs, env={"NO_MKDOCS_2_WARNING": "1"})


@nox.session(python=ORACLE_PYTHON)
def bench_snapshot(session: nox.Session) -> None:
    """Rerun the benchmarks and keep what they print as the Performance page's snapshot."""
    _install_bench(session)
    commit = session.run("git", "rev-parse", "--short", "HEAD", external=True, silent=True)
    changed = session.run("git", "status", "--porcelain", external=True, silent=True)
    stamp = (
        f"Measured {time.strftime('%Y-%m-%d', time.gmtime())} at commit {str(commit).strip()}"
        f"{' with uncommitted changes' if str(changed).strip() else ''}"
        f" on {os.cpu_count()} CPU core(s), by nox -s bench_snapshot.\n\n"
    )
    BENCH_SNAPSHOT.mkdir(exist_ok=True)
    for name in ("scalar", "tensor", "cnn"):
        with open(BENCH_SNAPSHOT / f"bench_{name}.txt", "w", encoding="utf-8") as out:
            out.write(stamp)
            out.flush()
            session.run(
                *("python", f"benchmarks/bench_{name}.py", "--no-fail", *session.posargs),
                stdout=out,
                stderr=None,  # the progress lines stay on the console
            )


# ---------------------------------------------------------------------------------------
# Releases: build, check, and a round trip through a local package index (RELEASING.md)
# ---------------------------------------------------------------------------------------
DIST = ROOT / "dist"
BUILD_TOOLS = ["build>=1.2", "twine>=6"]
# What `pip install <target>` from a package index into an empty virtualenv must pull: the
# sibling layers and the direct third-party dependencies. What numpy, hypothesis and torch
# pull for themselves comes on top; anything else (or a missing layer) fails publish_local.
_LOWER = {"sg-scalar", "sg-tensor", "numpy"}
LAYERS = {
    "sg-scalar": {"sg-scalar"},
    "sg-tensor": _LOWER,
    "sg-nn": _LOWER | {"sg-nn"},
    "sg-optim": _LOWER | {"sg-optim"},
    "sg-verify": _LOWER | {"sg-nn", "sg-optim", "sg-verify", "hypothesis"},
    "sg-verify[torch]": _LOWER | {"sg-nn", "sg-optim", "sg-verify", "hypothesis", "torch"},
}
_built_in_this_run = False


@nox.session(python=False)
def ranges(session: nox.Session) -> None:
    """Release metadata, sibling ranges holding current versions, every sg import declared."""
    session.run(sys.executable, "tools/check_ranges.py", external=True)


@nox.session(python=ORACLE_PYTHON)
def build(session: nox.Session) -> None:
    """A wheel and an sdist of every package into dist/, checked, and twine check --strict."""
    session.install(*BUILD_TOOLS)
    _build(session)


def _build_requirements() -> list[str]:
    requirements = set()
    for package in PACKAGES:
        with open(PACKAGES_DIR / package / "pyproject.toml", "rb") as f:
            requirements.update(tomllib.load(f)["build-system"]["requires"])
    return sorted(requirements)


def _build(session: nox.Session) -> None:
    global _built_in_this_run
    session.run("python", "tools/check_ranges.py")
    # Every package's [build-system] requires, installed once here instead of in an isolated
    # environment per build (fifteen of those cost a minute); the release workflow isolates.
    session.install(*_build_requirements())
    shutil.rmtree(DIST, ignore_errors=True)
    from_tree = Path(session.create_tmp()) / "wheels-from-tree"
    shutil.rmtree(from_tree, ignore_errors=True)
    for package in PACKAGES:
        folder = str(PACKAGES_DIR / package)
        # The sdist first, then the wheel built from that sdist (build's default) ...
        session.run("python", "-m", "build", "-n", folder, "--outdir", str(DIST), silent=True)
        # ... and a wheel straight from the tree, which check_dists.py compares it with.
        session.run(
            "python", "-m", "build", "-nw", folder, "--outdir", str(from_tree), silent=True
        )
        session.log(f"built {package}")
    session.run("python", "tools/check_dists.py", str(DIST), str(from_tree))
    session.run("twine", "check", "--strict", *sorted(str(p) for p in DIST.iterdir()))
    _built_in_this_run = True


@nox.session(python=ORACLE_PYTHON)
def publish_local(session: nox.Session) -> None:
    """Upload every distribution to a local index and install each layer from it alone."""
    if unknown := set(PACKAGES) - set(LAYERS):
        session.error(f"LAYERS in noxfile.py does not say what {sorted(unknown)} must pull")
    session.install(*BUILD_TOOLS, "pypiserver>=2.1")
    if not _built_in_this_run:  # `nox -s build publish_local` builds once
        _build(session)
    tmp = Path(session.create_tmp()).resolve()
    uploads, venvs, wheelhouse = tmp / "index", tmp / "venvs", tmp / "wheelhouse"
    for folder in (uploads, venvs):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
    # The index has no fallback, so it also serves the third-party wheels the installs need,
    # downloaded here from pip's usual sources (kept between runs, like a cache).
    third_party = {
        requirement
        for package in PACKAGES
        for requirement in _metadata(package).get("dependencies", [])
        if _requirement_name(requirement) not in PACKAGES
    } | {*TEST_TOOLS, *PARALLEL_TOOLS, TORCH}
    session.run(
        *("python", "-m", "pip", "download", "--only-binary=:all:", "--dest", str(wheelhouse)),
        *sorted(third_party),
        silent=True,
    )
    pulled: dict[str, list[str]] = {}
    with _local_index(session, uploads, wheelhouse) as url:
        index = f"{url}/simple/"
        session.run(
            *("twine", "upload", "--non-interactive", "--disable-progress-bar"),
            *("--repository-url", f"{url}/", "--username", "local", "--password", "local"),
            *sorted(str(p) for p in DIST.iterdir()),
            env=_LOOPBACK_ENV,
        )
        for target, expected in LAYERS.items():
            pulled[target] = _install_from_index(session, index, venvs, target, expected)
            if "[" not in target:
                _test_installed(session, index, venvs / target, target)
        added = sorted(set(pulled["sg-verify[torch]"]) - set(pulled["sg-verify"]))
        session.log(f"the torch extra adds {added}")
        # the console script, with the PyTorch oracle, from the installed wheels
        session.run(str(venvs / "sg-verify-torch" / "bin" / "sg-verify"), "ops", external=True)
    session.log("what `pip install <package>` from the local index pulled, in an empty venv:")
    for target, freeze in pulled.items():
        print(f"  {target} ({len(freeze)}): {' '.join(freeze)}")


_LOOPBACK_ENV = {"NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
# pip reads no configuration file and no PIP_* variable: only the local index is used
_ISOLATED_PIP_ENV = {**_LOOPBACK_ENV, "PIP_CONFIG_FILE": os.devnull}


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _local_index(session: nox.Session, uploads: Path, *more: Path) -> Iterator[str]:
    """A pypiserver on a free loopback port, no fallback, uploads into ``uploads``; stopped
    on the way out, whatever happened inside."""
    port, log_path = _free_loopback_port(), uploads.parent / "pypiserver.log"
    command = [
        *(str(Path(session.bin) / "pypi-server"), "run", "--host", "127.0.0.1"),
        *("--port", str(port), "--disable-fallback", "--authenticate", ".", "--passwords", "."),
        *(str(folder) for folder in (uploads, *more)),
    ]
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "w") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            deadline = time.monotonic() + 30
            while True:
                if server.poll() is not None:
                    session.error(f"pypiserver exited:\n{log_path.read_text()}")
                try:
                    opener.open(f"{url}/simple/", timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        session.error(f"pypiserver did not answer at {url}")
                    time.sleep(0.2)
            session.log(f"local index up at {url}/simple/ (pypiserver pid {server.pid})")
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            session.log(f"local index stopped (pypiserver pid {server.pid})")


def _install_from_index(
    session: nox.Session, index: str, venvs: Path, target: str, expected: set[str]
) -> list[str]:
    """``pip install target`` from the index alone into a new, empty virtualenv (no pip,
    no setuptools: the session's pip installs into it); returns ``pip list --format=freeze``."""
    venv = venvs / re.sub(r"\W+", "-", target).strip("-")
    session.run("python", "-m", "venv", "--without-pip", str(venv), silent=True)
    python = str(venv / "bin" / "python")
    pip = ("python", "-m", "pip", "--isolated", "--python", python)
    session.run(
        *pip,
        *("install", "--no-cache-dir", "--only-binary=:all:", "--index-url", index, target),
        env=_ISOLATED_PIP_ENV,
        silent=True,
    )
    freeze = session.run(*pip, "list", "--format=freeze", env=_ISOLATED_PIP_ENV, silent=True)
    lines = sorted(str(freeze).split(), key=str.lower)
    session.log(f"pip install {target} pulled {len(lines)}: {' '.join(lines)}")
    session.run("python", "tools/installed_set.py", python, target, "--expect", *sorted(expected))
    return lines


def _test_installed(session: nox.Session, index: str, venv: Path, package: str) -> None:
    """The package's own tests, against the wheel installed in ``venv``."""
    python = str(venv / "bin" / "python")
    session.run(
        *("python", "-m", "pip", "--isolated", "--python", python, "install", "--no-cache-dir"),
        *("--only-binary=:all:", "--index-url", index, *_test_tools(package)),
        env=_ISOLATED_PIP_ENV,
        silent=True,
    )
    module = package.replace("-", "_")
    where = session.run(
        python, "-c", f"import {module}; print({module}.__file__)", external=True, silent=True
    )
    if not str(where).strip().startswith(str(venv)):
        session.error(f"{module} was imported from {where!r}, not from the installed wheel")
    session.run(
        str(venv / "bin" / "pytest"),
        str(PACKAGES_DIR / package / "tests"),
        *("-p", "no:cacheprovider", "-q", *_parallel_flags(package)),
        external=True,
    )
