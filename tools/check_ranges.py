"""Check the packages' release metadata, sibling ranges and sibling imports.

Run it from anywhere: ``python tools/check_ranges.py`` (``nox -s ranges`` does). It needs
only the standard library and ``packaging`` (and ``tomli`` on Python 3.10). It fails, with
one line per problem, when

- a package's ``pyproject.toml`` lacks a field a release needs (static version, readme,
  license and license files, classifiers, keywords, Source and Changelog URLs, ...), or
  its folder lacks ``README.md``, ``CHANGELOG.md``, ``LICENSE`` or ``py.typed``;
- a dependency on a sibling is not a bounded range ``>=X.Y,<X.Z`` or does not contain
  that sibling's current version;
- a package's sources or tests import another sg package (``import sg_*``) that it does
  not declare as a dependency.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PACKAGES_DIR = ROOT / "packages"
REQUIRED_FIELDS = (
    "name",
    "version",
    "description",
    "readme",
    "license",
    "license-files",
    "requires-python",
    "classifiers",
    "keywords",
    "urls",
)
REQUIRED_FILES = ("README.md", "CHANGELOG.md", "LICENSE")
IMPORT_CALLS = {"import_module", "importorskip", "__import__"}


def load(folder: Path) -> dict:  # type: ignore[type-arg]
    with open(folder / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def module_of(pyproject: dict) -> str:  # type: ignore[type-arg]
    """The import name a package's wheel ships (``src/sg_nn`` -> ``sg_nn``)."""
    wheel = pyproject.get("tool", {}).get("hatch", {}).get("build", {}).get("targets", {})
    paths = wheel.get("wheel", {}).get("packages", [])
    if len(paths) == 1:
        return str(Path(paths[0]).name)
    return str(pyproject["project"]["name"]).replace("-", "_")


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """(line, top-level module) for every absolute import in a Python file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if (
                name in IMPORT_CALLS
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
            ):
                yield node.lineno, first.value.split(".")[0]


def check_metadata(folder: Path, project: dict, module: str) -> list[str]:  # type: ignore[type-arg]
    where = f"packages/{folder.name}/pyproject.toml"
    problems = [
        f"{where}: [project] has no `{key}`" for key in REQUIRED_FIELDS if key not in project
    ]
    if "version" in project.get("dynamic", []):
        problems.append(f"{where}: the version must be static, not dynamic")
    urls = {key.lower() for key in project.get("urls", {})}
    problems += [
        f"{where}: [project.urls] has no `{key}`"
        for key in ("source", "changelog")
        if key not in urls
    ]
    if project.get("name") != folder.name:
        problems.append(f"{where}: name {project.get('name')!r} differs from its folder's name")
    problems += [
        f"packages/{folder.name}: missing {name}"
        for name in REQUIRED_FILES
        if not (folder / name).is_file()
    ]
    if not (folder / "src" / module / "py.typed").is_file():
        problems.append(f"packages/{folder.name}: missing src/{module}/py.typed")
    changelog = folder / "CHANGELOG.md"
    if changelog.is_file() and "keepachangelog.com" not in changelog.read_text("utf-8"):
        problems.append(f"packages/{folder.name}/CHANGELOG.md: not in Keep a Changelog format")
    return problems


def check_ranges(
    folder: Path,
    project: dict,  # type: ignore[type-arg]
    versions: dict[str, Version],
) -> tuple[list[str], set[str]]:
    """Problems with the sibling ranges, and the siblings declared."""
    where = f"packages/{folder.name}/pyproject.toml"
    problems, declared = [], set()
    for text in project.get("dependencies", []):
        requirement = Requirement(text)
        name = requirement.name.lower()
        if not name.startswith("sg-"):
            continue
        if name not in versions:
            problems.append(f"{where}: depends on {text!r}, but no packages/{name} exists")
            continue
        declared.add(name)
        current = versions[name]
        operators = {spec.operator for spec in requirement.specifier}
        if not {">=", "<"} <= operators:
            problems.append(
                f"{where}: {text!r} is not a bounded range; "
                f"write it as {name}>={current.major}.{current.minor},<... "
                f"(a lower bound with >= and an upper bound with <)"
            )
        if not requirement.specifier.contains(current, prereleases=True):
            problems.append(
                f"{where}: the range {text!r} does not contain {name}'s current version "
                f"{current} (packages/{name}/pyproject.toml); a user installing "
                f"{folder.name} with the {name} of this repository gets a resolution error"
            )
    return problems, declared


def check_imports(
    folder: Path,
    module: str,
    declared: set[str],
    modules: dict[str, str],
) -> list[str]:
    problems = []
    files = sorted((folder / "src").rglob("*.py")) + sorted((folder / "tests").rglob("*.py"))
    for path in files:
        for line, name in imported_modules(path):
            if not name.startswith("sg_") or name == module:
                continue
            where = f"{path.relative_to(ROOT)}:{line}"
            owner = modules.get(name)
            if owner is None:
                problems.append(f"{where}: imports {name}, which no package here provides")
            elif owner not in declared:
                problems.append(
                    f"{where}: imports {name} but {folder.name} does not declare {owner} "
                    f"in its dependencies (packages/{folder.name}/pyproject.toml)"
                )
    return problems


def main() -> int:
    folders = sorted(p for p in PACKAGES_DIR.iterdir() if (p / "pyproject.toml").is_file())
    pyprojects = {folder.name: load(folder) for folder in folders}
    versions = {name: Version(str(p["project"]["version"])) for name, p in pyprojects.items()}
    modules = {module_of(p): name for name, p in pyprojects.items()}
    problems: list[str] = []
    for folder in folders:
        pyproject = pyprojects[folder.name]
        project, module = pyproject["project"], module_of(pyproject)
        problems += check_metadata(folder, project, module)
        range_problems, declared = check_ranges(folder, project, versions)
        problems += range_problems + check_imports(folder, module, declared, modules)
        siblings = ", ".join(
            r for r in project.get("dependencies", []) if Requirement(r).name.startswith("sg-")
        )
        print(f"{folder.name} {versions[folder.name]}: siblings [{siblings or 'none'}]")
    if problems:
        print(f"\n{len(problems)} problem(s):", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(
        f"ok: {len(folders)} packages; every sibling range contains the sibling's current "
        "version and every sg import is declared"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
