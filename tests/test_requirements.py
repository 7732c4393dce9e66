"""Every library the product imports is named in requirements.txt, so a fresh `make test` (CI)
installs it: a package installed by hand into one venv must not pass here and fail there."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OWN = {"pipeline", "dashboard", "tests", "bench"}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _required() -> set[str]:
    names = set()
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            names.add(_normal(re.split(r"[\s<>=!~\[;]", line, maxsplit=1)[0]))
    return names


def _imported_modules() -> dict[str, str]:
    """Top-level module -> first file importing it, over the product's code (any depth)."""
    found: dict[str, str] = {}
    for folder in ("pipeline", "dashboard"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in OWN and top not in sys.stdlib_module_names:
                        found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def test_every_imported_library_is_in_requirements():
    required = _required()
    owners = packages_distributions()
    missing = []
    for module, where in sorted(_imported_modules().items()):
        distributions = {_normal(d) for d in owners.get(module, [module])}
        if not distributions & required:
            missing.append(f"{module} (imported in {where}; distribution {sorted(distributions)})")
    assert not missing, missing
