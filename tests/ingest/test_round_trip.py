"""Round trip through our own downloads: papers ingested from real-shaped exports, written by the
dashboard's BibTeX and CSV exports and ingested again, keep their title, authors, date and id."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard import exports
from pipeline.ingest import ingest, papers_frame

FX = Path(__file__).parent / "fixtures" / "fidelity"
SOURCES = [
    "pandas_lists.csv",
    "mendeley.bib",
    "accents.atom.xml",
    "feed.json",
    "oai_suffix.jsonl",
    "oai_array.json",
]

TRICKY_AUTHORS = (
    "Joseph M. Reagle Jr.",
    "Johannes D. van der Waals",
    "Neal J. Evans II",
    "sébastien forestier",
    "Jan Kollár",
    "C. -P. Yuan",
)


@pytest.fixture(scope="module")
def originals():
    """Papers with accents, math, suffixes, particles, arXiv/DOI/title ids and year dates (the
    shapes are checked, so the round trip cannot pass on papers that lack them)."""
    papers = ingest([FX / name for name in SOURCES]).papers
    authors = {name for paper in papers for name in paper.authors}
    assert set(TRICKY_AUTHORS) <= authors
    assert any("$\\rho_{ABC}$" in p.title for p in papers)
    assert {p.paper_id.split(":")[0] for p in papers} == {"arxiv", "title"}
    assert {p.date_precision for p in papers} == {"day", "year"}
    return papers


def _facts(papers) -> dict[str, tuple]:
    return {p.paper_id: (p.title, p.authors, p.published) for p in papers}


def test_bibtex_download_reads_back_the_same(originals, tmp_path):
    """Every paper in the BibTeX download reads back with the same title, authors (suffixes and
    particles in place), date (at its precision) and paper id."""
    path = tmp_path / "download.bib"
    path.write_text(exports.bibtex(papers_frame(originals)), encoding="utf-8")
    again = ingest([path]).papers
    assert _facts(again) == _facts(originals)
    assert {p.paper_id: p.date_precision for p in again} == {
        p.paper_id: p.date_precision for p in originals
    }


def test_csv_download_reads_back_the_same(originals, tmp_path):
    """Every paper in the CSV download (its list cells joined with '; ') reads back with the
    same title, authors, date and paper id."""
    frame = papers_frame(originals)[["paper_id", "title", "abstract", "published", "authors"]]
    path = tmp_path / "download.csv"
    path.write_bytes(exports.safe_csv(frame))
    again = ingest([path]).papers
    assert _facts(again) == _facts(originals)
