"""The README's ingest section documents every input format, every mappable field, every column
name detected automatically and every column of the files ingest writes."""

from __future__ import annotations

import re

from pipeline.contract import TABLES
from pipeline.ingest import FIELDS, FORMATS
from pipeline.ingest.columns import CANDIDATES
from pipeline.ingest.outputs import MERGE_COLUMNS
from tests.conftest import ROOT


def _ingest_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- section: ingest -->(.*?)<!-- /section: ingest -->", text, re.S)
    assert match, "README has no ingest section"
    return match.group(1)


def test_readme_format_table_has_every_format_and_what_it_converts():
    """Every reader has a row in the format table, and the table has a `converted` column."""
    section = _ingest_section()
    header = next(line for line in section.splitlines() if line.startswith("| format"))
    assert "converted" in header
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    for fmt in FORMATS:
        assert any(f"`{fmt}`" in row.split("|")[1] for row in rows), fmt


def test_readme_lists_every_field_and_detected_column():
    """Every mappable field and every column name detected for it appears in the README."""
    section = _ingest_section()
    rows = {
        cells[1].strip(): cells[2]
        for line in section.splitlines()
        if line.startswith("| ") and len(cells := line.split("|")) > 3
    }
    for field in FIELDS:
        assert field in rows, field
        for column in CANDIDATES[field]:
            assert re.search(rf"(?<![\w.]){re.escape(column)}(?![\w.])", rows[field]), column


def test_readme_lists_every_output_column():
    """The outputs table names each column of rejections.parquet and merges.parquet."""
    section = _ingest_section()
    for column in [c.name for c in TABLES["rejections"]] + list(MERGE_COLUMNS):
        assert f"`{column}`" in section, column
