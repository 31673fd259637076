"""Check the wheels and sdists that ``nox -s build`` made, before anything is uploaded.

Usage: ``python tools/check_dists.py DIST_DIR TREE_WHEELS_DIR``. DIST_DIR holds, for every
package, the sdist and the wheel that ``python -m build`` built from that sdist;
TREE_WHEELS_DIR holds wheels built straight from the source folders. For each package it
checks that

- exactly its current version's sdist and wheel are in DIST_DIR, and nothing else is;
- the wheel built from the sdist equals, file for file and byte for byte, the wheel built
  from the source tree (so the sdist is complete enough to rebuild the release);
- the wheel holds every file of ``src/<module>`` (``py.typed`` included), no other module,
  no tests, and the license in its ``.dist-info``; its METADATA names the right version,
  license expression and sibling ranges;
- the sdist holds ``pyproject.toml``, README, CHANGELOG, LICENSE, the sources and the tests.
"""

from __future__ import annotations

import hashlib
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

from packaging.requirements import Requirement

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PACKAGES_DIR = ROOT / "packages"


def source_files(folder: Path) -> set[str]:
    """Files under ``folder`` as relative paths, without caches."""
    return {
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def wheel_digests(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as wheel:
        return {
            name: hashlib.sha256(wheel.read(name)).hexdigest()
            for name in wheel.namelist()
            if not name.endswith("/")
        }


def check_package(folder: Path, dist: Path, tree: Path) -> tuple[list[str], set[str], str]:
    with open(folder / "pyproject.toml", "rb") as f:
        pyproject = tomllib.load(f)
    project = pyproject["project"]
    name, version = project["name"], project["version"]
    module = Path(pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"][0]).name
    stem = f"{name.replace('-', '_')}-{version}"
    wheel_name, sdist_name = f"{stem}-py3-none-any.whl", f"{stem}.tar.gz"
    wheel, sdist, tree_wheel = dist / wheel_name, dist / sdist_name, tree / wheel_name
    problems = [f"{name}: {p} was not built" for p in (wheel, sdist, tree_wheel) if not p.exists()]
    if problems:
        return problems, {wheel_name, sdist_name}, ""

    digests = wheel_digests(wheel)
    from_tree = wheel_digests(tree_wheel)
    if digests != from_tree:
        differing = sorted(
            n for n in digests.keys() | from_tree.keys() if digests.get(n) != from_tree.get(n)
        )
        problems.append(
            f"{name}: the wheel built from the sdist differs from the wheel built from the "
            f"source tree in {differing}"
        )

    info = f"{stem}.dist-info"
    expected = {f"{module}/{rel}" for rel in source_files(folder / "src" / module)}
    payload = {n for n in digests if not n.startswith(info + "/")}
    if missing := sorted(expected - payload):
        problems.append(f"{name}: the wheel lacks {missing}")
    if extra := sorted(payload - expected):
        problems.append(f"{name}: the wheel holds files outside src/{module}: {extra}")
    if f"{module}/py.typed" not in payload:
        problems.append(f"{name}: the wheel has no py.typed")
    if f"{info}/licenses/LICENSE" not in digests:
        problems.append(f"{name}: the wheel has no {info}/licenses/LICENSE")

    with zipfile.ZipFile(wheel) as archive:
        metadata = Parser().parsestr(archive.read(f"{info}/METADATA").decode())
    if metadata["Version"] != version:
        problems.append(f"{name}: METADATA says version {metadata['Version']}, not {version}")
    if metadata["License-Expression"] != project["license"]:
        problems.append(f"{name}: METADATA has no License-Expression {project['license']}")
    requires = [Requirement(r) for r in metadata.get_all("Requires-Dist") or []]
    if missing_requirements := [
        r for r in project.get("dependencies", []) if Requirement(r) not in requires
    ]:
        problems.append(f"{name}: METADATA lacks Requires-Dist {missing_requirements}")

    with tarfile.open(sdist) as archive:
        members = {
            m.name.split("/", 1)[1] for m in archive.getmembers() if m.isfile() and "/" in m.name
        }
    wanted = {"pyproject.toml", "PKG-INFO", "README.md", "CHANGELOG.md", "LICENSE"}
    wanted |= {f"src/{module}/{rel}" for rel in source_files(folder / "src" / module)}
    wanted |= {f"tests/{rel}" for rel in source_files(folder / "tests")}
    if missing := sorted(wanted - members):
        problems.append(f"{name}: the sdist lacks {missing}")

    summary = (
        f"{name} {version}: {wheel_name} ({len(digests)} files, {wheel.stat().st_size} bytes) "
        f"= the wheel built from the tree; {sdist_name} ({len(members)} files, "
        f"{sdist.stat().st_size} bytes)"
    )
    return problems, {wheel_name, sdist_name}, summary


def main(dist: Path, tree: Path) -> int:
    folders = sorted(p for p in PACKAGES_DIR.iterdir() if (p / "pyproject.toml").is_file())
    problems: list[str] = []
    known: set[str] = set()
    for folder in folders:
        package_problems, files, summary = check_package(folder, dist, tree)
        problems += package_problems
        known |= files
        if not package_problems:
            print(summary)
    if stray := sorted(p.name for p in dist.iterdir() if p.name not in known):
        problems.append(f"{dist} holds files of no current package: {stray}")
    if problems:
        print(f"\n{len(problems)} problem(s) in the distributions:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(f"ok: {len(folders)} wheels and {len(folders)} sdists")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
