"""The README's review section documents every log column, review marker column, action and
status that pipeline.review defines."""

from __future__ import annotations

import re
from pathlib import Path

from pipeline import review

README = Path(__file__).resolve().parents[2] / "README.md"


def _section() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- section: review -->(.*)<!-- /section: review -->", text, re.S)
    assert match, "README lacks the review section"
    return match.group(1)


def test_readme_documents_log_and_review_columns():
    """Every log column and every added assignments/clusters column appears in the section."""
    section = _section()
    names = [*review.LOG_COLUMNS] + [c for cols in review.REVIEW_COLUMNS.values() for c in cols]
    missing = [n for n in names if f"`{n}`" not in section]
    assert not missing, missing


def test_readme_documents_actions_and_statuses():
    """Every decision action and cluster status is named in the section."""
    section = _section()
    missing = [n for n in (*review.ACTIONS, *review.STATUSES) if f"`{n}`" not in section]
    assert not missing, missing
