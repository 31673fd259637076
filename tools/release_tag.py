"""Resolve a release tag ``sg-<name>-v<version>`` to its package, and check it is releasable.

Usage: ``python tools/release_tag.py sg-tensor-v0.2.0`` (the release workflow passes the
pushed tag; run it yourself before pushing one). It fails unless

- the tag has the form ``sg-<name>-v<version>`` and ``packages/sg-<name>`` exists;
- ``<version>`` equals the static version in ``packages/sg-<name>/pyproject.toml``;
- ``packages/sg-<name>/CHANGELOG.md`` has the heading ``## [<version>]`` (Keep a
  Changelog: ``## [0.2.0] - 2026-01-31``).

It prints ``package=...``, ``version=...`` and ``path=...``; with ``GITHUB_OUTPUT`` set it
also appends them there for the later steps of the workflow.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
TAG = re.compile(r"^(?P<package>sg-[a-z][a-z0-9-]*?)-v(?P<version>\d+\.\d+\.\d+\S*)$")


def resolve(tag: str) -> dict[str, str]:
    match = TAG.match(tag)
    if match is None:
        raise SystemExit(f"tag {tag!r} is not of the form sg-<name>-v<version> (sg-nn-v0.2.0)")
    package, version = match["package"], match["version"]
    folder = ROOT / "packages" / package
    if not (folder / "pyproject.toml").is_file():
        raise SystemExit(f"tag {tag!r} names {package}, but packages/{package} does not exist")
    with open(folder / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    if project.get("version") != version:
        raise SystemExit(
            f"tag {tag!r} says version {version}, but packages/{package}/pyproject.toml "
            f"says {project.get('version')!r}: bump the version (or fix the tag) first"
        )
    changelog = (folder / "CHANGELOG.md").read_text(encoding="utf-8")
    heading = re.compile(rf"^## \[{re.escape(version)}\]", re.MULTILINE)
    if not heading.search(changelog):
        raise SystemExit(
            f"packages/{package}/CHANGELOG.md has no heading '## [{version}] - <date>': "
            "move the Unreleased entries under it before tagging"
        )
    return {"package": package, "version": version, "path": f"packages/{package}"}


def main() -> int:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    resolved = resolve(sys.argv[1])
    lines = [f"{key}={value}" for key, value in resolved.items()]
    print("\n".join(lines))
    if output := os.environ.get("GITHUB_OUTPUT"):
        with open(output, "a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
