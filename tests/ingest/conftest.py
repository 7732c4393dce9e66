"""Shared setup of the ingest tests: the fixture folder, the bundled sample, one ingest of every
good fixture, and lookups of rejections, warnings and file summaries by file name."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.ingest import FileSummary, ingest
from tests.conftest import ROOT

FX = Path(__file__).parent / "fixtures"
SAMPLE = ROOT / "data" / "sample" / "papers_page_pretraining.txt"

# Every good fixture file, one per reader (the daily-papers folder holds two day files).
GOOD_INPUTS = [
    FX / "listing_page.txt",
    FX / "table.csv",
    FX / "table.tsv",
    FX / "records.json",
    FX / "records.jsonl",
    FX / "feed.atom.xml",
    FX / "broken_feed.xml",
    FX / "oai_snapshot.jsonl",
    FX / "refs.bib",
    FX / "hf_daily",
]


@pytest.fixture(scope="session")
def everything():
    """One ingest of every good fixture together (dedupe happens across all of them)."""
    return ingest(GOOD_INPUTS)


def rejected(result, name: str) -> dict[str, str]:
    """Location -> reason of the records of file `name` that were dropped."""
    return {
        r.source_location: r.reason
        for r in result.rejections
        if Path(r.source_file).name == name and r.severity == "rejected"
    }


def warnings(result, name: str) -> dict[str, str]:
    """Location -> reason of the warnings about file `name`."""
    return {
        r.source_location: r.reason
        for r in result.rejections
        if Path(r.source_file).name == name and r.severity == "warning"
    }


def file_summary(result, name: str) -> FileSummary:
    """The per-file summary of file `name`."""
    return next(f for f in result.files if Path(f.source_file).name == name)
