"""The review package's place in the architecture: it loads no heavy library, and the dashboard
imports from the pipeline only the contract, derive and the review package."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The dashboard's pipeline imports: the contract, derived tables, the review package and the
# theme model's numpy-only modules (triage queue); none of them imports torch, UMAP or BERTopic.
DASHBOARD_MAY_IMPORT = (
    "pipeline.contract",
    "pipeline.derive",
    "pipeline.review",
    "pipeline.themes",
)
# Loaded inside a function only, never at import (the pages' import test stays torch-free): the
# query model of search by meaning.
DASHBOARD_MAY_IMPORT_LATE = ("pipeline.embed",)


def test_review_package_imports_no_heavy_libraries():
    """pipeline.review loads no torch, umap, bertopic, streamlit or sentence-transformers."""
    code = (
        "import sys, pipeline.review; "
        "print([m for m in ('torch', 'umap', 'bertopic', 'streamlit', 'sentence_transformers') "
        "if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def _pipeline_imports(path: Path, late: bool = True) -> set[str]:
    """Every pipeline module a file imports (`from pipeline import x` names pipeline.x); with
    `late` False only those imported at module level (outside functions)."""
    found = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = ast.walk(tree)
    if not late:
        functions = (ast.FunctionDef, ast.AsyncFunctionDef)
        inner = {id(n) for f in ast.walk(tree) if isinstance(f, functions) for n in ast.walk(f)}
        nodes = (n for n in ast.walk(tree) if id(n) not in inner)
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "pipeline"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "pipeline":
                found |= {f"pipeline.{a.name}" for a in node.names}
            elif node.module.startswith("pipeline."):
                found.add(node.module)
    return found


def test_dashboard_imports_only_contract_derive_and_review():
    """No dashboard module imports a pipeline module other than contract, derive, review and the
    theme model, except the embedder inside a function."""
    files = sorted((ROOT / "dashboard").rglob("*.py"))
    assert len(files) > 5

    def allowed(module: str, names: tuple[str, ...]) -> bool:
        return any(module == ok or module.startswith(ok + ".") for ok in names)

    wrong = {
        f"{path.relative_to(ROOT)}: {module}"
        for path in files
        for module in _pipeline_imports(path)
        if not allowed(module, DASHBOARD_MAY_IMPORT + DASHBOARD_MAY_IMPORT_LATE)
    }
    early = {
        f"{path.relative_to(ROOT)}: {module} at import"
        for path in files
        for module in _pipeline_imports(path, late=False)
        if not allowed(module, DASHBOARD_MAY_IMPORT)
    }
    assert not wrong | early, sorted(wrong | early)
